-- Finished production deployments per ISO week (Monday start, UTC), with empty weeks filled in.
-- Definitions: docs/METRICS.md#deployments-per-week.

with finished_production_deployments as (
    select
        source_instance,
        service,
        environment,
        status,
        date_trunc('week', finished_at)::date as week_start
    from {{ ref('int_deployments_unioned') }}
    where is_production
        and status in ('success', 'failure')
),

weekly_counts as (
    select
        source_instance,
        service,
        environment,
        week_start,
        count(*) filter (where status = 'success') as deployments,
        count(*) filter (where status = 'failure') as failed_deployments,
        count(*) as deployment_attempts
    from finished_production_deployments
    group by source_instance, service, environment, week_start
),

week_spine as (
    -- every week between a service's first and last week with a finished deployment, so a quiet
    -- week reads 0 instead of being missing (which would inflate averages)
    select
        source_instance,
        service,
        environment,
        ({{ timestamp_series_rows('min(week_start)', 'max(week_start)', "interval '7 day'") }})::date as week_start
    from weekly_counts
    group by source_instance, service, environment
)

select
    week_spine.week_start,
    week_spine.source_instance,
    week_spine.service,
    week_spine.environment,
    coalesce(weekly_counts.deployments, 0) as deployments,
    coalesce(weekly_counts.failed_deployments, 0) as failed_deployments,
    coalesce(weekly_counts.deployment_attempts, 0) as deployment_attempts
from week_spine
left join weekly_counts
    on weekly_counts.source_instance = week_spine.source_instance
    and weekly_counts.service = week_spine.service
    and weekly_counts.environment = week_spine.environment
    and weekly_counts.week_start = week_spine.week_start
