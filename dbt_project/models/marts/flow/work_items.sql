-- One row per work item with its flow timestamps and times. Definitions: docs/METRICS.md.

with issues as (
    select
        issues.source_instance,
        issues.issue_id,
        issues.issue_key,
        issues.project_key,
        issues.issue_type,
        coalesce(status_mapping.status_name, issues.status_name) as status_name,
        status_mapping.flow_state,
        issues.created_at
    from {{ ref('stg_jira__issues') }} as issues
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
        started_at,
        lag(flow_state) over (
            partition by source_instance, issue_id order by interval_index
        ) as previous_flow_state
    from {{ ref('int_work_items_status_intervals') }}
    where flow_state <> 'ignore'
),

flow_events as (
    select
        source_instance,
        issue_id,
        min(started_at) filter (where flow_state = 'active') as first_active_at,
        max(started_at) filter (
            where flow_state = 'done' and previous_flow_state is distinct from 'done'
        ) as last_done_entered_at,
        max(started_at) filter (
            where flow_state = 'canceled' and previous_flow_state is distinct from 'canceled'
        ) as last_canceled_entered_at,
        count(*) filter (
            where previous_flow_state = 'done' and flow_state in ('new', 'waiting', 'active')
        ) as reopen_count
    from flow_intervals
    group by source_instance, issue_id
),

work_items as (
    select
        issues.source_instance || ':' || issues.issue_id as work_item_id,
        issues.source_instance,
        issues.issue_id,
        issues.issue_key,
        issues.project_key,
        issues.issue_type,
        issues.status_name,
        issues.flow_state,
        issues.created_at,
        flow_events.first_active_at,
        case when issues.flow_state = 'done' then flow_events.last_done_entered_at end as completed_at,
        case when issues.flow_state = 'canceled' then flow_events.last_canceled_entered_at end as canceled_at,
        coalesce(issues.flow_state = 'done', false) as is_done,
        coalesce(issues.flow_state = 'canceled', false) as is_canceled,
        coalesce(flow_events.reopen_count, 0) as reopen_count
    from issues
    left join flow_events
        on flow_events.source_instance = issues.source_instance
        and flow_events.issue_id = issues.issue_id
)

select
    work_item_id,
    source_instance,
    issue_id,
    issue_key,
    project_key,
    issue_type,
    status_name,
    flow_state,
    created_at,
    first_active_at,
    completed_at,
    canceled_at,
    is_done,
    is_canceled,
    {{ hours_between('first_active_at', 'completed_at') }} as flow_time_hours,
    {{ hours_between('created_at', 'completed_at') }} as lead_time_hours,
    reopen_count
from work_items
