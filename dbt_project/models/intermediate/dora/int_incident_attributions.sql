-- Which production deployment caused each incident. An explicit link wins, in this order: the causing
-- deployment named by the source, the first successful production deployment that shipped the named
-- root-cause commit, the first successful production deployment of the pull request of a Jira issue
-- the incident is linked to as "caused by". Otherwise the latest successful production deployment of
-- the same service that finished within `incident_attribution_window_hours` before the incident started.
-- An incident matching none stays, unattributed: it is not pinned on whatever deployed last.

with successes as (
    select *
    from {{ ref('int_deployments_unioned') }}
    where is_production and status = 'success'
),

deployment_aliases as (
    -- a deployment is named by its own id or by the id another source reported it under
    select deployment_key, source_instance as alias_source_instance, deployment_id as alias_deployment_id
    from {{ ref('int_deployments_unioned') }}
    where is_production
    union all
    select deployment_key, split_part(duplicate_key, ':', 1), substr(duplicate_key, strpos(duplicate_key, ':') + 1)
    from (
        select deployment_key, unnest(duplicate_keys) as duplicate_key
        from {{ ref('int_deployments_unioned') }}
        where is_production
    ) as duplicates
),

incidents as (
    select * from {{ ref('int_incidents_unioned') }}
),

explicit_deployment as (
    select distinct on (incidents.incident_key)
        incidents.incident_key,
        aliases.deployment_key
    from incidents
    inner join deployment_aliases as aliases
        on aliases.alias_deployment_id = incidents.caused_by_deployment_id
        and (incidents.caused_by_source_instance is null
            or aliases.alias_source_instance = incidents.caused_by_source_instance)
    order by incidents.incident_key, aliases.deployment_key
),

shipped_commits as (
    select changes.deployment_key, changes.commit_sha, changes.pull_request_key, successes.service,
        successes.finished_at
    from {{ ref('int_deployment_changes') }} as changes
    inner join successes on successes.deployment_key = changes.deployment_key
    union all
    -- the deployed commit itself, for deployments without compare data
    select deployment_key, lower(sha), null, service, finished_at
    from successes
    where sha is not null
),

root_cause_commit as (
    select distinct on (incidents.incident_key)
        incidents.incident_key,
        shipped.deployment_key
    from incidents
    inner join shipped_commits as shipped
        on length(incidents.root_cause_sha) >= 7
        and starts_with(shipped.commit_sha, incidents.root_cause_sha)
        and (incidents.service is null or shipped.service = incidents.service)
    order by incidents.incident_key, shipped.finished_at, shipped.deployment_key
),

linked_issue as (
    select distinct on (incidents.incident_key)
        incidents.incident_key,
        shipped.deployment_key
    from incidents
    inner join {{ ref('stg_github__pull_requests') }} as pull_requests
        on {{ regex_matches(
            "concat_ws(' ', pull_requests.title, pull_requests.head_ref)",
            "'(^|[^A-Za-z0-9])' || incidents.caused_by_issue_key || '([^0-9]|$)'"
        ) }}
    inner join shipped_commits as shipped
        on shipped.pull_request_key = pull_requests.source_instance || ':' || pull_requests.pull_request_id
    where incidents.caused_by_issue_key is not null
    order by incidents.incident_key, shipped.finished_at, shipped.deployment_key
),

in_window as (
    select distinct on (incidents.incident_key)
        incidents.incident_key,
        successes.deployment_key
    from incidents
    inner join successes
        on successes.service = incidents.service
        and successes.finished_at <= incidents.started_at
        and successes.finished_at
            >= {{ add_interval('incidents.started_at', '-' ~ dora_setting('incident_attribution_window_hours'), 'hour') }}
    order by incidents.incident_key, successes.finished_at desc, successes.deployment_key desc
)

select
    incidents.incident_key,
    coalesce(
        explicit_deployment.deployment_key,
        root_cause_commit.deployment_key,
        linked_issue.deployment_key,
        in_window.deployment_key
    ) as caused_by_deployment_key,
    case
        when explicit_deployment.deployment_key is not null then 'explicit_deployment'
        when root_cause_commit.deployment_key is not null then 'root_cause_commit'
        when linked_issue.deployment_key is not null then 'linked_issue'
        when in_window.deployment_key is not null then 'window'
        else 'unattributed'
    end as attribution
from incidents
left join explicit_deployment on explicit_deployment.incident_key = incidents.incident_key
left join root_cause_commit on root_cause_commit.incident_key = incidents.incident_key
left join linked_issue on linked_issue.incident_key = incidents.incident_key
left join in_window on in_window.incident_key = incidents.incident_key
