-- Bitbucket deployments (Pipelines steps run against a deployment environment) in the shape of
-- int_deployments_unioned, with the source's deployment rules applied (macros/deployment_rules.sql):
-- production environments, service per repository, rollback/hotfix names.

with deployments as (
    select
        deployments.*,
        environments.environment,
        environments.environment_type
    from {{ ref('stg_bitbucket__deployments') }} as deployments
    left join {{ ref('stg_bitbucket__environments') }} as environments
        on environments.source_instance = deployments.source_instance
        and environments.environment_id = deployments.environment_id
)

select
    'bitbucket' as source,
    deployments.source_instance,
    deployments.deployment_id,
    {{ service_for_scope('deployments.source_instance', 'deployments.repo') }} as service,
    deployments.repo,
    deployments.environment,
    -- An environment Bitbucket files under the Production type counts, whatever its name.
    ({{ is_production_for_source('deployments.environment') }} or coalesce(deployments.environment_type = 'Production', false))
        as is_production,
    case
        when deployments.state = 'COMPLETED' and deployments.state_status = 'SUCCESSFUL' then 'success'
        -- Stopped part way: the step ran, so something may already have changed.
        when deployments.state = 'COMPLETED' and deployments.state_status in ('FAILED', 'STOPPED') then 'failure'
        when deployments.state = 'IN_PROGRESS' then 'in_progress'
        else 'unknown'
    end as status,
    coalesce(deployments.state_status, deployments.state) as source_status,
    deployments.sha,
    cast(null as varchar) as ref,
    deployments.release_name as name,
    deployments.url,
    {{ rollback_and_hotfix_flags("deployments.release_name") }},
    coalesce(deployments.created_at, deployments.started_at) as created_at,
    coalesce(deployments.started_at, deployments.created_at) as started_at,
    case when deployments.state = 'COMPLETED' and deployments.state_status in ('SUCCESSFUL', 'FAILED', 'STOPPED')
        then coalesce(deployments.completed_at, deployments.updated_at)
    end as finished_at
from deployments
{{ join_deployment_rules('deployments.source_instance') }}
