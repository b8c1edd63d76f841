-- The commits each production deployment shipped, with the pull request each commit came from.
-- A deployment ships what lies between the previous successful production deployment of the same
-- service and environment and itself. The compare data (raw.github__compare_commits) is taken by the
-- connector against the previous deployment of the environment whatever its outcome, so the change set
-- of a deployment is the union of the compare sets of every deployment since the previous success:
-- after a failed deployment, the next one ships the failed one's commits too.

with production as (
    select
        *,
        lower(environment) as environment_key,
        coalesce(started_at, created_at) as ordered_at
    from {{ ref('int_deployments_unioned') }}
    where is_production
),

bounded as (
    select
        production.*,
        -- successes before this deployment: every deployment since the previous success, up to this one,
        -- shares the count, which makes "since the previous success" an equality join
        coalesce(sum((status = 'success')::integer) over (
            partition by service, environment_key
            order by ordered_at, deployment_key
            rows between unbounded preceding and 1 preceding
        ), 0) as successes_before
    from production
),

report_keys as (
    -- a deployment kept for several sources' reports carries the compare data of each
    select deployment_key, deployment_key as report_key from production
    union all
    select deployment_key, unnest(duplicate_keys) as report_key from production
),

compare_sets as (
    select
        report_keys.deployment_key,
        commits.repo,
        commits.commit_sha,
        commits.author,
        commits.author_name,
        commits.authored_at,
        commits.committed_at,
        commits.message_headline,
        commits.parent_count
    from {{ ref('stg_github__compare_commits') }} as commits
    inner join report_keys
        on report_keys.report_key = commits.source_instance || ':' || commits.deployment_id
),

change_sets as (
    -- every deployment after the previous success, up to and including this one, contributes its set
    select distinct on (shipping.deployment_key, compare_sets.commit_sha)
        shipping.deployment_key,
        shipping.source_instance,
        shipping.service,
        shipping.environment,
        compare_sets.repo,
        compare_sets.commit_sha,
        compare_sets.author,
        compare_sets.author_name,
        compare_sets.authored_at,
        compare_sets.committed_at,
        compare_sets.message_headline,
        compare_sets.parent_count,
        contributing.deployment_key as compared_in_deployment_key
    from bounded as shipping
    inner join bounded as contributing
        on contributing.service = shipping.service
        and contributing.environment_key = shipping.environment_key
        and contributing.successes_before = shipping.successes_before
        -- (ordered_at, deployment_key) up to the shipping one's; ordered_at is never NULL (created_at is not)
        and (contributing.ordered_at < shipping.ordered_at
            or (contributing.ordered_at = shipping.ordered_at and contributing.deployment_key <= shipping.deployment_key))
    inner join compare_sets on compare_sets.deployment_key = contributing.deployment_key
    order by shipping.deployment_key, compare_sets.commit_sha, contributing.ordered_at, contributing.deployment_key
),

merged_pull_requests as (
    select
        source_instance,
        repo,
        source_instance || ':' || pull_request_id as pull_request_key,
        pull_request_id,
        pull_request_number,
        merge_commit_sha,
        merged_at
    from {{ ref('stg_github__pull_requests') }}
    where merged_at is not null
),

pull_request_commits as (
    select
        pull_requests.*,
        commits.commit_sha as pr_commit_sha,
        commits.author_name as pr_author_name,
        commits.authored_at as pr_authored_at,
        commits.message_headline as pr_message_headline
    from merged_pull_requests as pull_requests
    inner join {{ ref('stg_github__pull_request_commits') }} as commits
        on commits.source_instance = pull_requests.source_instance
        and commits.pull_request_id = pull_requests.pull_request_id
),

candidates as (
    -- squash and merge-commit merges: the PR's merge commit; rebase merges: its last commit
    select change_sets.deployment_key, change_sets.commit_sha, prs.pull_request_key, prs.pull_request_number,
        prs.merged_at, 'merge_commit' as pull_request_match, 1 as match_rank
    from change_sets
    inner join merged_pull_requests as prs
        on prs.source_instance = change_sets.source_instance
        and prs.repo = change_sets.repo
        and prs.merge_commit_sha = change_sets.commit_sha
    union all
    -- merge-commit merges keep the PR's own commits on the branch
    select change_sets.deployment_key, change_sets.commit_sha, prs.pull_request_key, prs.pull_request_number,
        prs.merged_at, 'pull_request_commit', 2
    from change_sets
    inner join pull_request_commits as prs
        on prs.source_instance = change_sets.source_instance
        and prs.repo = change_sets.repo
        and prs.pr_commit_sha = change_sets.commit_sha
    union all
    -- rebase merges rewrite every commit (new sha) but keep its author, author date and message
    select change_sets.deployment_key, change_sets.commit_sha, prs.pull_request_key, prs.pull_request_number,
        prs.merged_at, 'rebased_commit', 3
    from change_sets
    inner join pull_request_commits as prs
        on prs.source_instance = change_sets.source_instance
        and prs.repo = change_sets.repo
        and prs.pr_author_name = change_sets.author_name
        and prs.pr_authored_at = change_sets.authored_at
        and prs.pr_message_headline = change_sets.message_headline
        and prs.pr_commit_sha <> change_sets.commit_sha
),

best_candidates as (
    select distinct on (deployment_key, commit_sha) *
    from candidates
    order by deployment_key, commit_sha, match_rank, merged_at, pull_request_key
)

select
    change_sets.deployment_key,
    change_sets.source_instance,
    change_sets.service,
    change_sets.environment,
    change_sets.repo,
    change_sets.commit_sha,
    change_sets.author,
    change_sets.authored_at,
    change_sets.committed_at,
    change_sets.message_headline,
    change_sets.parent_count,
    change_sets.compared_in_deployment_key,
    best_candidates.pull_request_key,
    best_candidates.pull_request_number,
    best_candidates.pull_request_match
from change_sets
left join best_candidates
    on best_candidates.deployment_key = change_sets.deployment_key
    and best_candidates.commit_sha = change_sets.commit_sha
