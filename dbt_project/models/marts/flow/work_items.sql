-- One row per work item with who owns it, what kind of work it is, and its flow timestamps and times.
-- Definitions: docs/METRICS.md#flow-metrics.
-- Incremental (docs/OPERATIONS.md#incremental-builds): a run rebuilds the items in int_work_items_to_rebuild.
-- depends_on: {{ ref('int_work_items_to_rebuild') }}
{{ config(**work_item_incremental()) }}

with issues as (
    select
        issues.source_instance,
        issues.issue_id,
        issues.issue_key,
        issues.project_key,
        issues.issue_type,
        coalesce(status_mapping.status_name, issues.status_name) as status_name,
        status_mapping.flow_state,
        issues.epic_key,
        issues.story_points,
        issues.created_at
    from {{ ref('stg_jira__issues') }} as issues
    {{- work_items_to_rebuild_only('issues') }}
    left join {{ ref('int_jira__status_mapping') }} as status_mapping
        on status_mapping.source_instance = issues.source_instance
        and status_mapping.project_key = issues.project_key
        and status_mapping.status_id = issues.status_id
),

flow_intervals as (
    -- `ignore` statuses are outside the flow: skipping them makes done -> Archived -> done one
    -- completion, not a reopen and a second completion.
    select
        source_instance,
        issue_id,
        flow_state,
        is_flagged,
        is_blocked,
        started_at,
        ended_at,
        duration_hours,
        lag(flow_state) over item_intervals as previous_flow_state,
        -- blocked time only counts from the first start of work; no interval straddles that moment
        -- because it is a status change
        min(case when flow_state = 'active' then started_at end) over (
            partition by source_instance, issue_id
        ) as first_active_at
    from {{ ref('work_item_state_intervals') }} as intervals
    {{- work_items_to_rebuild_only('intervals') }}
    where flow_state <> 'ignore'
    window item_intervals as (partition by source_instance, issue_id order by state_interval_index)
),

flow_events as (
    select
        source_instance,
        issue_id,
        min(first_active_at) as first_active_at,
        max(started_at) filter (
            where flow_state = 'done' and previous_flow_state is distinct from 'done'
        ) as last_done_entered_at,
        max(started_at) filter (
            where flow_state = 'canceled' and previous_flow_state is distinct from 'canceled'
        ) as last_canceled_entered_at,
        count(*) filter (
            where previous_flow_state = 'done' and flow_state in ('new', 'waiting', 'active')
        ) as reopen_count,
        -- For a done item every interval after its completion is done, so closed intervals are enough:
        -- active time cannot fall outside first active -> completed.
        coalesce(sum(duration_hours) filter (where flow_state = 'active' and not is_flagged), 0) as active_hours,
        coalesce(sum(duration_hours) filter (
            where is_blocked and flow_state in ('new', 'waiting', 'active') and started_at >= first_active_at
        ), 0) as blocked_hours
    from flow_intervals
    group by source_instance, issue_id
),

work_items as (
    select
        issues.source_instance || ':' || issues.issue_id as work_item_id,
        issues.*,
        flow_events.first_active_at,
        case when issues.flow_state = 'done' then flow_events.last_done_entered_at end as completed_at,
        case when issues.flow_state = 'canceled' then flow_events.last_canceled_entered_at end as canceled_at,
        coalesce(issues.flow_state = 'done', false) as is_done,
        coalesce(issues.flow_state = 'canceled', false) as is_canceled,
        coalesce(flow_events.reopen_count, 0) as reopen_count,
        flow_events.active_hours,
        flow_events.blocked_hours
    from issues
    left join flow_events
        on flow_events.source_instance = issues.source_instance
        and flow_events.issue_id = issues.issue_id
),

timed as (
    select
        *,
        {{ hours_between('first_active_at', 'completed_at') }} as flow_time_hours,
        {{ hours_between('created_at', 'completed_at') }} as lead_time_hours
    from work_items
)

select
    timed.work_item_id,
    timed.source_instance,
    timed.issue_id,
    timed.issue_key,
    timed.project_key,
    timed.issue_type,
    classified.flow_item_type,
    classified.team,
    classified.value_stream,
    timed.epic_key,
    classified.initiative_key,
    timed.status_name,
    timed.flow_state,
    timed.created_at,
    timed.first_active_at,
    timed.completed_at,
    timed.canceled_at,
    timed.is_done,
    timed.is_canceled,
    timed.flow_time_hours,
    timed.lead_time_hours,
    case when timed.flow_time_hours is not null then timed.active_hours end as active_time_hours,
    case when timed.flow_time_hours is not null then timed.flow_time_hours - timed.active_hours end
        as waiting_time_hours,
    case when timed.flow_time_hours is not null then timed.blocked_hours end as blocked_time_hours,
    case when timed.flow_time_hours > 0 then timed.active_hours / timed.flow_time_hours end as flow_efficiency,
    timed.reopen_count,
    timed.story_points
from timed
inner join {{ ref('int_work_items_classified') }} as classified
    on classified.source_instance = timed.source_instance
    and classified.issue_id = timed.issue_id
