-- GitLab deployments (the deployments API) in the shape of int_deployments_unioned, with the source's
-- deployment rules applied (macros/deployment_rules.sql): production environments, service per project,
-- rollback/hotfix names.

with deployments as (
    select
        deployments.*,
        environments.tier as environment_tier
    from {{ ref('stg_gitlab__deployments') }} as deployments
    left join {{ ref('stg_gitlab__environments') }} as environments
        on environments.source_instance = deployments.source_instance
        and environments.environment_id = deployments.environment_id
)

select
    'gitlab' as source,
    deployments.source_instance,
    deployments.deployment_id,
    {{ service_for_scope('deployments.source_instance', 'deployments.project_path') }} as service,
    deployments.project_path as repo,
    deployments.environment,
    -- An environment GitLab itself files under the production tier counts, whatever its name.
    ({{ is_production_for_source('deployments.environment') }} or coalesce(deployments.environment_tier = 'production', false))
        as is_production,
    case
        when deployments.status = 'success' then 'success'
        when deployments.status = 'failed' then 'failure'
        -- Canceled after its job started: something may already have changed; before it: nothing happened.
        when deployments.status = 'canceled' and deployments.job_started_at is not null then 'failure'
        when deployments.status in ('created', 'running', 'blocked') then 'in_progress'
        else 'unknown'
    end as status,
    deployments.status as source_status,
    deployments.sha,
    deployments.ref,
    deployments.job_name as name,
    deployments.job_url as url,
    -- A re-deploy of an older deployment (GitLab's rollback button) is found for every source alike, by
    -- version, in int_deployment_versions.
    {{ rollback_and_hotfix_flags("concat_ws(' ', deployments.job_name, deployments.ref)") }},
    deployments.created_at,
    coalesce(deployments.job_started_at, deployments.created_at) as started_at,
    case
        when deployments.status in ('success', 'failed')
            or (deployments.status = 'canceled' and deployments.job_started_at is not null)
            then coalesce(deployments.finished_at, deployments.updated_at)
    end as finished_at
from deployments
{{ join_deployment_rules('deployments.source_instance') }}
