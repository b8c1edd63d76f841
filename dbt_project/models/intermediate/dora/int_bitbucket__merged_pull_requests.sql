-- Bitbucket's merged pull requests with their merge time, which the pull request itself does not carry: the
-- activity's update to MERGED, else (activity not read) the pull request's last update. Read by
-- int_bitbucket__change_requests and, to match shipped commits with pull requests, int_deployment_changes.

with merges as (
    select source_instance, pull_request_id, min(occurred_at) as merged_at
    from {{ ref('stg_bitbucket__pull_request_activity') }}
    where activity_kind = 'update' and update_state = 'MERGED'
    group by source_instance, pull_request_id
)

select
    pull_requests.*,
    pull_requests.source_instance || ':' || pull_requests.repo || '#' || pull_requests.pull_request_number
        as pull_request_key,
    coalesce(merges.merged_at, pull_requests.updated_at) as merged_at
from {{ ref('stg_bitbucket__pull_requests') }} as pull_requests
left join merges
    on merges.source_instance = pull_requests.source_instance
    and merges.pull_request_id = pull_requests.pull_request_id
where pull_requests.state = 'MERGED'
