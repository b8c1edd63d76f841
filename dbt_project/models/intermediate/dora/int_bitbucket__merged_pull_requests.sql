-- Bitbucket's merged pull requests with their merge time, which a Cloud pull request does not carry: the
-- activity's update to MERGED, else (activity not read) the pull request's close time (Data Center's
-- closedDate), else its last update. The merge commit is the pull request's (Cloud: abbreviated to 12
-- digits), else the one Data Center's MERGED activity names. Read by int_bitbucket__change_requests and, to
-- match shipped commits with pull requests, int_deployment_changes.

with merges as (
    select
        source_instance,
        pull_request_id,
        min(occurred_at) as merged_at,
        max(merge_commit_sha) as merge_commit_sha
    from {{ ref('stg_bitbucket__pull_request_activity') }}
    where activity_kind = 'update' and update_state = 'MERGED'
    group by source_instance, pull_request_id
)

select
    pull_requests.pull_request_id,
    pull_requests.source_instance,
    pull_requests.repo,
    pull_requests.flavour,
    pull_requests.pull_request_number,
    pull_requests.title,
    pull_requests.state,
    pull_requests.author,
    pull_requests.author_uuid,
    pull_requests.source_branch,
    pull_requests.destination_branch,
    coalesce(pull_requests.merge_commit_hash, merges.merge_commit_sha) as merge_commit_hash,
    pull_requests.url,
    pull_requests.created_at,
    pull_requests.updated_at,
    pull_requests.closed_at,
    pull_requests.extracted_at,
    pull_requests.source_instance || ':' || pull_requests.repo || '#' || pull_requests.pull_request_number
        as pull_request_key,
    coalesce(merges.merged_at, pull_requests.closed_at, pull_requests.updated_at) as merged_at
from {{ ref('stg_bitbucket__pull_requests') }} as pull_requests
left join merges
    on merges.source_instance = pull_requests.source_instance
    and merges.pull_request_id = pull_requests.pull_request_id
where pull_requests.state = 'MERGED'
