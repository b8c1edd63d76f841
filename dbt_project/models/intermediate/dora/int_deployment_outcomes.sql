-- Every production deployment with what happened around it, in its chain (int_deployment_chains: one
-- source instance, repository and environment, in order): the previous successful deployment; rollback or
-- roll-forward (int_deployment_versions); whether it failed in production (change failure), when it was
-- recovered, and whether it is rework, an unplanned deployment made because of an incident in production.

{%- set rework_kinds = dora_setting('rework_deployment_kinds') -%}
{%- if rework_kinds is string -%}{%- set rework_kinds = [rework_kinds] -%}{%- endif -%}
{%- for kind in rework_kinds if kind not in ['rollback', 'hotfix', 'during_incident'] -%}
    {{ exceptions.raise_compiler_error(
        "var rework_deployment_kinds: '" ~ kind ~ "' is not one of rollback, hotfix, during_incident") }}
{%- endfor -%}
{%- set remediation_window_hours = dora_setting('remediation_window_hours') %}

with production as (
    select
        deployments.*,
        versions.ordered_at,
        versions.chain_key,
        versions.chain_position,
        versions.previous_success_key,
        versions.is_rollback as is_any_rollback,
        versions.is_roll_forward,
        versions.is_forward_attempt
    -- int_deployment_versions holds the production deployments only
    from {{ ref('int_deployments_unioned') }} as deployments
    inner join {{ ref('int_deployment_versions') }} as versions
        on versions.deployment_key = deployments.deployment_key
),

sequenced as (
    select
        production.*,
        lead(deployment_key) over (partition by chain_key order by chain_position) as next_key,
        max(case when is_forward_attempt then chain_position end) over (
            partition by chain_key order by chain_position rows between unbounded preceding and 1 preceding
        ) as previous_forward_position
    from production
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
        sequenced.*,
        next_deployment.deployment_key as remediated_by_key,
        next_deployment.finished_at as remediated_at,
        next_deployment.status as remediation_status
    from sequenced
    left join sequenced as next_deployment
        on next_deployment.deployment_key = sequenced.next_key
        -- the deployment right after this one is a rollback or a hotfix, started soon after it finished:
        -- it was repaired, so this one failed in production even if nobody filed an incident
        and (next_deployment.is_any_rollback or next_deployment.is_hotfix)
        and sequenced.status = 'success'
        -- a rollback put a known-good version back; the fix-forward after it repairs what came before
        and not sequenced.is_any_rollback
        -- a repair starts after the failure it repairs: one already running when this one finished was not
        -- made because of it
        and next_deployment.ordered_at >= sequenced.finished_at
        and next_deployment.ordered_at <= {{ add_interval('sequenced.finished_at', remediation_window_hours, 'hour') }}
),

next_successes as (
    -- a failed deployment is recovered by the first success of its chain that started after it failed
    select
        failed.deployment_key,
        min(later.finished_at) as next_success_finished_at
    from sequenced as failed
    inner join sequenced as later
        on later.chain_key = failed.chain_key
        and later.chain_position > failed.chain_position
        and later.status = 'success'
        and later.ordered_at >= failed.finished_at
    where failed.status = 'failure'
    group by failed.deployment_key
),

recoveries as (
    select
        with_next.*,
        coalesce(incident_counts.incident_count, 0) as incident_count,
        incident_counts.first_incident_at,
        incident_counts.incidents_resolved_at,
        next_successes.next_success_finished_at,
        coalesce(change_counts.change_count, 0) as change_count,
        coalesce(change_counts.pull_request_count, 0) as pull_request_count,
        -- deployed while an incident of the service was open
        exists (
            select 1
            from {{ ref('int_incidents_unioned') }} as incidents
            where incidents.service = with_next.service
                and incidents.started_at <= with_next.ordered_at
                and (incidents.resolved_at is null or incidents.resolved_at >= with_next.ordered_at)
        ) as is_during_incident,
        -- the new work it followed (rollbacks and roll-forwards skipped) caused an incident: a rollback or
        -- hotfix after it is made because of that incident, even one made before the incident was filed
        coalesce(previous_forward_incidents.incident_count, 0) > 0 as follows_incident_cause
    from with_next
    left join incident_counts on incident_counts.deployment_key = with_next.deployment_key
    left join change_counts on change_counts.deployment_key = with_next.deployment_key
    left join next_successes on next_successes.deployment_key = with_next.deployment_key
    left join production as previous_forward
        on previous_forward.chain_key = with_next.chain_key
        and previous_forward.chain_position = with_next.previous_forward_position
    left join incident_counts as previous_forward_incidents
        on previous_forward_incidents.deployment_key = previous_forward.deployment_key
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
    is_roll_forward,
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
    is_during_incident,
    is_during_incident or follows_incident_cause as is_incident_response,
    {%- set kinds = [] -%}
    {%- if 'rollback' in rework_kinds %}{% do kinds.append('(is_any_rollback and (is_during_incident or follows_incident_cause))') %}{% endif -%}
    {%- if 'hotfix' in rework_kinds %}{% do kinds.append('(is_hotfix and (is_during_incident or follows_incident_cause))') %}{% endif -%}
    {%- if 'during_incident' in rework_kinds %}{% do kinds.append('is_during_incident') %}{% endif %}
    -- unplanned (a kind of rework_deployment_kinds) and made because of an incident in production
    status in ('success', 'failure') and ({{ kinds | join(' or ') if kinds else 'false' }}) as is_rework,
    -- A change failure starts when it is first seen: the failed outcome, its first incident or, for a
    -- deployment repaired by the next one, when it finished.
    case
        when status = 'failure' then least(finished_at, first_incident_at)
        when incident_count > 0 then first_incident_at
        when remediated_by_key is not null then finished_at
    end as failure_started_at,
    -- ...and ends when service is restored: its incidents resolved, else the first success of its chain that
    -- started after it failed (a failed deployment), else the repairing deployment finished. Every repair
    -- starts after the failure, so recovery is never negative.
    case
        when incident_count > 0 then incidents_resolved_at
        when status = 'failure' then next_success_finished_at
        when remediated_by_key is not null and remediation_status = 'success' then remediated_at
    end as recovered_at
from recoveries
