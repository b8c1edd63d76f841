-- The commits each production deployment shipped, with the pull request each commit came from.
-- Definitions: docs/METRICS.md#deployment-changes.
--
-- Change sets add up along the chain of one repository and environment (int_deployment_chains): the
-- connector reads each deployment's compare set (int_deployment_range_commits: GitHub's compare, Bitbucket's
-- commit range) against the previous deployment of that repository and environment whatever its outcome
-- (the first deployment: the deployed sha's history back to start_date).
-- A commit ships once per chain, with the first forward success (status success, sha never successful
-- before in the chain) at or after the first deployment whose compare set holds it:
--   - a failed deployment's commits ship with the next forward success, and the failed deployment lists
--     them as what it attempted;
--   - a rollback, or a roll-forward to a sha that was live before, ships nothing: its compare set is
--     empty (an older sha) or holds commits already shipped, and anything new in it waits for the next
--     forward success;
--   - after a rollback to a sha older than the last success, the next compare set holds the rolled-back
--     commits again: they shipped the first time, so they are not shipped (nor credited) twice.

with chains as (
    select * from {{ ref('int_deployment_chains') }}
),

compare_sets as (
    select
        chains.deployment_key,
        chains.chain_key,
        chains.chain_position,
        chains.forward_successes_before,
        -- the code host's instance, which the pull requests are read from (the kept report of a deployment
        -- may come from another source)
        commits.source_instance as code_host_instance,
        commits.repo,
        commits.commit_sha,
        commits.author,
        commits.author_name,
        commits.authored_at,
        commits.committed_at,
        commits.message_headline,
        commits.parent_count
    from {{ ref('int_deployment_range_commits') }} as commits
    -- a deployment kept for several sources' reports carries the compare data of each
    inner join {{ ref('int_deployment_report_keys') }} as report_keys
        on report_keys.report_key = commits.source_instance || ':' || commits.deployment_id
    inner join chains on chains.deployment_key = report_keys.deployment_key
),

first_appearances as (
    -- where each commit entered its chain: the group of deployments waiting for the same forward success (a
    -- window, not distinct on, which carries each column through an aggregate: see int_change_requests)
    select *
    from (
        select
            compare_sets.*,
            row_number() over (partition by chain_key, commit_sha order by chain_position) as appearance_rank
        from compare_sets
    ) as ranked
    where appearance_rank = 1
),

change_sets as (
    -- listed by every deployment of that group from its first appearance on, except rollbacks and
    -- roll-forwards; the forward success that closes the group is the one that shipped it
    select
        listing.deployment_key,
        listing.source_instance,
        listing.service,
        first_appearances.code_host_instance,
        first_appearances.repo,
        first_appearances.commit_sha,
        first_appearances.author,
        first_appearances.author_name,
        first_appearances.authored_at,
        first_appearances.committed_at,
        first_appearances.message_headline,
        first_appearances.parent_count,
        first_appearances.deployment_key as compared_in_deployment_key
    from first_appearances
    inner join chains as listing
        on listing.chain_key = first_appearances.chain_key
        and listing.forward_successes_before = first_appearances.forward_successes_before
        and listing.chain_position >= first_appearances.chain_position
        and not listing.is_repeat
),

merged_pull_requests as (
    -- keyed as each host's change requests are (int_change_requests)
    select
        'github' as code_host,
        source_instance,
        repo,
        source_instance || ':' || pull_request_id as pull_request_key,
        pull_request_id,
        pull_request_number,
        merge_commit_sha,
        merged_at
    from {{ ref('stg_github__pull_requests') }}
    where merged_at is not null
    union all
    select
        'bitbucket', source_instance, repo, pull_request_key, pull_request_id, pull_request_number,
        -- abbreviated to 12 digits, as Bitbucket writes it
        merge_commit_hash,
        merged_at
    from {{ ref('int_bitbucket__merged_pull_requests') }}
),

host_pull_request_commits as (
    select 'github' as code_host, source_instance, pull_request_id, commit_sha, author_name, authored_at,
        message_headline
    from {{ ref('stg_github__pull_request_commits') }}
    union all
    select 'bitbucket', source_instance, pull_request_id, sha, trim(split_part(author_raw, '<', 1)), authored_at,
        split_part(message, chr(10), 1)
    from {{ ref('stg_bitbucket__pull_request_commits') }}
),

pull_request_commits as (
    select
        pull_requests.*,
        commits.commit_sha as pr_commit_sha,
        commits.author_name as pr_author_name,
        commits.authored_at as pr_authored_at,
        commits.message_headline as pr_message_headline
    from merged_pull_requests as pull_requests
    inner join host_pull_request_commits as commits
        on commits.code_host = pull_requests.code_host
        and commits.source_instance = pull_requests.source_instance
        and commits.pull_request_id = pull_requests.pull_request_id
),

candidates as (
    -- squash and merge-commit merges: the PR's merge commit; rebase merges: its last commit
    select change_sets.deployment_key, change_sets.commit_sha, prs.pull_request_key, prs.pull_request_number,
        prs.merged_at, 'merge_commit' as pull_request_match, 1 as match_rank
    from change_sets
    inner join merged_pull_requests as prs
        on prs.source_instance = change_sets.code_host_instance
        and prs.repo = change_sets.repo
        and prs.merge_commit_sha = change_sets.commit_sha
    union all
    -- Bitbucket abbreviates a pull request's merge commit to 12 digits
    select change_sets.deployment_key, change_sets.commit_sha, prs.pull_request_key, prs.pull_request_number,
        prs.merged_at, 'merge_commit' as pull_request_match, 1 as match_rank
    from change_sets
    inner join merged_pull_requests as prs
        on prs.source_instance = change_sets.code_host_instance
        and prs.repo = change_sets.repo
        and prs.code_host = 'bitbucket'
        and length(prs.merge_commit_sha) = 12
        and prs.merge_commit_sha = left(change_sets.commit_sha, 12)
    union all
    -- merge-commit merges keep the PR's own commits on the branch
    select change_sets.deployment_key, change_sets.commit_sha, prs.pull_request_key, prs.pull_request_number,
        prs.merged_at, 'pull_request_commit', 2
    from change_sets
    inner join pull_request_commits as prs
        on prs.source_instance = change_sets.code_host_instance
        and prs.repo = change_sets.repo
        and prs.pr_commit_sha = change_sets.commit_sha
    union all
    -- rebase merges rewrite every commit (new sha) but keep its author, author date and message
    select change_sets.deployment_key, change_sets.commit_sha, prs.pull_request_key, prs.pull_request_number,
        prs.merged_at, 'rebased_commit', 3
    from change_sets
    inner join pull_request_commits as prs
        on prs.source_instance = change_sets.code_host_instance
        and prs.repo = change_sets.repo
        and prs.pr_author_name = change_sets.author_name
        and prs.pr_authored_at = change_sets.authored_at
        and prs.pr_message_headline = change_sets.message_headline
        and prs.pr_commit_sha <> change_sets.commit_sha
),

best_candidates as (
    select *
    from (
        select
            candidates.*,
            row_number() over (
                partition by deployment_key, commit_sha order by match_rank, merged_at, pull_request_key
            ) as candidate_rank
        from candidates
    ) as ranked
    where candidate_rank = 1
)

select
    change_sets.deployment_key,
    change_sets.source_instance,
    change_sets.service,
    deployments.environment,
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
inner join {{ ref('int_deployments_unioned') }} as deployments
    on deployments.deployment_key = change_sets.deployment_key
left join best_candidates
    on best_candidates.deployment_key = change_sets.deployment_key
    and best_candidates.commit_sha = change_sets.commit_sha
