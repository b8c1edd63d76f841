-- GitHub Deployments in the shape of int_deployments_unioned, with the source's deployment rules applied
-- (macros/deployment_rules.sql): production environments, service per repository, rollback/hotfix names.

with keyed_statuses as (
    select
        source_instance,
        deployment_id,
        state,
        created_at,
        {{ ordering_key([
            ('created_at', 'created_at'),
            ('status_number', try_cast('deployment_status_id', 'bigint')),
        ]) }} as struct_key,
        row_number() over (
            partition by source_instance, deployment_id, state in ('success', 'failure', 'error')
            order by created_at, {{ try_cast('deployment_status_id', 'bigint') }}, deployment_status_id
        ) as number_in_kind
    from {{ ref('stg_github__deployment_statuses') }}
),

first_terminal as (
    -- The first success, failure or error decides the outcome and the finish. Statuses GitHub keeps adding
    -- after it (a long-lived deployment re-marked `success` by every later run for years, a re-run's
    -- `error`) do not move it: the deployment happened when it first ended.
    select source_instance, deployment_id, state, created_at
    from keyed_statuses
    where state in ('success', 'failure', 'error') and number_in_kind = 1
),

statuses as (
    select
        keyed_statuses.source_instance,
        keyed_statuses.deployment_id,
        first_terminal.state as terminal_state,
        first_terminal.created_at as terminal_at,
        -- no terminal status yet: the latest one tells how far it got. `inactive` is not an outcome: GitHub
        -- sets it on an older deployment when a newer one to the same environment succeeds.
        {{ arg_max_where('keyed_statuses.state', 'keyed_statuses.struct_key', "keyed_statuses.state <> 'inactive'") }}
            as latest_state,
        -- an `in_progress` reported after the finish belongs to a later re-run, not to this start
        min(keyed_statuses.created_at) filter (
            where keyed_statuses.state = 'in_progress'
                and (first_terminal.created_at is null or keyed_statuses.created_at <= first_terminal.created_at)
        ) as first_in_progress_at
    from keyed_statuses
    left join first_terminal
        on first_terminal.source_instance = keyed_statuses.source_instance
        and first_terminal.deployment_id = keyed_statuses.deployment_id
    group by keyed_statuses.source_instance, keyed_statuses.deployment_id, first_terminal.state, first_terminal.created_at
)

select
    'github' as source,
    deployments.source_instance,
    deployments.deployment_id,
    {{ service_for_scope('deployments.source_instance', 'deployments.repo') }} as service,
    deployments.repo,
    deployments.environment,
    {{ is_production_for_source('deployments.environment') }} as is_production,
    case
        when statuses.terminal_state = 'success' then 'success'
        when statuses.terminal_state in ('failure', 'error') then 'failure'
        when statuses.latest_state in ('in_progress', 'queued', 'pending') then 'in_progress'
        else 'unknown'
    end as status,
    coalesce(statuses.terminal_state, statuses.latest_state) as source_status,
    deployments.sha,
    deployments.ref,
    coalesce(deployments.description, deployments.task) as name,
    null::varchar as url,
    {{ rollback_and_hotfix_flags("concat_ws(' ', deployments.description, deployments.ref, deployments.task)") }},
    deployments.created_at,
    coalesce(statuses.first_in_progress_at, deployments.created_at) as started_at,
    statuses.terminal_at as finished_at
from {{ ref('stg_github__deployments') }} as deployments
left join statuses
    on statuses.source_instance = deployments.source_instance
    and statuses.deployment_id = deployments.deployment_id
{{ join_deployment_rules('deployments.source_instance') }}
