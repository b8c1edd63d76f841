-- Every stretch of time a work item spent in one status with one flag state, gap-free from creation to
-- now: the status intervals, cut again wherever the impediment flag was raised or cleared inside one.
-- Definitions: docs/METRICS.md#state-intervals.
-- Most items are never flagged: their status intervals are their state intervals as they are, so only
-- the items with a flag change (or a change stamped before creation, whose order the window below
-- settles) go through the as-of joins and the window; at 10M changelog rows that is most of the cost.
-- Incremental (docs/OPERATIONS.md#incremental-builds): a run rebuilds the items in int_work_items_to_rebuild.
-- depends_on: {{ ref('int_work_items_to_rebuild') }}
-- depends_on: {{ ref('stg_jira__issues') }} (the post-hook's live issues)
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
    {% if is_incremental() -%}
    from ({{ jira_flag_changes(issues=ref('int_work_items_to_rebuild')) }})
    {%- else -%}
    from {{ ref('stg_jira__flag_changes') }}
    {%- endif %}
    qualify row_number() over (
        partition by source_instance, issue_id, changed_at
        order by try_cast(history_id as bigint) desc, history_id desc, item_index desc
    ) = 1
),

cut_items as (
    select distinct work_item_id from flag_changes
    union
    -- an interval that ends before it starts (or starts at an unknown time) is out of time order
    select work_item_id from status_intervals
    where ended_at is not null and not coalesce(ended_at >= started_at, false)
),

uncut_intervals as (
    select
        status_intervals.*,
        false as is_flagged,
        status_intervals.status_interval_index as state_interval_index
    from status_intervals
    anti join cut_items on cut_items.work_item_id = status_intervals.work_item_id
),

cut_status_intervals as (
    select status_intervals.*
    from status_intervals
    semi join cut_items on cut_items.work_item_id = status_intervals.work_item_id
),

inner_flag_cuts as (
    -- a flag change strictly inside a status interval starts a new piece of it; one at the interval's
    -- start only sets that interval's flag (read below), so no empty pieces appear
    select
        cut_status_intervals.* exclude (started_at),
        flag_changes.changed_at as started_at
    from flag_changes
    asof inner join cut_status_intervals
        on cut_status_intervals.work_item_id = flag_changes.work_item_id
        and cut_status_intervals.started_at <= flag_changes.changed_at
    where flag_changes.changed_at > cut_status_intervals.started_at
        and (cut_status_intervals.ended_at is null or flag_changes.changed_at < cut_status_intervals.ended_at)
),

pieces as (
    select * exclude (ended_at) from cut_status_intervals
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

    union all by name

    select * from uncut_intervals
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
