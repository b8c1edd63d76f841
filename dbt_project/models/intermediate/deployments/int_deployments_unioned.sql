-- One row per deployment from every deployment source, in one shape (int_github__deployments is the
-- template: same columns, same meanings). A deployment reported by two sources (the same service,
-- environment and sha, started within `deployment_duplicate_window_minutes`) is kept once.

with unioned as (
    select * from {{ ref('int_github__deployments') }}
    union all by name select * from {{ ref('int_events__deployments') }}
    union all by name select * from {{ ref('int_gitlab__deployments') }}
    union all by name select * from {{ ref('int_jenkins__deployments') }}
    union all by name select * from {{ ref('int_circleci__deployments') }}
    -- <deployment sources: add a "union all by name" of each int_<source>__deployments model above this line>
),

ranked as (
    select
        *,
        source_instance || ':' || deployment_id as deployment_key,
        -- Which report of a duplicated deployment is kept: one with a final outcome, then GitHub's (its
        -- compare data gives the change set), then the earliest start.
        [
            (status not in ('success', 'failure'))::integer,
            (source <> 'github')::integer
        ] as preference,
        coalesce(started_at, created_at) as reported_start_at
    from unioned
),

duplicates as (
    -- Each report paired with the best other-source report of the same deployment that it yields to.
    select
        worse.deployment_key,
        arg_min(
            better.deployment_key,
            struct_pack(better.preference, better.reported_start_at, better.deployment_key)
        ) as kept_as
    from ranked as worse
    inner join ranked as better
        on better.source_instance <> worse.source_instance
        and better.service = worse.service
        and lower(better.environment) = lower(worse.environment)
        and better.sha = worse.sha
        and abs(date_diff('second', better.reported_start_at, worse.reported_start_at))
            <= {{ dora_setting('deployment_duplicate_window_minutes') }} * 60
        and struct_pack(better.preference, better.reported_start_at, better.deployment_key)
            < struct_pack(worse.preference, worse.reported_start_at, worse.deployment_key)
    group by worse.deployment_key
),

merged as (
    select kept_as as deployment_key, list(deployment_key order by deployment_key) as duplicate_keys
    from duplicates
    group by kept_as
)

select
    ranked.deployment_key,
    ranked.source,
    ranked.source_instance,
    ranked.deployment_id,
    ranked.service,
    ranked.repo,
    ranked.environment,
    ranked.is_production,
    ranked.status,
    ranked.source_status,
    ranked.sha,
    ranked.ref,
    ranked.name,
    ranked.url,
    coalesce(ranked.is_rollback, false) as is_rollback,
    coalesce(ranked.is_hotfix, false) as is_hotfix,
    ranked.created_at,
    ranked.started_at,
    ranked.finished_at,
    coalesce(merged.duplicate_keys, []::varchar[]) as duplicate_keys
from ranked
left join merged on merged.deployment_key = ranked.deployment_key
where ranked.deployment_key not in (select deployment_key from duplicates)
