-- Item-hours each team spent per status and complete week while work was in progress (flow state waiting
-- or active), on the statuses and weeks that had some: int_signal_status_waits_weekly adds the empty ones.
-- docs/METRICS.md#signals.
-- Incremental (docs/OPERATIONS.md#incremental-builds, macros/flow_periods.sql): a run recomputes the weeks of
-- int_flow_periods_to_rebuild (from the previous build's last complete week on) from every item, and updates
-- the earlier weeks by the rebuilt items' changed intervals only: item-microseconds are added and
-- subtracted, and an item is counted in or out of a week's status where it was not there before or is not
-- there any more. Each interval is cut at week boundaries over its own weeks only (generate_series per
-- interval), so the cost follows the data.
-- depends_on: {{ ref('int_flow_periods_to_rebuild') }}
-- depends_on: {{ ref('int_work_items_to_rebuild') }}
-- depends_on: {{ ref('int_work_items_replaced_intervals') }}
-- depends_on: {{ ref('int_work_items_rebuilt_intervals') }}
{{ config(**flow_period_incremental(
    'week_start', 'week', ['week_start', 'team', 'value_stream', 'status_name', 'flow_state'], 'items'
)) }}

{%- set first_week = "date_trunc('week', started_at)" %}
{%- set last_week = "date_trunc('week', ended_at - interval '1 microsecond')" %}
{%- set changed_from_week = "date_trunc('week', changed_from)" %}
{%- set recomputed = flow_period_bounds('week') %}
{#- how every interval is read, from the state intervals or from the rebuilt and replaced ones (alias `intervals`):
    an interval still open at the as-of time runs to it #}
{%- set status_name = "coalesce(intervals.status_name, '(unknown status)')" %}
{%- set open_to_as_of = "least(coalesce(intervals.ended_at, as_of.as_of_at), as_of.as_of_at)" %}
{%- set piece_microseconds = microseconds_between(
    'greatest(started_at, week_start::timestamp)', "least(ended_at, week_start + interval '7 day')"
) %}

with as_of as (
    select {{ flow_as_of() }} as as_of_at
),

{%- if is_incremental() %}

bounds as (
    select min(period_start) as first_week, max(period_start) as last_week
    from {{ flow_periods_to_rebuild('week') }} as weeks
),
{%- endif %}

{%- if is_incremental() %}

{%- for cte, model in [('rebuilt_intervals', 'int_work_items_rebuilt_intervals'),
                       ('previous_intervals', 'int_work_items_replaced_intervals')] %}

{{ cte }} as (
    -- the rebuilt items' intervals as this run wrote them (rebuilt) or the previous build counted them
    -- (previous), read with the same rules as `intervals` (in the weeks before first_week the as-of time makes
    -- no difference)
    select
        intervals.work_item_id,
        intervals.team,
        intervals.value_stream,
        {{ status_name }} as status_name,
        intervals.flow_state,
        intervals.started_at,
        {{ open_to_as_of }} as ended_at,
        as_of.as_of_at
    from {{ ref(model) }} as intervals
    cross join as_of
    where intervals.flow_state in ('waiting', 'active') and intervals.is_flow_item
),
{%- endfor %}
{%- endif %}

intervals as (
    -- flow items only, as flow load: an epic's statuses would repeat its stories' time
    select intervals.work_item_id, items.team, items.value_stream, intervals.status_name, intervals.flow_state,
        intervals.started_at, intervals.ended_at, intervals.as_of_at
    from (
        select
            intervals.work_item_id,
            {{ status_name }} as status_name,
            intervals.flow_state,
            intervals.started_at,
            {{ open_to_as_of }} as ended_at,
            as_of.as_of_at
        from {{ ref('work_item_state_intervals') }} as intervals
        cross join as_of
        where intervals.flow_state in ('waiting', 'active')
        {%- if is_incremental() %}
            -- an incremental run reads the intervals of the weeks it recomputes in full (the rebuilt items' come
            -- from int_work_items_rebuilt_intervals) by literal bounds the scan checks itself, so the history's
            -- intervals cost next to nothing; `pieces` applies the exact test
            {{- recomputed_periods_read(recomputed, 7, '>') }}
        {%- endif %}
    ) as intervals
    inner join {{ ref('work_items') }} as items on items.work_item_id = intervals.work_item_id
    where items.is_flow_item
    {%- if is_incremental() %}

    union all

    select * from rebuilt_intervals
    {%- endif %}
),

pieces as (
    -- An incremental run cuts each interval over the weeks it recomputes in full only.
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
),

recomputed_weeks as (
    select
        week_start,
        team,
        value_stream,
        status_name,
        flow_state,
        -- whole microseconds, summed exactly: a sum of fractional hours depends on the order the rows come
        -- in, which no two warehouses (nor two parallel runs) share
        sum({{ piece_microseconds }})::bigint as item_microseconds,
        count(distinct work_item_id) as items
    from pieces
    -- complete weeks only, as for the other signals
    where week_start + interval '7 day' <= as_of_at
    group by week_start, team, value_stream, status_name, flow_state
)

{%- if not is_incremental() %}

select * from recomputed_weeks
{%- else %},

first_recomputed as (
    select {{ first_period_to_rebuild('week') }} as first_week
),

current_intervals as (
    select * from rebuilt_intervals
),

changed_intervals as (
    -- an interval the same before and after (a reopened item's earlier work) changes no week; sign -1 takes
    -- the previous build's contribution away, +1 adds the new one
    select -1 as sign, removed.* from (select * from previous_intervals except all select * from current_intervals)
        as removed
    union all
    select 1, added.* from (select * from current_intervals except all select * from previous_intervals) as added
),

changed_spans as (
    select
        changed.*,
        {{ interval_changed_from(['work_item_id', 'team', 'value_stream', 'status_name', 'flow_state', 'started_at']) }}
            as changed_from
    from changed_intervals as changed
),

changed_pieces as (
    -- each changed interval over its weeks from where it changed on (interval_changed_from)
    select
        changed.*,
        {{ timestamp_series_rows(
            changed_from_week,
            'least(' ~ last_week ~ ", first_recomputed.first_week::timestamp - interval '1 week')",
            "interval '1 week'"
        ) }}::date as week_start
    from changed_spans as changed
    cross join first_recomputed
    where ended_at > started_at and {{ changed_from_week }} < first_recomputed.first_week
),

touched_items as (
    -- an item is in a week's status when any of its intervals is: it counts in or out only where it was
    -- there before and is not now, or the other way round, wherever its unchanged intervals are
    select distinct work_item_id, week_start, team, value_stream, status_name, flow_state
    from changed_pieces
),

item_presence as (
    select
        touched.week_start,
        touched.team,
        touched.value_stream,
        touched.status_name,
        touched.flow_state,
        {%- for side, relation in [('before', 'previous_intervals'), ('after', 'current_intervals')] %}
        case when exists (
            select 1 from {{ relation }} as side_intervals
            where side_intervals.work_item_id = touched.work_item_id
                and side_intervals.team = touched.team
                and side_intervals.value_stream = touched.value_stream
                and side_intervals.status_name = touched.status_name
                and side_intervals.flow_state = touched.flow_state
                and side_intervals.ended_at > side_intervals.started_at
                and side_intervals.started_at < touched.week_start + interval '7 day'
                and side_intervals.ended_at > touched.week_start
        ) then 1 else 0 end as is_{{ side }}{{ ',' if loop.first }}
        {%- endfor %}
    from touched_items as touched
),

week_changes as (
    select week_start, team, value_stream, status_name, flow_state,
        sum(sign * {{ piece_microseconds }})::bigint as item_microseconds, 0 as items
    from changed_pieces
    group by week_start, team, value_stream, status_name, flow_state
    union all
    select week_start, team, value_stream, status_name, flow_state, 0, sum(is_after - is_before)
    from item_presence
    group by week_start, team, value_stream, status_name, flow_state
),

updated_weeks as (
    select week_start, team, value_stream, status_name, flow_state,
        sum(item_microseconds)::bigint as item_microseconds, sum(items) as items
    from week_changes
    group by week_start, team, value_stream, status_name, flow_state
)

select * from recomputed_weeks
where week_start in {{ flow_periods_to_rebuild('week') }}

union all

-- a status-week left with no item is written with 0 and deleted after the insert (macros/flow_periods.sql)
select
    changes.week_start,
    changes.team,
    changes.value_stream,
    changes.status_name,
    changes.flow_state,
    (coalesce(built.item_microseconds, 0) + changes.item_microseconds)::bigint as item_microseconds,
    (coalesce(built.items, 0) + changes.items)::bigint as items
from updated_weeks as changes
left join {{ this }} as built
    on built.week_start = changes.week_start
    and built.team = changes.team
    and built.value_stream = changes.value_stream
    and built.status_name = changes.status_name
    and built.flow_state = changes.flow_state
{%- endif %}
