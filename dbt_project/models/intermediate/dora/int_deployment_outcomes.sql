-- Every production deployment with what happened around it: the previous successful deployment of the
-- same service and environment, whether it is a rollback or hotfix, whether it failed in production
-- (change failure), when it was recovered, and whether it is unplanned rework.

{%- set rework_kinds = dora_setting('rework_deployment_kinds') -%}
{%- if rework_kinds is string -%}{%- set rework_kinds = [rework_kinds] -%}{%- endif -%}
{%- for kind in rework_kinds if kind not in ['rollback', 'hotfix', 'during_incident'] -%}
    {{ exceptions.raise_compiler_error(
        "var rework_deployment_kinds: '" ~ kind ~ "' is not one of rollback, hotfix, during_incident") }}
{%- endfor -%}
{%- set remediation_window_hours = dora_setting('remediation_window_hours') %}

with production as (
    select
        *,
        lower(environment) as environment_key,
        coalesce(started_at, created_at) as ordered_at
    from {{ ref('int_deployments_unioned') }}
    where is_production
),

sequenced as (
    select
        production.*,
        {{ dora_latest_key(
            "status = 'success'", 'ordered_at', 'deployment_key',
            'partition by service, environment_key order by ordered_at, deployment_key
            rows between unbounded preceding and 1 preceding'
        ) }} as previous_success_key,
        lead(deployment_key) over (
            partition by service, environment_key order by ordered_at, deployment_key
        ) as next_key,
        min(case when status = 'success' then finished_at end) over (
            partition by service, environment_key
            order by ordered_at, deployment_key
            rows between 1 following and unbounded following
        ) as next_success_finished_at
    from production
),

flagged as (
    select
        sequenced.*,
        previous.sha as previous_success_sha,
        -- putting back a sha that succeeded here before, other than the one running just before, puts an
        -- older version back: a rollback whatever it is called (is_any_rollback; the source's own flag is
        -- sequenced.is_rollback)
        sequenced.is_rollback
            or (
                sequenced.sha is distinct from previous.sha
                and exists (
                    select 1
                    from sequenced as earlier
                    where earlier.service = sequenced.service
                        and earlier.environment_key = sequenced.environment_key
                        and earlier.sha = sequenced.sha
                        and earlier.status = 'success'
                        -- ordered_at is never NULL (created_at is not)
                        and (earlier.ordered_at < sequenced.ordered_at
                            or (earlier.ordered_at = sequenced.ordered_at
                                and earlier.deployment_key < sequenced.deployment_key))
                )
            ) as is_any_rollback
    from sequenced
    left join sequenced as previous on previous.deployment_key = sequenced.previous_success_key
),

incident_counts as (
    select
        attributions.caused_by_deployment_key as deployment_key,
        count(*) as incident_count,
        min(incidents.started_at) as first_incident_at,
        -- restored when the last of its incidents was resolved; NULL while one is open
        case when count(*) = count(incidents.resolved_at) then max(incidents.resolved_at) end as incidents_resolved_at
    from {{ ref('int_incident_attributions') }} as attributions
    inner join {{ ref('int_incidents_unioned') }} as incidents
        on incidents.incident_key = attributions.incident_key
    where attributions.caused_by_deployment_key is not null
    group by attributions.caused_by_deployment_key
),

change_counts as (
    select
        deployment_key,
        count(*) as change_count,
        count(distinct pull_request_key) as pull_request_count
    from {{ ref('int_deployment_changes') }}
    group by deployment_key
),

with_next as (
    select
        flagged.*,
        next_deployment.deployment_key as remediated_by_key,
        next_deployment.finished_at as remediated_at,
        next_deployment.status as remediation_status
    from flagged
    left join flagged as next_deployment
        on next_deployment.deployment_key = flagged.next_key
        -- the deployment right after this one is a rollback or a hotfix, started soon after it finished:
        -- it was repaired, so this one failed in production even if nobody filed an incident
        and (next_deployment.is_any_rollback or next_deployment.is_hotfix)
        and flagged.status = 'success'
        -- a rollback put a known-good version back; the fix-forward after it repairs what came before
        and not flagged.is_any_rollback
        and next_deployment.ordered_at <= {{ add_interval('flagged.finished_at', remediation_window_hours, 'hour') }}
),

recoveries as (
    select
        with_next.*,
        coalesce(incident_counts.incident_count, 0) as incident_count,
        incident_counts.first_incident_at,
        incident_counts.incidents_resolved_at,
        coalesce(change_counts.change_count, 0) as change_count,
        coalesce(change_counts.pull_request_count, 0) as pull_request_count,
        -- deployed while an incident of the service was open: most likely made to end it
        exists (
            select 1
            from {{ ref('int_incidents_unioned') }} as incidents
            where incidents.service = with_next.service
                and incidents.started_at <= with_next.ordered_at
                and (incidents.resolved_at is null or incidents.resolved_at >= with_next.ordered_at)
        ) as is_during_incident
    from with_next
    left join incident_counts on incident_counts.deployment_key = with_next.deployment_key
    left join change_counts on change_counts.deployment_key = with_next.deployment_key
)

select
    deployment_key,
    source,
    source_instance,
    deployment_id,
    service,
    repo,
    environment,
    status,
    source_status,
    sha,
    ref,
    name,
    url,
    is_any_rollback as is_rollback,
    is_hotfix,
    created_at,
    started_at,
    finished_at,
    {{ hours_between('started_at', 'finished_at') }} as duration_hours,
    duplicate_keys,
    previous_success_key,
    change_count,
    pull_request_count,
    incident_count,
    remediated_by_key is not null as is_followed_by_remediation,
    remediated_by_key,
    status in ('success', 'failure') as is_attempt,
    status in ('success', 'failure')
        and (status = 'failure' or incident_count > 0 or remediated_by_key is not null) as is_change_failure,
    {%- set kinds = [] -%}
    {%- if 'rollback' in rework_kinds %}{% do kinds.append('is_any_rollback') %}{% endif -%}
    {%- if 'hotfix' in rework_kinds %}{% do kinds.append('is_hotfix') %}{% endif -%}
    {%- if 'during_incident' in rework_kinds %}{% do kinds.append('is_during_incident') %}{% endif %}
    is_during_incident,
    status in ('success', 'failure') and ({{ kinds | join(' or ') if kinds else 'false' }}) as is_rework,
    -- A change failure starts when it is first seen: the failed outcome, its first incident or, for a
    -- deployment repaired by the next one, when that repair started.
    case
        when status = 'failure' then least(finished_at, first_incident_at)
        when incident_count > 0 then first_incident_at
        when remediated_by_key is not null then finished_at
    end as failure_started_at,
    -- ...and ends when service is restored: its incidents resolved, else the next successful deployment
    -- of the service and environment (a failed deployment), else the repairing deployment finished.
    case
        when incident_count > 0 then incidents_resolved_at
        when status = 'failure' then next_success_finished_at
        when remediated_by_key is not null and remediation_status = 'success' then remediated_at
    end as recovered_at
from recoveries
