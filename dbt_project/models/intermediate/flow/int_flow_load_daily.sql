-- Work in progress per day, team, value stream and flow item type, on the days something was in progress:
-- flow_load_daily adds the zero days. Definitions: docs/METRICS.md#flow-load.
-- Incremental (docs/OPERATIONS.md#incremental-builds, macros/flow_periods.sql): a run recomputes the days of
-- int_flow_periods_to_rebuild (from the previous build's last day on) from every item, and updates the
-- earlier days by the rebuilt items' changed intervals only: counts are added and subtracted; the oldest
-- age is a minimum, so a day whose oldest item left (and no older one came) is recomputed from every item
-- of its group on that day. Each WIP interval is expanded only over its own days (generate_series per
-- interval), never all items x all days, so the cost follows the data, not the calendar.
-- depends_on: {{ ref('int_flow_periods_to_rebuild') }}
-- depends_on: {{ ref('int_work_items_to_rebuild') }}
-- depends_on: {{ ref('int_work_items_replaced_intervals') }}
-- depends_on: {{ ref('int_work_items_rebuilt_intervals') }}
{{ config(**flow_period_incremental('day', 'day', ['day', 'team', 'value_stream', 'flow_item_type'], 'wip_items')) }}

{%- set last_day = "coalesce((ended_at - interval '1 day')::date, as_of_at::date)" %}
{%- set age_at_day_end = "least(day + interval '1 day', max(as_of_at))" %}
{%- set recomputed = flow_period_bounds('day') %}
{#- how every interval's end is read, from the state intervals or from the rebuilt and replaced ones (alias
    `intervals`; state_intervals says why) #}
{%- set end_before_as_of = "case when intervals.ended_at < as_of.as_of_at then intervals.ended_at end" %}

with as_of as (
    select {{ flow_as_of() }} as as_of_at
),
{%- if is_incremental() %}

bounds as (
    select min(period_start) as first_day, max(period_start) as last_day
    from {{ flow_periods_to_rebuild('day') }} as days
),
{%- endif %}

state_intervals as (
    -- an interval still open at the as-of time runs to it
    select
        intervals.work_item_id,
        intervals.flow_state,
        intervals.started_at,
        {{ end_before_as_of }} as ended_at,
        as_of.as_of_at
    from {{ ref('work_item_state_intervals') }} as intervals
    cross join as_of
    where intervals.flow_state in ('waiting', 'active') and intervals.started_at < as_of.as_of_at
    {%- if is_incremental() %}
        -- an incremental run reads the intervals of the days it recomputes in full (the rebuilt items' come
        -- from int_work_items_rebuilt_intervals) by literal bounds the scan checks itself, so the history's
        -- intervals cost next to nothing; `recent_intervals` applies the exact test
        {{- recomputed_periods_read(recomputed, 1, '>=') }}
    {%- endif %}
),
{%- if is_incremental() %}

{%- for cte, model in [('rebuilt_intervals', 'int_work_items_rebuilt_intervals'),
                       ('previous_intervals', 'int_work_items_replaced_intervals')] %}

{{ cte }} as (
    -- the rebuilt items' intervals as this run wrote them (rebuilt) or the previous build counted them
    -- (previous), read with the same rules as state_intervals (on the days before first_day the as-of time
    -- makes no difference)
    select
        intervals.work_item_id,
        intervals.team,
        intervals.value_stream,
        intervals.flow_item_type,
        intervals.flow_state,
        intervals.started_at,
        {{ end_before_as_of }} as ended_at,
        as_of.as_of_at
        {%- if cte == 'rebuilt_intervals' %},
        intervals.wip_started_at
        {%- endif %}
    from {{ ref(model) }} as intervals
    cross join as_of
    where intervals.flow_state in ('waiting', 'active') and intervals.is_flow_item
        and intervals.started_at < as_of.as_of_at
),
{%- endfor %}
{%- endif %}

wip_intervals as (
    -- flow items only: an epic is "in progress" while its stories are, which would count that work twice; the
    -- item's age counts from its first step into waiting or active, wherever the interval sits in its life
    select intervals.work_item_id, items.team, items.value_stream, items.flow_item_type, intervals.flow_state,
        intervals.started_at, intervals.ended_at, intervals.as_of_at, items.wip_started_at
    from state_intervals as intervals
    inner join {{ ref('work_items') }} as items on items.work_item_id = intervals.work_item_id
    where items.is_flow_item
    {%- if is_incremental() %}

    union all

    select * from rebuilt_intervals
    {%- endif %}
),

recent_intervals as (
    -- the intervals in progress at the end of a day recomputed in full (in a full build: every one)
    select wip_intervals.*
    from wip_intervals
    {%- if is_incremental() %}
    cross join bounds
    where started_at::date <= bounds.last_day and {{ last_day }} >= bounds.first_day
    {%- endif %}
),

snapshots as (
    -- The state at a day's end is the state just before midnight: the interval covers it when
    -- started_at < day + 1 <= ended_at, i.e. from the day it started to the day before it ended; on the
    -- as-of day the snapshot is the as-of time. The bounds are exact, so no row needs filtering after.
    -- An incremental run expands each interval over the days it recomputes in full only.
    select
        recent_intervals.*,
        {{ timestamp_series_rows(
            'greatest(started_at::date, bounds.first_day)' if is_incremental() else 'started_at::date',
            'least(' ~ last_day ~ ', bounds.last_day)' if is_incremental() else last_day,
            "interval '1 day'"
        ) }}::date as day
    from recent_intervals
    {%- if is_incremental() %}
    cross join bounds
    {%- endif %}
),

recomputed_days as (
    select
        day,
        team,
        value_stream,
        flow_item_type,
        count(*) as wip_items,
        count(*) filter (where flow_state = 'active') as active_items,
        count(*) filter (where flow_state = 'waiting') as waiting_items,
        {{ hours_between('min(wip_started_at)', age_at_day_end) }} as oldest_item_age_hours
    from snapshots
    group by day, team, value_stream, flow_item_type
)

{%- if not is_incremental() %}

select * from recomputed_days
{%- else %},

first_recomputed as (
    select {{ first_period_to_rebuild('day') }} as first_day
),

current_intervals as (
    -- the columns of previous_intervals
    select work_item_id, team, value_stream, flow_item_type, flow_state, started_at, ended_at, as_of_at
    from rebuilt_intervals
),

previous_starts as (
    select work_item_id, min(started_at) as wip_started_at from previous_intervals group by work_item_id
),

current_starts as (
    select work_item_id, min(started_at) as wip_started_at from current_intervals group by work_item_id
),

moved_starts as (
    -- an item whose first step into waiting or active moved: its age changes on every day it is in progress
    select coalesce(previous_starts.work_item_id, current_starts.work_item_id) as work_item_id
    from previous_starts
    full outer join current_starts on current_starts.work_item_id = previous_starts.work_item_id
    where previous_starts.wip_started_at is distinct from current_starts.wip_started_at
),

changed_intervals as (
    -- an interval the same before and after (a reopened item's earlier work) changes no day; sign -1 takes
    -- the previous build's contribution away, +1 adds the new one, from the day it changed on
    -- (interval_changed_from); a moved start changes the age on every day of the item
    select
        changed.*,
        {{ interval_changed_from(['work_item_id', 'team', 'value_stream', 'flow_item_type', 'flow_state', 'started_at']) }}
            as changed_from
    from (
        select -1 as sign, removed.* from (
            select * from previous_intervals where work_item_id not in (select work_item_id from moved_starts)
            except all
            select * from current_intervals
        ) as removed
        union all
        select 1, added.* from (
            select * from current_intervals where work_item_id not in (select work_item_id from moved_starts)
            except all
            select * from previous_intervals
        ) as added
    ) as changed
    union all
    select -1, *, started_at from previous_intervals where work_item_id in (select work_item_id from moved_starts)
    union all
    select 1, *, started_at from current_intervals where work_item_id in (select work_item_id from moved_starts)
),

changed_days as (
    select
        changed.sign,
        changed.team,
        changed.value_stream,
        changed.flow_item_type,
        changed.flow_state,
        changed.as_of_at,
        case when changed.sign < 0 then previous_starts.wip_started_at else current_starts.wip_started_at end
            as wip_started_at,
        {{ timestamp_series_rows(
            'changed.changed_from::date',
            'least(' ~ last_day ~ ', first_recomputed.first_day - 1)',
            "interval '1 day'"
        ) }}::date as day
    from changed_intervals as changed
    cross join first_recomputed
    left join previous_starts on previous_starts.work_item_id = changed.work_item_id
    left join current_starts on current_starts.work_item_id = changed.work_item_id
    where changed.changed_from::date < first_recomputed.first_day
),

day_changes as (
    select
        day,
        team,
        value_stream,
        flow_item_type,
        sum(sign) as wip_items,
        coalesce(sum(sign) filter (where flow_state = 'active'), 0) as active_items,
        coalesce(sum(sign) filter (where flow_state = 'waiting'), 0) as waiting_items,
        {{ hours_between('min(wip_started_at) filter (where sign < 0)', age_at_day_end) }} as removed_age_hours,
        {{ hours_between('min(wip_started_at) filter (where sign > 0)', age_at_day_end) }} as added_age_hours
    from changed_days
    group by day, team, value_stream, flow_item_type
),

updated_days as (
    -- the oldest age stands when no removed item was as old, else an added item at least as old is the
    -- oldest; otherwise (the oldest left, nobody as old came) the day is recomputed below
    select
        changes.day,
        changes.team,
        changes.value_stream,
        changes.flow_item_type,
        (coalesce(built.wip_items, 0) + changes.wip_items)::bigint as wip_items,
        (coalesce(built.active_items, 0) + changes.active_items)::bigint as active_items,
        (coalesce(built.waiting_items, 0) + changes.waiting_items)::bigint as waiting_items,
        case
            when changes.removed_age_hours is null or changes.removed_age_hours < built.oldest_item_age_hours
                then coalesce(
                    greatest(built.oldest_item_age_hours, changes.added_age_hours),
                    built.oldest_item_age_hours,
                    changes.added_age_hours
                )
            when changes.added_age_hours >= built.oldest_item_age_hours then changes.added_age_hours
        end as oldest_item_age_hours,
        not coalesce(
            changes.removed_age_hours is null or changes.removed_age_hours < built.oldest_item_age_hours
                or changes.added_age_hours >= built.oldest_item_age_hours,
            false
        ) as oldest_left
    from day_changes as changes
    left join {{ this }} as built
        on built.day = changes.day
        and built.team = changes.team
        and built.value_stream = changes.value_stream
        and built.flow_item_type = changes.flow_item_type
),

oldest_left_days as (
    select * from updated_days where oldest_left and wip_items > 0
),

oldest_left_intervals as (
    -- every interval in progress at the end of a day whose oldest item left, in that day's group (read from
    -- the whole history: wip_intervals holds the recent days' only)
    select days.day, days.team, days.value_stream, days.flow_item_type, items.wip_started_at, as_of.as_of_at
    from oldest_left_days as days
    cross join as_of
    inner join {{ ref('work_items') }} as items
        on items.team = days.team
        and items.value_stream = days.value_stream
        and items.flow_item_type = days.flow_item_type
        and items.is_flow_item
    inner join {{ ref('work_item_state_intervals') }} as intervals
        on intervals.work_item_id = items.work_item_id
        and intervals.flow_state in ('waiting', 'active')
        and intervals.started_at::date <= days.day
        -- these days are before the recomputed ones, so before the as-of day: an open interval covers them
        and coalesce((intervals.ended_at - interval '1 day')::date, days.day) >= days.day
),

oldest_recomputed as (
    select
        days.day,
        days.team,
        days.value_stream,
        days.flow_item_type,
        {{ hours_between('min(days.wip_started_at)', age_at_day_end) }} as oldest_item_age_hours
    from oldest_left_intervals as days
    group by days.day, days.team, days.value_stream, days.flow_item_type
)

select * from recomputed_days
where day in {{ flow_periods_to_rebuild('day') }}

union all

-- a day left with no item is written with 0 and deleted after the insert (macros/flow_periods.sql)
select
    updated.day,
    updated.team,
    updated.value_stream,
    updated.flow_item_type,
    updated.wip_items,
    updated.active_items,
    updated.waiting_items,
    case when updated.oldest_left then oldest.oldest_item_age_hours else updated.oldest_item_age_hours end
        as oldest_item_age_hours
from updated_days as updated
left join oldest_recomputed as oldest
    on oldest.day = updated.day
    and oldest.team = updated.team
    and oldest.value_stream = updated.value_stream
    and oldest.flow_item_type = updated.flow_item_type
{%- endif %}
