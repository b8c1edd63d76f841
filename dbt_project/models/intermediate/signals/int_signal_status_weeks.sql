-- Item-hours each team spent per status and complete week while work was in progress (flow state waiting
-- or active), on the statuses and weeks that had some: int_signal_status_waits_weekly adds the empty ones.
-- docs/METRICS.md#signals.
-- Incremental by week (docs/OPERATIONS.md#incremental-builds): a run recomputes the weeks of
-- int_flow_periods_to_rebuild. Each interval is cut at week boundaries over its own weeks only (generate_series
-- per interval; in an incremental run only its weeks between the first and last week to rebuild), so the
-- cost follows the data.
-- depends_on: {{ ref('int_flow_periods_to_rebuild') }}
{{ config(**flow_period_incremental('week_start', 'week')) }}

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

{%- if is_incremental() %}

bounds as (
    select min(period_start) as first_week, max(period_start) as last_week
    from {{ flow_periods_to_rebuild('week') }} as weeks
),
{%- endif %}

pieces as (
    -- An incremental run cuts each interval over its weeks between the first and last week to rebuild only,
    -- then keeps the listed weeks.
    {%- set first_week = "date_trunc('week', started_at)" %}
    {%- set last_week = "date_trunc('week', ended_at - interval '1 microsecond')" %}
    select
        intervals.*,
        {{ timestamp_series_rows(
            'greatest(' ~ first_week ~ ', bounds.first_week::timestamp)' if is_incremental() else first_week,
            'least(' ~ last_week ~ ', bounds.last_week::timestamp)' if is_incremental() else last_week,
            "interval '1 week'"
        ) }}::date as week_start
    from intervals
    {%- if is_incremental() %}
    cross join bounds
    {%- endif %}
    where ended_at > started_at
    {%- if is_incremental() %}
        and {{ first_week }} <= bounds.last_week and {{ last_week }} >= bounds.first_week
    {%- endif %}
)

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
{%- if is_incremental() %}
    and week_start in {{ flow_periods_to_rebuild('week') }}
{%- endif %}
group by week_start, team, value_stream, coalesce(status_name, '(unknown status)'), flow_state
