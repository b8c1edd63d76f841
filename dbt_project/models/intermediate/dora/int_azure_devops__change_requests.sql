-- Azure DevOps pull requests as change requests (int_change_requests): one row per completed pull request
-- and production environment it shipped to (one row with no deployment while none has), with its first
-- commit, first response before the merge by someone other than its author (a comment or a vote) and merge
-- (its closedDate: a completed pull request was merged then). Votes come from the system threads that
-- record them with their time (the pull request's reviewers[].vote has none); approved is the first vote of
-- 10 (approved) or 5 (approved with suggestions). A pull request ships with the first successful production
-- deployment of its repository that started at or after its merge, as Bitbucket's do (deployment records
-- name a run, not the pull requests it carried). Definitions: docs/METRICS.md#change-lead-time-and-pull-request-cycle-time.

with pull_requests as (
    select
        *,
        source_instance || ':' || repo || '#' || pull_request_id as pull_request_key,
        closed_at as merged_at
    from {{ ref('stg_azure_devops__pull_requests') }}
    where status = 'completed'
),

first_commits as (
    select source_instance, pull_request_id, min(authored_at) as first_commit_at
    from {{ ref('stg_azure_devops__pull_request_commits') }}
    group by source_instance, pull_request_id
),

first_responses as (
    select
        threads.source_instance,
        threads.pull_request_id,
        min(threads.published_at) as first_response_at,
        min(threads.published_at) filter (where threads.vote >= 5) as approved_at
    from {{ ref('stg_azure_devops__pull_request_threads') }} as threads
    inner join pull_requests
        on pull_requests.source_instance = threads.source_instance
        and pull_requests.pull_request_id = threads.pull_request_id
    where not threads.is_deleted
        and (threads.thread_type = 'VoteUpdate' and threads.vote <> 0
            or threads.thread_type is null and threads.comment_type = 'text')
        and threads.actor is distinct from pull_requests.author
        and threads.published_at <= pull_requests.merged_at
    group by threads.source_instance, threads.pull_request_id
),

{{ first_deployments_after_merge('int_azure_devops__deployments') }}

{{ change_request_select('azure_devops') }}
