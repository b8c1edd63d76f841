-- Azure DevOps deployments (pipeline jobs that deployed to an environment: its deployment records) in the
-- shape of int_deployments_unioned, with the source's deployment rules applied (macros/deployment_rules.sql):
-- production environments, service per repository, rollback/hotfix names. The record names its run (owner,
-- for plan type Build the build id), whose build gives the repository, the commit and the branch; the name
-- is the pipeline and stage (`data-platform-ci / Deploy_Production`).

with records as (
    select
        records.*,
        environments.environment,
        builds.repo,
        builds.sha,
        builds.source_branch
    from {{ ref('stg_azure_devops__environment_deployment_records') }} as records
    left join {{ ref('stg_azure_devops__environments') }} as environments
        on environments.source_instance = records.source_instance
        and environments.environment_id = records.environment_id
    left join {{ ref('stg_azure_devops__builds') }} as builds
        on builds.source_instance = records.source_instance
        and builds.build_id = records.owner_id
        and records.plan_type = 'Build'
)

select
    'azure_devops' as source,
    records.source_instance,
    records.record_key as deployment_id,
    {{ service_for_scope('records.source_instance', 'coalesce(records.repo, records.project)') }} as service,
    coalesce(records.repo, records.project) as repo,
    records.environment,
    {{ is_production_for_source('records.environment') }} as is_production,
    case
        when records.result in ('succeeded', 'succeededWithIssues') then 'success'
        -- canceled or abandoned part way: the job ran, so something may already have changed
        when records.result in ('failed', 'canceled', 'abandoned') then 'failure'
        when records.result is null and records.finished_at is null then 'in_progress'
        else 'unknown'
    end as status,
    coalesce(records.result, 'inProgress') as source_status,
    records.sha,
    {{ regex_replace('records.source_branch', "'^refs/heads/'", "''") }} as ref,
    records.definition_name || ' / ' || records.stage_name as name,
    cast(null as varchar) as url,
    {{ rollback_and_hotfix_flags("records.definition_name || ' ' || records.stage_name || ' ' || coalesce(records.source_branch, '')") }},
    coalesce(records.queued_at, records.started_at) as created_at,
    coalesce(records.started_at, records.queued_at) as started_at,
    case when records.result is not null then records.finished_at end as finished_at
from records
{{ join_deployment_rules('records.source_instance') }}
