-- GitHub Deployments in the shape of int_deployments_unioned, with the source's deployment rules applied
-- (macros/deployment_rules.sql): production environments, service per repository, rollback/hotfix names.

with statuses as (
    select
        source_instance,
        deployment_id,
        -- `inactive` is not an outcome: GitHub sets it on an older deployment when a newer one to the same
        -- environment succeeds, so it is skipped to keep that older deployment's own result.
        {{ arg_max_where('state', 'struct_key', "state <> 'inactive'") }} as final_state,
        {{ arg_max_where('created_at', 'struct_key', "state <> 'inactive'") }} as final_state_at,
        min(created_at) filter (where state = 'in_progress') as first_in_progress_at
    from (
        select
            *,
            {{ ordering_key([
                ('created_at', 'created_at'),
                ('status_number', try_cast('deployment_status_id', 'bigint')),
            ]) }} as struct_key
        from {{ ref('stg_github__deployment_statuses') }}
    ) as keyed_statuses
    group by source_instance, deployment_id
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
        when statuses.final_state = 'success' then 'success'
        when statuses.final_state in ('failure', 'error') then 'failure'
        when statuses.final_state in ('in_progress', 'queued', 'pending') then 'in_progress'
        else 'unknown'
    end as status,
    statuses.final_state as source_status,
    deployments.sha,
    deployments.ref,
    coalesce(deployments.description, deployments.task) as name,
    null::varchar as url,
    {{ matches_deployment_rule('rollback_pattern', "concat_ws(' ', deployments.description, deployments.ref, deployments.task)") }}
        as is_rollback,
    {{ matches_deployment_rule('hotfix_pattern', "concat_ws(' ', deployments.description, deployments.ref, deployments.task)") }}
        as is_hotfix,
    deployments.created_at,
    coalesce(statuses.first_in_progress_at, deployments.created_at) as started_at,
    case when statuses.final_state in ('success', 'failure', 'error') then statuses.final_state_at end as finished_at
from {{ ref('stg_github__deployments') }} as deployments
left join statuses
    on statuses.source_instance = deployments.source_instance
    and statuses.deployment_id = deployments.deployment_id
{{ join_deployment_rules('deployments.source_instance') }}
