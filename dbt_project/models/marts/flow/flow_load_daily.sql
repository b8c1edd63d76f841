-- Work in progress per day, team, value stream and flow item type, with the age of the oldest item.
-- Definitions: docs/METRICS.md#flow-load.
-- The counts are int_flow_load_daily's (incremental by day); this model adds the days without work in
-- progress, so its cost follows days x groups, not the history of items.

with as_of as (
    select {{ flow_as_of() }} as as_of_at
),

axis as (
    -- every day from the first item of a team / value stream / type to the as-of day, so a day with no
    -- WIP is a zero row, not a missing one; flow items only, as the counts
    select
        items.team,
        items.value_stream,
        items.flow_item_type,
        {{ timestamp_series_rows('min(items.created_at)::date', 'max(as_of.as_of_at)::date', "interval '1 day'") }}::date
            as day
    from {{ ref('work_items') }} as items
    cross join as_of
    where items.is_flow_item
    group by items.team, items.value_stream, items.flow_item_type
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
left join {{ ref('int_flow_load_daily') }} as daily
    on daily.team = axis.team
    and daily.value_stream = axis.value_stream
    and daily.flow_item_type = axis.flow_item_type
    and daily.day = axis.day
