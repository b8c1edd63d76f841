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
-- Incremental by deployment (macros/deployment_change_increments.sql): a run deletes and writes again the rows of
-- the deployments in int_deployment_changes_to_rebuild, from the compare sets of their chains' groups only.
-- depends_on: {{ ref('int_deployment_changes_to_rebuild') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook='{{ delete_rebuilt_deployments() }}',
) }}
{%- set partial = deployment_changes_is_partial() %}

with chains as (
    select * from {{ ref('int_deployment_chains') }}
),
{%- if partial %}

rebuilt as (
    -- the deployments this run lists again, and the groups of their chains (deployments waiting for the same
    -- forward success) whose compare sets they list from
    select chains.*
    from chains
    where chains.deployment_key in (select deployment_key from {{ ref('int_deployment_changes_to_rebuild') }})
),

rebuilt_groups as (
    select distinct chain_key, forward_successes_before from rebuilt
),
{%- endif %}

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

{%- if partial %}

group_commits as (
    -- the commits the rebuilt groups' compare sets hold: only these can be listed by a rebuilt deployment
    select distinct compare_sets.chain_key, compare_sets.commit_sha
    from compare_sets
    inner join rebuilt_groups
        on rebuilt_groups.chain_key = compare_sets.chain_key
        and rebuilt_groups.forward_successes_before = compare_sets.forward_successes_before
),
{%- endif %}

first_appearances as (
    -- where each commit entered its chain: the group of deployments waiting for the same forward success (a
    -- window, not distinct on, which carries each column through an aggregate: see int_change_requests); a
    -- deployment kept for two reports may hold a commit twice, from each host instance
    select *
    from (
        select
            compare_sets.*,
            row_number() over (
                partition by compare_sets.chain_key, compare_sets.commit_sha
                order by compare_sets.chain_position, compare_sets.code_host_instance, compare_sets.repo
            ) as appearance_rank
        from compare_sets
        {%- if partial %}
        -- over the whole chain: a commit first held before the rebuilt group is listed by none of it
        inner join group_commits
            on group_commits.chain_key = compare_sets.chain_key
            and group_commits.commit_sha = compare_sets.commit_sha
        {%- endif %}
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
    inner join {{ 'rebuilt' if partial else 'chains' }} as listing
        on listing.chain_key = first_appearances.chain_key
        and listing.forward_successes_before = first_appearances.forward_successes_before
        and listing.chain_position >= first_appearances.chain_position
        and not listing.is_repeat
),

merged_pull_requests as (
    {{ deployment_change_merged_pull_requests() }}
),

candidates as (
    -- every merged pull request a commit matches, by each rule of pull_request_match_rules
    {%- for rule in pull_request_match_rules() %}
    {%- if not loop.first %}
    union all
    {%- endif %}
    select change_sets.deployment_key, change_sets.commit_sha, prs.pull_request_key, prs.pull_request_number,
        prs.merged_at, '{{ rule.match }}' as pull_request_match, {{ rule.rank }} as match_rank
    from change_sets
    {{- pull_request_match_joins(rule, 'change_sets', 'merged_pull_requests',
                                 '(' ~ deployment_change_pull_request_commits() ~ ')') }}
    {%- endfor %}
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
    -- what int_deployment_changes_to_rebuild matches a changed pull request with
    change_sets.code_host_instance,
    change_sets.author_name,
    best_candidates.pull_request_key,
    best_candidates.pull_request_number,
    best_candidates.pull_request_match
from change_sets
inner join {{ ref('int_deployments_unioned') }} as deployments
    on deployments.deployment_key = change_sets.deployment_key
left join best_candidates
    on best_candidates.deployment_key = change_sets.deployment_key
    and best_candidates.commit_sha = change_sets.commit_sha
