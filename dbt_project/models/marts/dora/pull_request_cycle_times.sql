-- One row per merged change request of every code host (GitHub pull requests, GitLab merge requests: the
-- table keeps the name its readers know): from first commit to running in production, cut into coding,
-- pickup, review and deploy time. Definitions: docs/METRICS.md#change-lead-time-and-pull-request-cycle-time.
-- A stage whose two ends are out of order (a deployment recorded before the merge, a response dated before
-- the opening) is NULL, never negative; a stage with an unknown end is NULL.

with change_requests as (
    select * from {{ ref('int_change_requests') }}
)

select
    change_requests.change_request_key as pull_request_key,
    change_requests.source_instance,
    change_requests.code_host,
    change_requests.repo,
    change_requests.change_request_number as pull_request_number,
    change_requests.title,
    change_requests.author,
    change_requests.service,
    coalesce(teams.team, 'unassigned') as team,
    change_requests.first_commit_at,
    change_requests.opened_at,
    change_requests.first_response_at,
    change_requests.approved_at,
    change_requests.merged_at,
    change_requests.first_deployed_at,
    change_requests.first_deployment_key,
    change_requests.first_deployment_environment,
    change_requests.production_environment_count,
    -- a change request opened before its first commit (an early draft) has no coding time before it opened;
    -- greatest() skips NULLs, so an unknown first commit is kept NULL explicitly
    case when change_requests.first_commit_at is not null
        then greatest({{ hours_between('change_requests.first_commit_at', 'change_requests.opened_at') }}, 0.0)
    end as coding_hours,
    {{ ordered_hours_between('change_requests.opened_at', 'change_requests.first_response_at') }} as pickup_hours,
    {{ ordered_hours_between('change_requests.first_response_at', 'change_requests.merged_at') }} as review_hours,
    {{ ordered_hours_between('change_requests.merged_at', 'change_requests.first_deployed_at') }} as deploy_hours,
    {{ ordered_hours_between('change_requests.first_commit_at', 'change_requests.first_deployed_at') }}
        as lead_time_hours
from change_requests
left join {{ ref('int_service_teams') }} as teams on teams.service = change_requests.service
