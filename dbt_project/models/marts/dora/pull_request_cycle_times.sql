-- One row per merged change request of every code host (GitHub pull requests, GitLab merge requests: the
-- table keeps the name its readers know): from first commit to running in production, cut into coding,
-- pickup, review and deploy time. Definitions: docs/METRICS.md#change-lead-time-and-pull-request-cycle-time.
-- A stage whose two ends are out of order (a deployment recorded before the merge, a response dated before
-- the opening) is NULL, never negative; a stage with an unknown end is NULL.
-- Incremental by comparison (macros/compared_increments.sql): the change requests whose row changed are written
-- again.
{{ config(**compared_increment_config('pull_request_cycle_columns()', 'pull_request_cycle_inputs()')) }}

with change_requests as (
    select {{ compared_columns_select(pull_request_cycle_columns()) }}
    {{ pull_request_cycle_inputs() }}
    {%- if is_incremental() %}
    where {{ not_in_built(pull_request_cycle_columns()) }}
    {%- endif %}
)

select
    change_requests.*,
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
