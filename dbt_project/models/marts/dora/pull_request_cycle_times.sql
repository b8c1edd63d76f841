-- One row per merged pull request: from first commit to running in production, cut into coding,
-- pickup, review and deploy time. Definitions: docs/METRICS.md#change-lead-time-and-pull-request-cycle-time.

with pull_requests as (
    select
        *,
        source_instance || ':' || pull_request_id as pull_request_key
    from {{ ref('stg_github__pull_requests') }}
    where merged_at is not null
),

first_commits as (
    select source_instance, pull_request_id, min(authored_at) as first_commit_at
    from {{ ref('stg_github__pull_request_commits') }}
    group by source_instance, pull_request_id
),

responses as (
    -- a review or a comment by someone other than the author; bots do not count as a response
    select source_instance, pull_request_id, reviewer as responder, submitted_at as responded_at,
        state = 'APPROVED' as is_approval
    from {{ ref('stg_github__pull_request_reviews') }}
    where state <> 'PENDING' and submitted_at is not null
    union all
    select source_instance, pull_request_id, actor, created_at, review_state = 'APPROVED'
    from {{ ref('stg_github__pull_request_timeline_events') }}
    where event in ('commented', 'reviewed', 'line-commented', 'commit-commented') and created_at is not null
),

first_responses as (
    select
        responses.source_instance,
        responses.pull_request_id,
        min(responses.responded_at) as first_response_at,
        min(responses.responded_at) filter (where responses.is_approval) as approved_at
    from responses
    inner join pull_requests
        on pull_requests.source_instance = responses.source_instance
        and pull_requests.pull_request_id = responses.pull_request_id
    where responses.responder is distinct from pull_requests.author
        and not coalesce(responses.responder like '%[bot]', false)
    group by responses.source_instance, responses.pull_request_id
),

deployed as (
    select
        changes.pull_request_key,
        changes.deployment_key,
        changes.service,
        changes.environment,
        changes.deployment_finished_at,
        min(changes.authored_at) over (partition by changes.pull_request_key) as first_shipped_commit_at
    from {{ ref('deployment_changes') }} as changes
    where changes.pull_request_key is not null and changes.deployment_status = 'success'
),

first_deployments as (
    select distinct on (pull_request_key)
        pull_request_key,
        deployment_key as first_deployment_key,
        service,
        environment as first_deployment_environment,
        deployment_finished_at as first_deployed_at,
        first_shipped_commit_at
    from deployed
    order by pull_request_key, deployment_finished_at, deployment_key
),

environment_counts as (
    select pull_request_key, count(distinct lower(environment)) as production_environment_count
    from deployed
    group by pull_request_key
),

timeline as (
    select
        pull_requests.pull_request_key,
        pull_requests.source_instance,
        pull_requests.repo,
        pull_requests.pull_request_number,
        pull_requests.title,
        pull_requests.author,
        coalesce(first_deployments.service, pull_requests.repo) as service,
        -- the PR's own commits; a PR whose commits were not read falls back to the shipped ones
        least(
            coalesce(first_commits.first_commit_at, first_deployments.first_shipped_commit_at),
            pull_requests.merged_at
        ) as first_commit_at,
        pull_requests.created_at as opened_at,
        first_responses.first_response_at,
        first_responses.approved_at,
        pull_requests.merged_at,
        first_deployments.first_deployed_at,
        first_deployments.first_deployment_key,
        first_deployments.first_deployment_environment,
        coalesce(environment_counts.production_environment_count, 0) as production_environment_count
    from pull_requests
    left join first_commits
        on first_commits.source_instance = pull_requests.source_instance
        and first_commits.pull_request_id = pull_requests.pull_request_id
    left join first_responses
        on first_responses.source_instance = pull_requests.source_instance
        and first_responses.pull_request_id = pull_requests.pull_request_id
    left join first_deployments on first_deployments.pull_request_key = pull_requests.pull_request_key
    left join environment_counts on environment_counts.pull_request_key = pull_requests.pull_request_key
)

select
    timeline.pull_request_key,
    timeline.source_instance,
    timeline.repo,
    timeline.pull_request_number,
    timeline.title,
    timeline.author,
    timeline.service,
    coalesce(teams.team, 'unassigned') as team,
    timeline.first_commit_at,
    timeline.opened_at,
    timeline.first_response_at,
    timeline.approved_at,
    timeline.merged_at,
    timeline.first_deployed_at,
    timeline.first_deployment_key,
    timeline.first_deployment_environment,
    timeline.production_environment_count,
    -- a PR opened before its first commit (an early draft) has no coding time before it opened
    greatest({{ hours_between('timeline.first_commit_at', 'timeline.opened_at') }}, 0.0) as coding_hours,
    {{ hours_between('timeline.opened_at', 'timeline.first_response_at') }} as pickup_hours,
    {{ hours_between('timeline.first_response_at', 'timeline.merged_at') }} as review_hours,
    {{ hours_between('timeline.merged_at', 'timeline.first_deployed_at') }} as deploy_hours,
    {{ hours_between('timeline.first_commit_at', 'timeline.first_deployed_at') }} as lead_time_hours
from timeline
left join {{ ref('int_service_teams') }} as teams on teams.service = timeline.service
