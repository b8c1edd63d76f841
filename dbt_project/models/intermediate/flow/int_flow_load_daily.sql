-- Work in progress per day, team, value stream and flow item type, on the days something was in progress:
-- flow_load_daily adds the zero days. Definitions: docs/METRICS.md#flow-load.
-- Incremental by day (docs/OPERATIONS.md#incremental-builds): a run recomputes the days of
-- int_flow_periods_to_rebuild. Each WIP interval is expanded only over its own days (generate_series per
-- interval; in an incremental run only its days between the first and last day to rebuild), never all items x
-- all days, so the cost follows the data, not the calendar.
-- depends_on: {{ ref('int_flow_periods_to_rebuild') }}
{{ config(**flow_period_incremental('day', 'day')) }}

with as_of as (
    select {{ flow_as_of() }} as as_of_at
),

wip_intervals as (
    -- flow items only: an epic is "in progress" while its stories are, which would count that work twice
    select
        intervals.work_item_id,
        items.team,
        items.value_stream,
        items.flow_item_type,
        intervals.flow_state,
        intervals.started_at,
        -- an interval still open at the as-of time runs to it
        case when intervals.ended_at < as_of.as_of_at then intervals.ended_at end as ended_at,
        as_of.as_of_at
    from {{ ref('work_item_state_intervals') }} as intervals
    inner join {{ ref('work_items') }} as items on items.work_item_id = intervals.work_item_id
    cross join as_of
    where intervals.flow_state in ('waiting', 'active') and items.is_flow_item
        and intervals.started_at < as_of.as_of_at
),

{%- if is_incremental() %}

bounds as (
    select min(period_start) as first_day, max(period_start) as last_day
    from {{ flow_periods_to_rebuild('day') }} as days
),
{%- endif %}

wip_days as (
    -- The state at a day's end is the state just before midnight: the interval covers it when
    -- started_at < day + 1 <= ended_at, i.e. from the day it started to the day before it ended; on the
    -- as-of day the snapshot is the as-of time. The bounds are exact, so no row needs filtering after.
    -- An incremental run expands each interval over its days between the first and last day to rebuild only,
    -- then keeps the listed days.
    {%- set last_day = "coalesce((ended_at - interval '1 day')::date, as_of_at::date)" %}
    select
        wip_intervals.*,
        {{ timestamp_series_rows(
            'greatest(started_at::date, bounds.first_day)' if is_incremental() else 'started_at::date',
            'least(' ~ last_day ~ ', bounds.last_day)' if is_incremental() else last_day,
            "interval '1 day'"
        ) }}::date as day
    from wip_intervals
    {%- if is_incremental() %}
    cross join bounds
    where started_at::date <= bounds.last_day and {{ last_day }} >= bounds.first_day
    {%- endif %}
),

item_wip_starts as (
    -- age counts from the item's first step into WIP, wherever the interval sits in its life (an aggregate,
    -- not a window over every interval: it can spill)
    select work_item_id, min(started_at) as wip_started_at
    from wip_intervals
    {%- if is_incremental() %}
    where work_item_id in (select work_item_id from wip_days)
    {%- endif %}
    group by work_item_id
),

snapshots as (
    select wip_days.*, item_wip_starts.wip_started_at
    from wip_days
    inner join item_wip_starts on item_wip_starts.work_item_id = wip_days.work_item_id
)

select
    day,
    team,
    value_stream,
    flow_item_type,
    count(*) as wip_items,
    count(*) filter (where flow_state = 'active') as active_items,
    count(*) filter (where flow_state = 'waiting') as waiting_items,
    {{ hours_between('min(wip_started_at)', "least(day + interval '1 day', max(as_of_at))") }}
        as oldest_item_age_hours
from snapshots
{%- if is_incremental() %}
where day in {{ flow_periods_to_rebuild('day') }}
{%- endif %}
group by day, team, value_stream, flow_item_type
