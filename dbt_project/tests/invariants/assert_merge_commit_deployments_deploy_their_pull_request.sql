-- A pull request (GitHub) or merge request (GitLab) whose merge commit is the very sha a successful
-- production deployment of its repository on the same code host put live was deployed by that deployment's
-- finish at the latest: whatever the change sets or GitLab's links say, the deployed tree holds the merge.
-- Returns the change requests the marts leave undeployed or deployed later.
{%- set pull_requests = ref('stg_github__pull_requests') -%}
{%- set merge_requests = ref('stg_gitlab__merge_requests') -%}
{%- set deployments = ref('deployments') -%}
{%- set cycle_times = ref('pull_request_cycle_times') -%}
{%- if invariant_parents_built([pull_requests, merge_requests, deployments, cycle_times]) %}
with merge_commits as (
    select
        source_instance || ':' || pull_request_id as pull_request_key,
        'github' as code_host,
        repo,
        merge_commit_sha
    from {{ pull_requests }}
    where merged_at is not null and merge_commit_sha is not null
    union all
    select
        source_instance || ':' || merge_request_id,
        'gitlab',
        project_path,
        merge_commit_sha
    from {{ merge_requests }}
    where merged_at is not null and merge_commit_sha is not null
),

deployed_as_sha as (
    select
        merge_commits.pull_request_key,
        min(deployments.finished_at) as deployed_by
    from merge_commits
    inner join {{ deployments }} as deployments
        on deployments.source = merge_commits.code_host
        and deployments.repo = merge_commits.repo
        and deployments.sha = merge_commits.merge_commit_sha
        and deployments.status = 'success'
    group by merge_commits.pull_request_key
)

select
    deployed_as_sha.pull_request_key,
    deployed_as_sha.deployed_by,
    pull_requests.first_deployed_at
from deployed_as_sha
left join {{ cycle_times }} as pull_requests
    on pull_requests.pull_request_key = deployed_as_sha.pull_request_key
where pull_requests.first_deployed_at is null
    or pull_requests.first_deployed_at > deployed_as_sha.deployed_by
{%- else %}
{{ invariant_nothing_to_check(['pull_request_key', 'deployed_by', 'first_deployed_at']) }}
{%- endif %}
