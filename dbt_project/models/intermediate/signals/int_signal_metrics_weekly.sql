-- The weekly series the signal rules watch, one row per complete week, team and value stream
-- (docs/METRICS.md#signals). Flow numbers are the flow marts' summed over flow item types; the flow time
-- percentile and flow efficiency are recomputed from work_items, because per-type percentiles and ratios
-- cannot be added up. DORA numbers are the team rows of dora_metrics_weekly, placed in the team's value
-- stream (seed team_value_streams).

with as_of as (
    -- Only weeks that have ended are judged: a week still running reads as a drop in every count. The
    -- Jira as-of time decides; a warehouse without Jira uses the last deployment.
    select coalesce({{ flow_as_of() }}, (select max(finished_at) from {{ ref('deployments') }})) as as_of_at
),

flow_weeks as (
    select week_start, team, value_stream, sum(flow_velocity)::bigint as flow_velocity
    from {{ ref('flow_metrics_weekly') }}
    -- the type rows only: the mart's rollup rows (team, value stream, overall) would count each item again
    where grouping_level = 'team_type'
    group by week_start, team, value_stream
),

completions as (
    {{ completed_flow_times('week', ['team', 'value_stream']) }}
),

daily_load as (
    select day, team, value_stream, sum(wip_items)::bigint as wip_items
    from {{ ref('flow_load_daily') }}
    group by day, team, value_stream
),

weekly_load as (
    select
        date_trunc('week', day::timestamp)::date as week_start,
        team,
        value_stream,
        {{ arg_max('wip_items', 'day') }} as wip_items,
        {{ array_of('wip_items::float8', 'day') }} as wip_daily
    from daily_load
    group by date_trunc('week', day::timestamp)::date, team, value_stream
),

dora as (
    select
        dora.period_start as week_start,
        dora.team,
        coalesce(streams.value_stream, 'unassigned') as value_stream,
        dora.deployments,
        dora.deployment_attempts,
        dora.change_failures,
        dora.change_failure_rate,
        dora.lead_time_p50_hours as change_lead_time_p50_hours
    from {{ ref('dora_metrics_weekly') }} as dora
    left join {{ ref('team_value_streams') }} as streams on streams.team = dora.team
    where dora.grouping_level = 'team'
)

select
    week_start,
    team,
    value_stream,
    flow_weeks.flow_velocity,
    completions.flow_time_p85_hours,
    completions.flow_efficiency,
    weekly_load.wip_items,
    weekly_load.wip_daily,
    dora.deployments,
    dora.deployment_attempts,
    dora.change_failures,
    dora.change_failure_rate,
    dora.change_lead_time_p50_hours
from flow_weeks
full outer join dora using (week_start, team, value_stream)
left join completions using (week_start, team, value_stream)
left join weekly_load using (week_start, team, value_stream)
cross join as_of
where week_start + interval '7 day' <= as_of.as_of_at
