-- GitHub pull requests as change requests (int_change_requests): one row per merged pull request and
-- successful production deployment whose change set holds one of its commits (one row with no deployment
-- while none has), with its first commit, first response before the merge by someone other than its
-- author, and merge. Definitions: docs/METRICS.md#change-lead-time-and-pull-request-cycle-time.

with pull_requests as (
    select
        *,
        source_instance || ':' || pull_request_id as pull_request_key
    from {{ ref('stg_github__pull_requests') }}
    where merged_at is not null
),

first_commits as (
    -- the PR's own commits only: a PR whose commits were not read has no known first commit
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
        -- a comment after the merge reviews nothing that could still change: it is not pickup
        and responses.responded_at <= pull_requests.merged_at
    group by responses.source_instance, responses.pull_request_id
),

deployed as (
{{ deployments_shipping_pull_requests() }}
)

{{ change_request_select('github') }}
