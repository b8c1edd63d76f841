-- Every production deployment in the chain its change set is read in: the deployments of one repository to
-- one environment of one source instance, in order. The connector compares each deployment with the
-- previous deployment of the same repository and environment, so change sets add up along this chain and
-- never across repositories (a service deployed from two repositories has two chains). Definitions:
-- docs/METRICS.md#deployment-changes.

with production as (
    select
        deployment_key,
        source_instance,
        repo,
        service,
        lower(environment) as environment_key,
        status,
        sha,
        is_rollback,
        coalesce(started_at, created_at) as ordered_at
    from {{ ref('int_deployments_unioned') }}
    where is_production
),

positioned as (
    select
        production.*,
        source_instance || '|' || coalesce(repo, '') || '|' || environment_key as chain_key,
        -- ordered_at is never NULL (created_at is not)
        row_number() over (
            partition by source_instance, repo, environment_key order by ordered_at, deployment_key
        ) as chain_position
    from production
),

repeats as (
    select
        positioned.*,
        -- a sha that already succeeded earlier in the chain was live before: putting it back (a rollback,
        -- or a roll-forward to a version rolled back) brings nothing that had not shipped already (shas
        -- compared in lower case: some sources write them in upper case)
        is_rollback
            or sha is not null and coalesce(sum(case when status = 'success' then 1 else 0 end) over (
                partition by source_instance, repo, environment_key, lower(sha)
                order by chain_position
                rows between unbounded preceding and 1 preceding
            ), 0) > 0
            as is_repeat
    from positioned
)

select
    deployment_key,
    chain_key,
    source_instance,
    repo,
    service,
    environment_key,
    chain_position,
    ordered_at,
    status,
    sha,
    is_repeat,
    status = 'success' and not is_repeat as is_forward_success,
    -- deployments that share this count wait for the same forward success (or are it): their change sets
    -- ship together
    coalesce(sum(case when status = 'success' and not is_repeat then 1 else 0 end) over (
        partition by chain_key order by chain_position rows between unbounded preceding and 1 preceding
    ), 0) as forward_successes_before
from repeats
