-- Jenkins deployments in the shape of int_deployments_unioned. Jenkins has no deployment object: a
-- deployment is a pipeline stage whose name matches the source's `job_pattern` (`Deploy to production`),
-- or a build of a job whose full name matches when none of its stages does (a freestyle
-- `deploy-payments-prod`). A stage that was never run (NOT_EXECUTED) and a build that never ran
-- (NOT_BUILT) deployed nothing.

with jobs as (
    select * from {{ ref('stg_jenkins__jobs') }}
),

builds as (
    select
        builds.*,
        -- A multibranch job is named after its branch: the branch when the build has no git action.
        coalesce(
            builds.branch,
            case when parents.job_class like '%MultiBranchProject' then {{ url_decoded('jobs.job_name') }} end
        ) as built_ref
    from {{ ref('stg_jenkins__builds') }} as builds
    left join jobs
        on jobs.source_instance = builds.source_instance
        and jobs.job_full_name = builds.job_full_name
    left join jobs as parents
        on parents.source_instance = jobs.source_instance
        and parents.job_full_name = jobs.parent_folder
),

deploy_stages as (
    select
        stages.source_instance,
        stages.stage_id as deployment_id,
        stages.build_id,
        stages.stage_name as name,
        -- A stage without a status (seen in recorded data) takes the build's state.
        coalesce(stages.status, case when builds.is_running then 'IN_PROGRESS' end) as source_status,
        stages.started_at,
        stages.finished_at
    from {{ ref('stg_jenkins__stages') }} as stages
    inner join builds
        on builds.source_instance = stages.source_instance
        and builds.build_id = stages.build_id
    {{ join_deployment_rules('stages.source_instance') }}
    where {{ matches_deployment_rule('job_pattern', 'stages.stage_name') }}
        and stages.status is distinct from 'NOT_EXECUTED'
),

deploy_builds as (
    select
        builds.source_instance,
        builds.build_id as deployment_id,
        builds.build_id,
        builds.job_full_name as name,
        case when builds.is_running then 'IN_PROGRESS' else builds.result end as source_status,
        builds.started_at,
        builds.finished_at
    from builds
    {{ join_deployment_rules('builds.source_instance') }}
    where {{ matches_deployment_rule('job_pattern', 'builds.job_full_name') }}
        and builds.result is distinct from 'NOT_BUILT'
),

candidates as (
    {{ ci_deployment_candidates('deploy_stages', 'deploy_builds', 'build_id') }}
),

described as (
    select
        candidates.*,
        builds.job_full_name,
        builds.sha,
        builds.built_ref as ref,
        builds.repo,
        {{ environment_from_name('candidates.name') }} as environment,
        {{ branch_allowed('builds.built_ref') }} as branch_is_allowed,
        {{ rollback_and_hotfix_flags("concat_ws(' ', candidates.name, builds.built_ref)") }}
    from candidates
    inner join builds
        on builds.source_instance = candidates.source_instance
        and builds.build_id = candidates.build_id
    {{ join_deployment_rules('candidates.source_instance') }}
)

select
    'jenkins' as source,
    described.source_instance,
    described.deployment_id,
    {{ service_for_scope('described.source_instance', 'described.job_full_name') }} as service,
    described.repo,
    described.environment,
    {{ is_production_for_source('described.environment') }} as is_production,
    case
        when described.source_status = 'SUCCESS' then 'success'
        when described.source_status in ('FAILED', 'FAILURE', 'UNSTABLE') then 'failure'
        when described.source_status in ('IN_PROGRESS', 'PAUSED_PENDING_INPUT') then 'in_progress'
        -- ABORTED: someone stopped it, and what reached the environment is not known.
        else 'unknown'
    end as status,
    described.source_status,
    described.sha,
    described.ref,
    described.name,
    null::varchar as url,
    described.is_rollback,
    described.is_hotfix,
    described.started_at as created_at,
    described.started_at,
    case
        when described.source_status in ('SUCCESS', 'FAILED', 'FAILURE', 'UNSTABLE') then described.finished_at
    end as finished_at
from described
{{ join_deployment_rules('described.source_instance') }}
where described.branch_is_allowed
