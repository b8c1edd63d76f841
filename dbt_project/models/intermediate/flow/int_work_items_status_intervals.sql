-- Every stretch of time a Jira issue spent in one status, gap-free from creation to now.
-- Interval 0 starts at creation; each status change starts the next one and ends the previous one.
-- Built with one window over (issue, event order) so it stays a single sort at changelog scale.
-- Incremental (docs/OPERATIONS.md#incremental-builds): a run rebuilds the items in int_work_items_to_rebuild.
-- depends_on: {{ ref('int_work_items_to_rebuild') }}
{{ config(**work_item_incremental()) }}

with issues as (
    select issues.source_instance, issues.issue_id, issues.issue_key, issues.project_key, issues.status_id,
        issues.status_name, issues.created_at
    from {{ ref('int_tracker_issues_unioned') }} as issues
    {{- work_items_to_rebuild_only('issues') }}
),

interval_starts as (
    -- The creation event carries the current status only as a fallback: when the issue has changed
    -- status, its first interval is in the `from` status of the first change (read via lead below).
    select
        source_instance,
        issue_id,
        0 as event_order,
        created_at as started_at,
        null::bigint as history_number,
        null::varchar as history_id,
        null::bigint as item_index,
        status_id,
        status_name,
        null::varchar as from_status_id,
        null::varchar as from_status_name
    from issues

    union all

    select
        source_instance,
        issue_id,
        1 as event_order,
        changed_at,
        {{ try_cast('history_id', 'bigint') }},
        history_id,
        item_index,
        to_status_id,
        to_status_name,
        from_status_id,
        from_status_name
    from {{ ref('int_tracker_status_changes_unioned') }} as changes
    {{- work_items_to_rebuild_only('changes') }}
),

intervals as (
    select
        source_instance,
        issue_id,
        row_number() over issue_events - 1 as interval_index,
        started_at,
        lead(started_at) over issue_events as ended_at,
        case
            when event_order = 0 and lead(event_order) over issue_events is not null
                then lead(from_status_id) over issue_events
            else status_id
        end as status_id,
        case
            when event_order = 0 and lead(event_order) over issue_events is not null
                then lead(from_status_name) over issue_events
            else status_name
        end as status_name
    from interval_starts
    window issue_events as (
        partition by source_instance, issue_id
        -- creation first even if a change is stamped earlier (imports, clock skew); then the changes
        -- in time order, ties broken by history id (numeric in Jira) and item position
        order by event_order, started_at, history_number, history_id, item_index
    )
)

select
    intervals.source_instance || ':' || intervals.issue_id || ':' || intervals.interval_index
        as status_interval_id,
    intervals.source_instance || ':' || intervals.issue_id as work_item_id,
    intervals.source_instance,
    intervals.issue_id,
    issues.issue_key,
    issues.project_key,
    intervals.interval_index,
    intervals.status_id,
    -- the status's current name, so renamed statuses group together; the changelog's if unknown
    coalesce(status_mapping.status_name, intervals.status_name) as status_name,
    status_mapping.status_category_key,
    status_mapping.flow_state,
    intervals.started_at,
    intervals.ended_at,
    intervals.ended_at is null as is_current,
    -- a change stamped before the one it follows (imports, clock skew) makes an interval out of time order:
    -- its duration is unknown, never negative
    case when intervals.ended_at >= intervals.started_at
        then {{ hours_between('intervals.started_at', 'intervals.ended_at') }} end as duration_hours
from intervals
-- inner join: changelog rows of issues no longer extracted (deleted, moved out of scope) drop out
inner join issues
    on issues.source_instance = intervals.source_instance
    and issues.issue_id = intervals.issue_id
left join {{ ref('int_tracker_status_mapping_unioned') }} as status_mapping
    on status_mapping.source_instance = intervals.source_instance
    and status_mapping.project_key = issues.project_key
    and status_mapping.status_id = intervals.status_id
