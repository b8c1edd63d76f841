-- Which production deployment caused each incident. An explicit link wins, in this order: the causing
-- deployment named by the source, the first successful production deployment that shipped the named
-- root-cause commit, the first successful production deployment of the pull request of a Jira issue
-- the incident is linked to as "caused by", a deployment the incident's text names (a sha of 7+ hex
-- characters, "deployment <id>" or the deployment's URL). Otherwise the latest forward production
-- deployment of the same service that finished within `incident_attribution_window_hours` before the
-- incident started. A deployment that put a known version back (a rollback, a roll-forward) remediates,
-- so it is never inferred as a cause. An incident matching none stays, unattributed: it is not pinned on
-- whatever deployed last.

with production as (
    -- int_deployment_versions holds the production deployments only
    select deployments.*, versions.ordered_at, versions.is_forward_attempt
    from {{ ref('int_deployments_unioned') }} as deployments
    inner join {{ ref('int_deployment_versions') }} as versions on versions.deployment_key = deployments.deployment_key
),

successes as (
    select * from production where status = 'success'
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
    where sha is not null and is_forward_attempt
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

referenced as (
    -- what the incident's text names: shas (7+ hex characters), "deployment <id>", deployment URLs
    select incident_key, 'sha' as kind, lower(token) as token
    from (
        select incident_key, {{ regex_extract_all_rows('reference_text', "'\\b[0-9A-Fa-f]{7,40}\\b'") }} as token
        from incidents
        where reference_text is not null
    ) as shas
    union
    select incident_key, 'id', token
    from (
        select
            incident_key,
            {{ regex_extract_all_rows(
                'reference_text', "'(?i)\\bdeploy(?:ment)?s?(?:\\s*[:#]\\s*|\\s+)([A-Za-z0-9]+(?:[._:-][A-Za-z0-9]+)*)'", 1
            ) }} as token
        from incidents
        where reference_text is not null
    ) as ids
),

reference_candidates as (
    select referenced.incident_key, production.deployment_key, referenced.token as reference
    from referenced
    inner join production
        on referenced.kind = 'sha'
        and starts_with(lower(production.sha), referenced.token)
    union
    select referenced.incident_key, aliases.deployment_key, referenced.token
    from referenced
    inner join deployment_aliases as aliases
        on referenced.kind = 'id'
        and aliases.alias_deployment_id = referenced.token
    union
    select incidents.incident_key, production.deployment_key, production.url
    from incidents
    inner join production
        on production.url is not null
        and {{ contains_text('incidents.reference_text', 'production.url') }}
),

text_reference as (
    -- the named deployment of the incident's service (any service when none is), new work that had
    -- started by the time the incident did; of several, the latest
    select distinct on (incidents.incident_key)
        incidents.incident_key,
        production.deployment_key,
        candidates.reference
    from incidents
    inner join reference_candidates as candidates on candidates.incident_key = incidents.incident_key
    inner join production on production.deployment_key = candidates.deployment_key
    where production.is_forward_attempt
        and production.ordered_at <= incidents.started_at
    order by
        incidents.incident_key,
        (production.service = incidents.service) desc nulls last,
        production.ordered_at desc,
        production.deployment_key desc
),

in_window as (
    -- new work of the service that ended (in success or failure) shortly before the incident started; a
    -- rollback or roll-forward finishing then was already repairing something
    select distinct on (incidents.incident_key)
        incidents.incident_key,
        production.deployment_key
    from incidents
    inner join production
        on production.service = incidents.service
        and production.is_forward_attempt
        and production.finished_at <= incidents.started_at
        and production.finished_at
            >= {{ add_interval('incidents.started_at', '-' ~ dora_setting('incident_attribution_window_hours'), 'hour') }}
    order by incidents.incident_key, production.finished_at desc, production.deployment_key desc
)

select
    incidents.incident_key,
    coalesce(
        explicit_deployment.deployment_key,
        root_cause_commit.deployment_key,
        linked_issue.deployment_key,
        text_reference.deployment_key,
        in_window.deployment_key
    ) as caused_by_deployment_key,
    case
        when explicit_deployment.deployment_key is not null then 'explicit_deployment'
        when root_cause_commit.deployment_key is not null then 'root_cause_commit'
        when linked_issue.deployment_key is not null then 'linked_issue'
        when text_reference.deployment_key is not null then 'reference'
        when in_window.deployment_key is not null then 'window'
        else 'unattributed'
    end as attribution,
    case
        when explicit_deployment.deployment_key is not null then null
        when root_cause_commit.deployment_key is not null then null
        when linked_issue.deployment_key is not null then null
        else text_reference.reference
    end as matched_reference
from incidents
left join explicit_deployment on explicit_deployment.incident_key = incidents.incident_key
left join root_cause_commit on root_cause_commit.incident_key = incidents.incident_key
left join linked_issue on linked_issue.incident_key = incidents.incident_key
left join text_reference on text_reference.incident_key = incidents.incident_key
left join in_window on in_window.incident_key = incidents.incident_key
