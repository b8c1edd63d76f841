-- Work in progress per day, team, value stream and flow item type, with the age of the oldest item.
-- Definitions: docs/METRICS.md#flow-load.
-- Each WIP interval is expanded only over its own days (generate_series per interval), never all
-- items x all days, so the cost follows the data, not the calendar.

with as_of as (
    select {{ flow_as_of() }} as as_of_at
),

items as (
    -- flow items only: an epic is "in progress" while its stories are, which would count that work twice
    select work_item_id, team, value_stream, flow_item_type, created_at
    from {{ ref('work_items') }}
    where is_flow_item
),

wip_intervals as (
    select
        items.team,
        items.value_stream,
        items.flow_item_type,
        intervals.flow_state,
        intervals.started_at,
        -- an interval still open at the as-of time runs to it
        case when intervals.ended_at < as_of.as_of_at then intervals.ended_at end as ended_at,
        -- age counts from the item's first step into WIP, wherever this interval sits in its life
        min(intervals.started_at) over (partition by intervals.work_item_id) as wip_started_at,
        as_of.as_of_at
    from {{ ref('work_item_state_intervals') }} as intervals
    inner join items on items.work_item_id = intervals.work_item_id
    cross join as_of
    where intervals.flow_state in ('waiting', 'active')
),

wip_days as (
    -- The state at a day's end is the state just before midnight: the interval covers it when
    -- started_at < day + 1 <= ended_at, i.e. from the day it started to the day before it ended; on the
    -- as-of day the snapshot is the as-of time. The bounds are exact, so no row needs filtering after.
    select
        team,
        value_stream,
        flow_item_type,
        flow_state,
        wip_started_at,
        as_of_at,
        {{ timestamp_series_rows(
            'started_at::date',
            "coalesce((ended_at - interval '1 day')::date, as_of_at::date)",
            "interval '1 day'"
        ) }}::date as day
    from wip_intervals
    where started_at < as_of_at
),

daily as (
    select
        team,
        value_stream,
        flow_item_type,
        day,
        count(*) as wip_items,
        count(*) filter (where flow_state = 'active') as active_items,
        count(*) filter (where flow_state = 'waiting') as waiting_items,
        {{ hours_between('min(wip_started_at)', "least(day + interval '1 day', max(as_of_at))") }}
            as oldest_item_age_hours
    from wip_days
    group by team, value_stream, flow_item_type, day
),

axis as (
    -- every day from the first item of a team / value stream / type to the as-of day, so a day with no
    -- WIP is a zero row, not a missing one
    select
        team,
        value_stream,
        flow_item_type,
        {{ timestamp_series_rows('min(created_at)::date', 'max(as_of.as_of_at)::date', "interval '1 day'") }}::date
            as day
    from items
    cross join as_of
    group by team, value_stream, flow_item_type
)

select
    axis.day,
    axis.team,
    axis.value_stream,
    axis.flow_item_type,
    coalesce(daily.wip_items, 0) as wip_items,
    coalesce(daily.active_items, 0) as active_items,
    coalesce(daily.waiting_items, 0) as waiting_items,
    daily.oldest_item_age_hours
from axis
left join daily
    on daily.team = axis.team
    and daily.value_stream = axis.value_stream
    and daily.flow_item_type = axis.flow_item_type
    and daily.day = axis.day
