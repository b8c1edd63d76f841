-- Item-hours each team spent per status and complete week while work was in progress (flow state waiting
-- or active), the input of the bottleneck signal (docs/METRICS.md#signals). Each interval is cut at week
-- boundaries over its own weeks only (generate_series per interval), so the cost follows the data.

with as_of as (
    select {{ flow_as_of() }} as as_of_at
),

intervals as (
    select
        intervals.work_item_id,
        items.team,
        items.value_stream,
        intervals.status_name,
        intervals.flow_state,
        intervals.started_at,
        -- an interval still open at the as-of time runs to it
        least(coalesce(intervals.ended_at, as_of.as_of_at), as_of.as_of_at) as ended_at,
        as_of.as_of_at
    from {{ ref('work_item_state_intervals') }} as intervals
    inner join {{ ref('work_items') }} as items on items.work_item_id = intervals.work_item_id
    cross join as_of
    -- flow items only, as flow load: an epic's statuses would repeat its stories' time
    where intervals.flow_state in ('waiting', 'active') and items.is_flow_item
),

pieces as (
    select
        work_item_id,
        team,
        value_stream,
        status_name,
        flow_state,
        started_at,
        ended_at,
        as_of_at,
        {{ timestamp_series_rows(
            "date_trunc('week', started_at)",
            "date_trunc('week', ended_at - interval '1 microsecond')",
            "interval '1 week'"
        ) }}::date as week_start
    from intervals
    where ended_at > started_at
),

status_weeks as (
    select
        week_start,
        team,
        value_stream,
        coalesce(status_name, '(unknown status)') as status_name,
        flow_state,
        -- whole microseconds, summed exactly: a sum of fractional hours depends on the order the rows come
        -- in, which no two warehouses (nor two parallel runs) share
        sum({{ microseconds_between(
            'greatest(started_at, week_start::timestamp)', "least(ended_at, week_start + interval '7 day')"
        ) }})::bigint as item_microseconds,
        count(distinct work_item_id) as items
    from pieces
    -- complete weeks only, as for the other signals
    where week_start + interval '7 day' <= as_of_at
    group by week_start, team, value_stream, coalesce(status_name, '(unknown status)'), flow_state
),

team_weeks as (
    select week_start, team, value_stream, sum(item_microseconds)::bigint as in_progress_microseconds
    from status_weeks
    group by week_start, team, value_stream
),

team_statuses as (
    select distinct team, value_stream, status_name, flow_state from status_weeks
)

-- every status the team has used gets a row in each of its weeks, 0 where nobody was in it, so a status's
-- usual share counts the weeks it was empty
select
    team_weeks.week_start,
    team_weeks.team,
    team_weeks.value_stream,
    team_statuses.status_name,
    team_statuses.flow_state,
    coalesce(status_weeks.item_microseconds, 0)::float8 / 3600000000 as item_hours,
    coalesce(status_weeks.items, 0) as items,
    team_weeks.in_progress_microseconds::float8 / 3600000000 as in_progress_hours,
    coalesce(status_weeks.item_microseconds, 0)::float8 / nullif(team_weeks.in_progress_microseconds, 0)::float8
        as share
from team_weeks
inner join team_statuses using (team, value_stream)
left join status_weeks using (week_start, team, value_stream, status_name, flow_state)
