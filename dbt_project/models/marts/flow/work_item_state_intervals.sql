-- Every stretch of time a work item spent in one status with one flag state, gap-free from creation to
-- now: the status intervals, cut again wherever the impediment flag was raised or cleared inside one.
-- Definitions: docs/METRICS.md#state-intervals.

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
    left join {{ ref('int_jira__status_mapping') }} as status_mapping
        on status_mapping.source_instance = intervals.source_instance
        and status_mapping.project_key = intervals.project_key
        and status_mapping.status_id = intervals.status_id
),

flag_changes as (
    -- several flag items at one instant: the last one written decides
    select
        source_instance || ':' || issue_id as work_item_id,
        changed_at,
        is_flagged
    from {{ ref('stg_jira__flag_changes') }}
    qualify row_number() over (
        partition by source_instance, issue_id, changed_at
        order by try_cast(history_id as bigint) desc, history_id desc, item_index desc
    ) = 1
),

inner_flag_cuts as (
    -- a flag change strictly inside a status interval starts a new piece of it; one at the interval's
    -- start only sets that interval's flag (read below), so no empty pieces appear
    select
        status_intervals.* exclude (started_at),
        flag_changes.changed_at as started_at
    from flag_changes
    asof inner join status_intervals
        on status_intervals.work_item_id = flag_changes.work_item_id
        and status_intervals.started_at <= flag_changes.changed_at
    where flag_changes.changed_at > status_intervals.started_at
        and (status_intervals.ended_at is null or flag_changes.changed_at < status_intervals.ended_at)
),

pieces as (
    select * exclude (ended_at) from status_intervals
    union all by name
    select * exclude (ended_at) from inner_flag_cuts
),

flagged_pieces as (
    select
        pieces.*,
        coalesce(flag_changes.is_flagged, false) as is_flagged
    from pieces
    asof left join flag_changes
        on flag_changes.work_item_id = pieces.work_item_id
        and flag_changes.changed_at <= pieces.started_at
),

state_intervals as (
    select
        *,
        row_number() over item_pieces - 1 as state_interval_index,
        lead(started_at) over item_pieces as ended_at
    from flagged_pieces
    window item_pieces as (partition by work_item_id order by started_at, status_interval_index)
)

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
    {{ hours_between('started_at', 'ended_at') }} as duration_hours
from state_intervals
