-- One row per deployment from every deployment source, in one shape. Only GitHub Deployments today;
-- CI-based sources (GitLab environments, Jenkins/CircleCI deploy jobs, ...) add a CTE and a UNION ALL.

with github_final_statuses as (
    -- `inactive` is not an outcome: GitHub sets it on an older deployment when a newer one to the same
    -- environment succeeds, so it is skipped to keep that older deployment's own result.
    select distinct on (source_instance, deployment_id)
        source_instance,
        deployment_id,
        state,
        created_at
    from {{ ref('stg_github__deployment_statuses') }}
    where state <> 'inactive'
    order by source_instance, deployment_id, created_at desc, try_cast(deployment_status_id as bigint) desc
),

github_deployments as (
    select
        'github' as source,
        deployments.source_instance,
        deployments.deployment_id,
        deployments.repo as service,
        deployments.environment,
        case
            when final_statuses.state = 'success' then 'success'
            when final_statuses.state in ('failure', 'error') then 'failure'
            when final_statuses.state in ('in_progress', 'queued', 'pending') then 'in_progress'
            else 'unknown'
        end as status,
        final_statuses.state as source_status,
        deployments.sha,
        deployments.ref,
        deployments.created_at,
        case
            when final_statuses.state in ('success', 'failure', 'error') then final_statuses.created_at
        end as finished_at
    from {{ ref('stg_github__deployments') }} as deployments
    left join github_final_statuses as final_statuses
        on final_statuses.source_instance = deployments.source_instance
        and final_statuses.deployment_id = deployments.deployment_id
),

unioned as (
    select * from github_deployments
    -- <deployment sources: add a "union all by name" of each int_<source>__deployments model above this line>
)

select
    source,
    source_instance,
    deployment_id,
    service,
    environment,
    {{ is_production_environment('environment') }} as is_production,
    status,
    source_status,
    sha,
    ref,
    created_at,
    finished_at
from unioned
