-- Deployments of the generic events sources in the shape of int_deployments_unioned (int_github__deployments
-- is the template), with the source's deployment rules applied (macros/deployment_rules.sql): production
-- environments, the service each `service` value counts as, rollback/hotfix names when a row does not say.

with deployments as (
    select
        *,
        case
            when status = 'success' then 'success'
            -- A deployment that was rolled back failed in production.
            when status in ('failure', 'rolled_back') then 'failure'
            when status = 'in_progress' then 'in_progress'
            -- Cancelled after it started: it may have changed production half way, so it counts as failed.
            when status = 'cancelled' and started_at is not null then 'failure'
            else 'unknown'
        end as outcome
    from {{ ref('stg_events__deployments') }}
)

select
    'events' as source,
    deployments.source_instance,
    deployments.deployment_id,
    {{ service_for_scope('deployments.source_instance', 'deployments.service') }} as service,
    deployments.repo,
    deployments.environment,
    {{ is_production_for_source('deployments.environment') }} as is_production,
    deployments.outcome as status,
    deployments.source_status,
    deployments.sha,
    deployments.version as ref,
    deployments.name,
    deployments.url,
    {{ rollback_and_hotfix_flags("concat_ws(' ', deployments.name, deployments.version)", 'deployments.is_rollback', 'deployments.is_hotfix') }},
    -- A file that only says when a deployment finished gives no other start.
    coalesce(deployments.started_at, deployments.finished_at) as created_at,
    coalesce(deployments.started_at, deployments.finished_at) as started_at,
    case when deployments.outcome in ('success', 'failure') then deployments.finished_at end as finished_at
from deployments
{{ join_deployment_rules('deployments.source_instance') }}
