-- One row per GitLab merge request: when its first commit was written, when someone other than its
-- author first responded (a comment, or an approval, which GitLab records only as a system note), and
-- when it was first approved, up to its merge. The GitLab counterpart of the first-response step of pull
-- request cycle time (docs/METRICS.md#change-lead-time-and-pull-request-cycle-time).

with merge_requests as (
    select * from {{ ref('stg_gitlab__merge_requests') }}
),

first_commits as (
    select source_instance, merge_request_id, min(authored_at) as first_commit_at
    from {{ ref('stg_gitlab__merge_request_commits') }}
    group by source_instance, merge_request_id
),

responses as (
    select
        notes.source_instance,
        notes.merge_request_id,
        notes.author as responder,
        notes.created_at,
        notes.is_system and notes.body like 'approved this merge request%' as is_approval
    from {{ ref('stg_gitlab__merge_request_notes') }} as notes
    inner join merge_requests
        on merge_requests.source_instance = notes.source_instance
        and merge_requests.merge_request_id = notes.merge_request_id
    -- System notes are GitLab's log ("added 1 commit", "assigned to"), except an approval, which is a response.
    where (not notes.is_system or notes.body like 'approved this merge request%')
        and notes.author is distinct from merge_requests.author
        -- a note after the merge reviews nothing that could still change: it is not the response to review
        and (merge_requests.merged_at is null or notes.created_at <= merge_requests.merged_at)
        and not coalesce(notes.author like '%bot', false)
),

first_responses as (
    select
        source_instance,
        merge_request_id,
        min(created_at) as first_response_at,
        {{ arg_min('responder', 'created_at') }} as first_responder,
        min(created_at) filter (where is_approval) as approved_at
    from responses
    group by source_instance, merge_request_id
)

select
    merge_requests.source_instance,
    merge_requests.merge_request_id,
    merge_requests.project_path,
    merge_requests.merge_request_iid,
    merge_requests.author,
    merge_requests.state,
    first_commits.first_commit_at,
    merge_requests.created_at,
    first_responses.first_response_at,
    first_responses.first_responder,
    first_responses.approved_at,
    merge_requests.merged_at,
    -- a response recorded before the MR was opened (an import, a clock) leaves the wait unknown, not negative
    case when first_responses.first_response_at >= merge_requests.created_at
        then {{ hours_between('merge_requests.created_at', 'first_responses.first_response_at') }}
    end as hours_to_first_response
from merge_requests
left join first_commits
    on first_commits.source_instance = merge_requests.source_instance
    and first_commits.merge_request_id = merge_requests.merge_request_id
left join first_responses
    on first_responses.source_instance = merge_requests.source_instance
    and first_responses.merge_request_id = merge_requests.merge_request_id
