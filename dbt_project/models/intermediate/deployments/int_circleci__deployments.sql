-- CircleCI deployments in the shape of int_deployments_unioned. CircleCI has no deployment object: a
-- deployment is a job whose name matches the source's `job_pattern`, or a workflow whose name matches
-- when none of its jobs does (so a `deploy` workflow with a `deploy-prod` job counts once, as the job).
-- Approval jobs never count: `hold-deploy-production` only waits for a person.

with pipelines as (
    select * from {{ ref('stg_circleci__pipelines') }}
),

workflows as (
    select * from {{ ref('stg_circleci__workflows') }}
),

build_jobs as (
    select * from {{ ref('stg_circleci__jobs') }}
    where job_type is distinct from 'approval'
),

deploy_jobs as (
    select
        build_jobs.source_instance,
        build_jobs.job_id as deployment_id,
        build_jobs.workflow_id,
        build_jobs.job_name as name,
        build_jobs.status as source_status,
        build_jobs.started_at,
        build_jobs.stopped_at
    from build_jobs
    {{ join_deployment_rules('build_jobs.source_instance') }}
    where {{ matches_deployment_rule('job_pattern', 'build_jobs.job_name') }}
),

deploy_workflows as (
    select
        workflows.source_instance,
        workflows.workflow_id as deployment_id,
        workflows.workflow_id,
        workflows.workflow_name as name,
        workflows.status as source_status,
        workflows.created_at as started_at,
        workflows.stopped_at
    from workflows
    {{ join_deployment_rules('workflows.source_instance') }}
    where {{ matches_deployment_rule('job_pattern', 'workflows.workflow_name') }}
),

candidates as (
    {{ ci_deployment_candidates('deploy_jobs', 'deploy_workflows', 'workflow_id') }}
),

described as (
    select
        candidates.*,
        workflows.workflow_name,
        workflows.created_at as workflow_created_at,
        pipelines.project_slug,
        pipelines.repo,
        pipelines.revision,
        pipelines.branch,
        coalesce(pipelines.branch, pipelines.tag) as ref,
        -- The job's name says where it deploys; else the workflow's (a `deploy-live` workflow running a
        -- job called `deploy`); else the default. One after the other, not in one string, so that a
        -- `deploy-staging` job in a `build-test-deploy` workflow deploys to staging, not to test.
        coalesce(
            nullif(lower({{ extract_deployment_rule('environment_pattern', 'candidates.name') }}), ''),
            {{ environment_from_name('workflows.workflow_name') }}
        ) as environment,
        {{ branch_allowed('pipelines.branch') }} as branch_is_allowed,
        {{ rollback_and_hotfix_flags("concat_ws(' ', candidates.name, workflows.workflow_name, coalesce(pipelines.branch, pipelines.tag))") }}
    from candidates
    inner join workflows
        on workflows.source_instance = candidates.source_instance
        and workflows.workflow_id = candidates.workflow_id
    inner join pipelines
        on pipelines.source_instance = workflows.source_instance
        and pipelines.pipeline_id = workflows.pipeline_id
    {{ join_deployment_rules('candidates.source_instance') }}
)

select
    'circleci' as source,
    described.source_instance,
    described.deployment_id,
    {{ service_for_scope('described.source_instance', 'described.project_slug') }} as service,
    described.repo,
    described.environment,
    {{ is_production_for_source('described.environment') }} as is_production,
    case
        when described.source_status = 'success' then 'success'
        when described.source_status in ('failed', 'error', 'infrastructure_fail', 'timedout', 'terminated-unknown')
            then 'failure'
        -- `failing`: a workflow with a failed job and others still running; it is read again until it ends.
        when described.source_status in ('running', 'queued', 'not_running', 'blocked', 'on_hold', 'failing')
            then 'in_progress'
        -- canceled, not_run, retried, unauthorized: nothing was (knowingly) deployed
        else 'unknown'
    end as status,
    described.source_status,
    described.revision as sha,
    described.ref,
    described.name,
    null::varchar as url,
    described.is_rollback,
    described.is_hotfix,
    coalesce(described.started_at, described.workflow_created_at) as created_at,
    described.started_at,
    case
        when described.source_status in (
            'success', 'failed', 'error', 'infrastructure_fail', 'timedout', 'terminated-unknown'
        ) then described.stopped_at
    end as finished_at
from described
{{ join_deployment_rules('described.source_instance') }}
where described.branch_is_allowed
