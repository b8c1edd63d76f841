-- Where the capacity went each month: the items completed and their flow time per value stream, flow item
-- type and objective, as shares of the month. Definitions: docs/METRICS.md#investment-distribution.

with completed as (
    -- epics and initiatives are containers: their own flow time would count their items' time again
    select work_items.*
    from {{ ref('work_items') }} as work_items
    inner join {{ ref('int_work_items_hierarchy') }} as hierarchy on hierarchy.work_item_id = work_items.work_item_id
    where work_items.is_done and hierarchy.hierarchy_level = 'item'
),

objectives as (
    select distinct
        linked_issues.work_item_id,
        key_results.objective_id,
        key_results.objective
    from {{ ref('int_key_result_work_items') }} as linked_issues
    inner join {{ ref('stg_outcomes__key_results') }} as key_results
        on key_results.source_instance = linked_issues.key_result_source_instance
        and key_results.key_result_id = linked_issues.key_result_id
),

shares as (
    -- an item working towards n objectives counts 1/n towards each, so a month's shares add up to 1
    select
        date_trunc('month', completed.completed_at)::date as month_start,
        completed.value_stream,
        completed.flow_item_type,
        coalesce(objectives.objective_id, 'unlinked') as objective_id,
        coalesce(objectives.objective, 'unlinked') as objective,
        1.0::float8 / count(*) over (partition by completed.work_item_id) as weight,
        completed.story_points,
        completed.flow_time_hours,
        completed.active_time_hours
    from completed
    left join objectives on objectives.work_item_id = completed.work_item_id
),

grouped as (
    select
        month_start,
        value_stream,
        flow_item_type,
        objective_id,
        objective,
        sum(weight)::float8 as completed_items,
        coalesce(sum(weight * story_points), 0)::float8 as completed_story_points,
        coalesce(sum(weight * flow_time_hours), 0)::float8 as flow_time_hours,
        coalesce(sum(weight * active_time_hours), 0)::float8 as active_time_hours
    from shares
    group by month_start, value_stream, flow_item_type, objective_id, objective
)

select
    *,
    completed_items / sum(completed_items) over month_total as share_of_items,
    flow_time_hours / nullif(sum(flow_time_hours) over month_total, 0) as share_of_flow_time
from grouped
window month_total as (partition by month_start)
