-- One row per work item with who owns it, what kind of work it is, and its flow timestamps and times.
-- Containers (epics, initiatives) and sub-tasks keep their row with is_flow_item false: the flow marts
-- count flow items only (docs/METRICS.md#flow-items), the realization marts read the containers.
-- Definitions: docs/METRICS.md#flow-metrics.
-- Incremental (docs/OPERATIONS.md#incremental-builds): a run rebuilds the items in int_work_items_to_rebuild.
-- depends_on: {{ ref('int_work_items_to_rebuild') }}
-- depends_on: {{ ref('int_work_items_replaced_intervals') }} (reads this model's previous rows before they are replaced)
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
    from {{ ref('int_tracker_issues_unioned') }} as issues
    {{- work_items_to_rebuild_only('issues') }}
    left join {{ ref('int_tracker_status_mapping_unioned') }} as status_mapping
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
        -- whole microseconds, summed exactly; hours only at the end
        {{ microseconds_between('started_at', 'ended_at') }} as duration_us,
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
        -- the start of its age while in progress (flow load): kept here so the period models need not look
        -- through every interval of an item to find it
        min(started_at) filter (where flow_state in ('waiting', 'active')) as wip_started_at,
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
        -- an interval whose ends are out of time order (a change stamped before the creation) counts nothing
        coalesce(sum(greatest(duration_us, 0)) filter (where flow_state = 'active' and not is_flagged), 0)
            as active_us,
        coalesce(sum(greatest(duration_us, 0)) filter (
            where is_blocked and flow_state in ('new', 'waiting', 'active') and started_at >= first_active_at
        ), 0) as blocked_us
    from flow_intervals
    group by source_instance, issue_id
),

work_items as (
    select
        issues.source_instance || ':' || issues.issue_id as work_item_id,
        issues.*,
        flow_events.first_active_at,
        flow_events.wip_started_at,
        case when issues.flow_state = 'done' then flow_events.last_done_entered_at end as completed_at,
        case when issues.flow_state = 'canceled' then flow_events.last_canceled_entered_at end as canceled_at,
        coalesce(issues.flow_state = 'done', false) as is_done,
        coalesce(issues.flow_state = 'canceled', false) as is_canceled,
        coalesce(flow_events.reopen_count, 0) as reopen_count,
        flow_events.active_us,
        flow_events.blocked_us
    from issues
    left join flow_events
        on flow_events.source_instance = issues.source_instance
        and flow_events.issue_id = issues.issue_id
),

timed as (
    -- a completion stamped before the start (clock skew, imports) has no time rather than a negative one
    select
        *,
        case when completed_at >= first_active_at
            then {{ microseconds_between('first_active_at', 'completed_at') }} end as flow_time_us,
        case when completed_at >= created_at
            then {{ microseconds_between('created_at', 'completed_at') }} end as lead_time_us
    from work_items
),

bounded as (
    -- active and blocked time lie inside flow time (for a done item every interval after its completion is
    -- done); the bound only guards against histories whose intervals overlap that span oddly
    select
        *,
        case when flow_time_us is not null then least(active_us, flow_time_us) end as flow_active_us,
        case when flow_time_us is not null then least(blocked_us, flow_time_us) end as flow_blocked_us
    from timed
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
    timed.wip_started_at,
    timed.completed_at,
    timed.canceled_at,
    timed.is_done,
    timed.is_canceled,
    {{ microseconds_to_hours('timed.flow_time_us') }} as flow_time_hours,
    {{ microseconds_to_hours('timed.lead_time_us') }} as lead_time_hours,
    {{ microseconds_to_hours('timed.flow_active_us') }} as active_time_hours,
    {{ microseconds_to_hours('timed.flow_time_us - timed.flow_active_us') }} as waiting_time_hours,
    {{ microseconds_to_hours('timed.flow_blocked_us') }} as blocked_time_hours,
    -- a ratio of two integers with numerator <= denominator: never above 1, exactly 1 when all time was active
    case when timed.flow_time_us > 0 then timed.flow_active_us::float8 / timed.flow_time_us end as flow_efficiency,
    timed.reopen_count,
    timed.story_points,
    classified.issue_type_hierarchy_level,
    classified.is_flow_item
from bounded as timed
inner join {{ ref('int_work_items_classified') }} as classified
    on classified.source_instance = timed.source_instance
    and classified.issue_id = timed.issue_id
