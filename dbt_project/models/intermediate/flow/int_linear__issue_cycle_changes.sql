-- Cycle membership changes of Linear issues, shaped like Jira's sprint changes (int_jira__issue_sprint_changes):
-- a history entry moving an issue from one cycle to another leaves the first and joins the second. Linear moves
-- an unfinished issue to the next cycle when a cycle completes; that move is a carry-over, not a removal, so a
-- leave at or after the cycle's end is dropped: the issue was in the cycle when it ended, as a Jira issue
-- carried over stays in its closed sprint. Definitions: docs/METRICS.md#sprint-predictability.

with history as (
    select source_instance, issue_id, history_id, changed_at, from_cycle_id, to_cycle_id
    from {{ ref('stg_linear__issue_history') }}
    where coalesce(from_cycle_id, '') <> coalesce(to_cycle_id, '')
),

cycles as (
    select source_instance, cycle_id, coalesce(completed_at, ends_at) as ended_at
    from {{ ref('stg_linear__cycles') }}
)

select
    history.source_instance,
    history.issue_id,
    history.history_id,
    0 as item_index,
    history.changed_at,
    history.from_cycle_id as sprint_id,
    'removed' as change
from history
left join cycles
    on cycles.source_instance = history.source_instance
    and cycles.cycle_id = history.from_cycle_id
where history.from_cycle_id is not null
    and (cycles.ended_at is null or history.changed_at < cycles.ended_at)

union all

select
    source_instance,
    issue_id,
    history_id,
    1 as item_index,
    changed_at,
    to_cycle_id as sprint_id,
    'added' as change
from history
where to_cycle_id is not null
