-- The days and weeks an incremental build recomputes in the period-partitioned flow models
-- (docs/OPERATIONS.md#incremental-builds): int_flow_load_daily deletes and inserts the days listed here,
-- int_signal_status_weeks the weeks. A period is listed when
-- 1. a waiting or active interval of a rebuilt item counted in it before this build
--    (int_work_items_replaced_intervals) and not after it, or the other way round (an interval moved, changed
--    status, team or type, appeared or vanished), or the item's first step into progress moved (its age
--    counts on all its days), or
-- 2. it is at or after the last period the previous build holds: the as-of time moved, so open intervals
--    reach further and weeks become complete.
-- Every other period's rows come from items whose intervals did not change, so they stand as built. Listing
-- a period that did not change only costs its recomputation: each interval counts from its first day to its
-- last, a little wider than the exact rules of the consumers. The consumers are read without ref(): it is
-- their previous build's last period that is wanted. A full build does not read this model.

{%- set built_days = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_flow_load_daily') %}
{%- set built_weeks = adapter.get_relation(database=this.database, schema=this.schema, identifier='int_signal_status_weeks') %}
{#- an empty previous build (no work in progress, or no complete week yet) recomputes every period from the
    first step into waiting or active on #}
{%- set before_any_work %}(
    select min(started_at)::date from {{ ref('work_item_state_intervals') }} where flow_state in ('waiting', 'active')
){% endset %}

with as_of as (
    select {{ flow_as_of() }} as as_of_at
),

previous_intervals as (
    select work_item_id, flow_state, status_name, started_at, ended_at, team, value_stream, flow_item_type,
        is_flow_item
    from {{ ref('int_work_items_replaced_intervals') }}
),

current_intervals as (
    select
        intervals.work_item_id,
        intervals.flow_state,
        intervals.status_name,
        intervals.started_at,
        intervals.ended_at,
        items.team,
        items.value_stream,
        items.flow_item_type,
        items.is_flow_item
    from {{ ref('work_item_state_intervals') }} as intervals
    {{ flow_rebuild_join('intervals') }}
    inner join {{ ref('work_items') }} as items on items.work_item_id = intervals.work_item_id
    where intervals.flow_state in ('waiting', 'active')
),

moved_starts as (
    -- an item whose first step into waiting or active moved: its age changes on every day it is in progress
    select coalesce(previous.work_item_id, current_starts.work_item_id) as work_item_id
    from (select work_item_id, min(started_at) as wip_started_at from previous_intervals group by work_item_id)
        as previous
    full outer join (
        select work_item_id, min(started_at) as wip_started_at from current_intervals group by work_item_id
    ) as current_starts on current_starts.work_item_id = previous.work_item_id
    where previous.wip_started_at is distinct from current_starts.wip_started_at
),

changed_intervals as (
    -- an interval the same before and after (a reopened item's earlier work) changes no period
    (select * from previous_intervals except all select * from current_intervals)
    union all
    (select * from current_intervals except all select * from previous_intervals)
    union all
    select * from previous_intervals where work_item_id in (select work_item_id from moved_starts)
    union all
    select * from current_intervals where work_item_id in (select work_item_id from moved_starts)
),

spans as (
    -- an interval still open runs to the as-of time
    select
        changed_intervals.started_at as first_at,
        least(coalesce(changed_intervals.ended_at, as_of.as_of_at), as_of.as_of_at) as last_at
    from changed_intervals
    cross join as_of
    where changed_intervals.started_at <= as_of.as_of_at
),

days as (
    select {{ timestamp_series_rows('first_at::date', 'last_at::date', "interval '1 day'") }}::date as period_start
    from spans
    {%- if built_days %}

    union all

    select {{ timestamp_series_rows(
        "coalesce((select max(day) from " ~ built_days ~ "), " ~ before_any_work ~ ")",
        'as_of_at::date',
        "interval '1 day'"
    ) }}::date
    from as_of
    {%- endif %}
),

weeks as (
    select {{ timestamp_series_rows(
        "date_trunc('week', first_at)", "date_trunc('week', last_at)", "interval '1 week'"
    ) }}::date as period_start
    from spans
    {%- if built_weeks %}

    union all

    select {{ timestamp_series_rows(
        "date_trunc('week', coalesce((select max(week_start) from " ~ built_weeks ~ "), " ~ before_any_work ~ ")::timestamp)",
        "date_trunc('week', as_of_at)",
        "interval '1 week'"
    ) }}::date
    from as_of
    {%- endif %}
)

{#- a first or full build of the consumers reads nothing here: list nothing rather than every period #}
{%- set consumers_built = (built_days or built_weeks) and not flags.FULL_REFRESH %}
select distinct 'day' as grain, period_start from days{% if not consumers_built %} where false{% endif %}
union all
select distinct 'week' as grain, period_start from weeks{% if not consumers_built %} where false{% endif %}
