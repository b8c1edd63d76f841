-- Every stretch of time a work item spent in one status with one flag state, gap-free from creation to
-- now: the status intervals, cut again wherever the impediment flag was raised or cleared inside one.
-- Definitions: docs/METRICS.md#state-intervals.
-- Most items are never flagged: their status intervals are their state intervals as they are, so only
-- the items with a flag change (or a change stamped before creation, whose order the window below
-- settles) go through the as-of joins and the window; at 10M changelog rows that is most of the cost.
-- Those steps are DuckDB's tuned SQL (semi/anti and AS OF joins) with a PostgreSQL twin: macros/portable/flow.sql.
-- Incremental (docs/OPERATIONS.md#incremental-builds): a run rebuilds the items in int_work_items_to_rebuild.
-- depends_on: {{ ref('int_work_items_to_rebuild') }}
-- depends_on: {{ ref('int_tracker_issues_unioned') }} (the post-hook's live issues)
-- depends_on: {{ ref('int_work_items_replaced_intervals') }} (reads this model's previous rows before they are replaced)
{{ config(**work_item_incremental()) }}

with status_intervals as (
    select
        intervals.work_item_id,
        intervals.source_instance,
        intervals.issue_id,
        intervals.issue_key,
        intervals.project_key,
        intervals.interval_index as status_interval_index,
        intervals.status_id,
        intervals.status_name,
        intervals.status_category_key,
        intervals.flow_state,
        coalesce(status_mapping.is_blocked_status, false) as is_blocked_status,
        intervals.started_at,
        intervals.ended_at
    from {{ ref('int_work_items_status_intervals') }} as intervals
    {{- work_items_to_rebuild_only('intervals') }}
    left join {{ ref('int_tracker_status_mapping_unioned') }} as status_mapping
        on status_mapping.source_instance = intervals.source_instance
        and status_mapping.project_key = intervals.project_key
        and status_mapping.status_id = intervals.status_id
),

{{ flow_state_interval_ctes(
    '(select flags.* from ' ~ ref('int_jira__issue_flag_changes') ~ ' as flags '
    ~ work_items_to_rebuild_only('flags') ~ ') as flag_change_items'
) }}

select
    work_item_id || ':' || state_interval_index as state_interval_id,
    work_item_id,
    source_instance,
    issue_id,
    issue_key,
    project_key,
    state_interval_index,
    status_interval_index,
    status_id,
    status_name,
    status_category_key,
    flow_state,
    is_flagged,
    is_blocked_status,
    is_flagged or is_blocked_status as is_blocked,
    started_at,
    ended_at,
    ended_at is null as is_current,
    -- out of time order (a change stamped before the one it follows): unknown, never negative
    case when ended_at >= started_at then {{ hours_between('started_at', 'ended_at') }} end as duration_hours
from state_intervals
