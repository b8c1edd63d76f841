-- GitLab merge requests as change requests (int_change_requests): one row per merged merge request and
-- successful production deployment GitLab tracked as shipping it (stg_gitlab__deployment_merge_requests; one
-- row with no deployment while none has), with its first commit, first response before the merge by someone
-- other than its author (a note or an approval: int_gitlab__merge_request_responses), and merge.
-- Definitions: docs/METRICS.md#change-lead-time-and-pull-request-cycle-time.

with merge_requests as (
    select
        *,
        source_instance || ':' || merge_request_id as merge_request_key
    from {{ ref('int_gitlab__merge_request_responses') }}
    where merged_at is not null
),

deployed as (
    -- GitLab links merge requests to successful deployments only, and a rollback's range holds none; a
    -- rollback or roll-forward is still never credited with shipping (int_deployment_chains.is_repeat)
    select distinct
        links.source_instance || ':' || links.merge_request_id as merge_request_key,
        deployments.deployment_key,
        deployments.service,
        deployments.environment,
        deployments.finished_at
    from {{ ref('stg_gitlab__deployment_merge_requests') }} as links
    -- a GitLab deployment kept as another source's report of the same deployment ships through that one
    inner join {{ ref('int_deployment_report_keys') }} as report_keys
        on report_keys.report_key = links.source_instance || ':' || links.deployment_id
    inner join {{ ref('int_deployments_unioned') }} as deployments
        on deployments.deployment_key = report_keys.deployment_key
    inner join {{ ref('int_deployment_chains') }} as chains on chains.deployment_key = deployments.deployment_key
    where deployments.status = 'success' and not chains.is_repeat
)

select
    merge_requests.merge_request_key as change_request_key,
    cast('gitlab' as varchar) as code_host,
    merge_requests.source_instance,
    merge_requests.project_path as repo,
    merge_requests.merge_request_iid as change_request_number,
    details.title,
    merge_requests.author,
    merge_requests.first_commit_at,
    merge_requests.created_at as opened_at,
    merge_requests.first_response_at,
    merge_requests.approved_at,
    merge_requests.merged_at,
    deployed.deployment_key,
    deployed.finished_at as deployed_at,
    deployed.environment as deployment_environment,
    deployed.service as deployment_service
from merge_requests
inner join {{ ref('stg_gitlab__merge_requests') }} as details
    on details.source_instance = merge_requests.source_instance
    and details.merge_request_id = merge_requests.merge_request_id
left join deployed on deployed.merge_request_key = merge_requests.merge_request_key
