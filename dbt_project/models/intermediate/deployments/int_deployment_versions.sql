-- Which version each production deployment put in place, against the version it replaced in its chain
-- (int_deployment_chains: the deployments of one repository to one environment of one source instance, in
-- order). The replaced version is the latest attempt's sha: a failed deployment may have changed production
-- half way, so redeploying the last good version after it puts back an older one. Versions are ordered by
-- when they first succeeded in the chain, a version that never succeeded being newer than any that did: a
-- rollback puts back a version OLDER than the one it replaces; a roll-forward puts back a NEWER one that was
-- already live (redeploying the version a rollback took away), which is not a rollback. Definitions:
-- docs/METRICS.md#deployments.

with chain as (
    select
        chains.deployment_key,
        chains.chain_key,
        chains.chain_position,
        chains.ordered_at,
        chains.status,
        lower(chains.sha) as sha,
        deployments.is_rollback as is_named_rollback
    from {{ ref('int_deployment_chains') }} as chains
    inner join {{ ref('int_deployments_unioned') }} as deployments
        on deployments.deployment_key = chains.deployment_key
),

preceding as (
    select
        chain.*,
        max(case when status = 'success' then chain_position end) over (
            partition by chain_key order by chain_position rows between unbounded preceding and 1 preceding
        ) as previous_success_position,
        max(case when status in ('success', 'failure') then chain_position end) over (
            partition by chain_key order by chain_position rows between unbounded preceding and 1 preceding
        ) as previous_attempt_position
    from chain
),

first_successes as (
    select chain_key, sha, min(chain_position) as first_success_position
    from chain
    where status = 'success' and sha is not null
    group by chain_key, sha
),

compared as (
    select
        preceding.deployment_key,
        preceding.chain_key,
        preceding.chain_position,
        preceding.ordered_at,
        preceding.status,
        preceding.is_named_rollback,
        previous_success.deployment_key as previous_success_key,
        replaced.sha as replaced_sha,
        -- the deployed version was live here before, and is not the one it replaces
        coalesce(
            preceding.sha <> replaced.sha and deployed.first_success_position < preceding.chain_position,
            false
        ) as is_known_version,
        deployed.first_success_position as deployed_first_success_position,
        -- a replaced version that never succeeded is newer than every version that did
        coalesce(replaced_version.first_success_position, preceding.chain_position) as replaced_first_success_position
    from preceding
    left join chain as previous_success
        on previous_success.chain_key = preceding.chain_key
        and previous_success.chain_position = preceding.previous_success_position
    left join chain as replaced
        on replaced.chain_key = preceding.chain_key
        and replaced.chain_position = preceding.previous_attempt_position
    left join first_successes as deployed
        on deployed.chain_key = preceding.chain_key
        and deployed.sha = preceding.sha
    left join first_successes as replaced_version
        on replaced_version.chain_key = replaced.chain_key
        and replaced_version.sha = replaced.sha
        and replaced_version.first_success_position < preceding.chain_position
),

flagged as (
    select
        deployment_key,
        chain_key,
        chain_position,
        ordered_at,
        status,
        previous_success_key,
        replaced_sha,
        is_known_version and deployed_first_success_position < replaced_first_success_position as is_older_version,
        -- the source or its rollback_pattern says rollback (CI sources report the pipeline's sha, not the
        -- artefact put back, so their word stands), or an older version is put back
        is_named_rollback
            or (is_known_version and deployed_first_success_position < replaced_first_success_position)
            as is_rollback,
        not is_named_rollback
            and is_known_version and deployed_first_success_position > replaced_first_success_position
            as is_roll_forward
    from compared
)

select
    deployment_key,
    chain_key,
    chain_position,
    ordered_at,
    previous_success_key,
    replaced_sha,
    is_older_version,
    is_rollback,
    is_roll_forward,
    -- new work that ran in production: not a version put back, finished with an outcome
    status in ('success', 'failure') and not is_rollback and not is_roll_forward as is_forward_attempt
from flagged
