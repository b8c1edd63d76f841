-- Iteration membership changes of Azure DevOps work items, shaped like Jira's sprint changes
-- (int_jira__issue_sprint_changes): an update changing System.IterationPath leaves the old iteration and joins
-- the new one; the first revision joins the iteration the item was created in. A path that is no team iteration
-- (the project's root, the backlog) is no sprint. Azure DevOps carries nothing over by itself: at a sprint's
-- close a person moves the unfinished items to the next iteration, on its last day or after. Such a move, made
-- on or after the left iteration's last day into an iteration that starts later, is a carry-over, not a
-- removal: the item was in the iteration at its end, as a Jira issue carried over stays in its closed sprint.
-- Definitions: docs/METRICS.md#sprint-predictability.

with updates as (
    select
        source_instance,
        work_item_id as issue_id,
        update_key as history_id,
        changed_at,
        lower(from_iteration_path) as from_path_key,
        lower(to_iteration_path) as to_path_key
    from {{ ref('stg_azure_devops__work_item_updates') }}
    where to_iteration_path is not null
        and changed_at is not null
        and lower(to_iteration_path) <> coalesce(lower(from_iteration_path), '')
),

iterations as (
    select source_instance, iteration_id, path_key, started_at, ended_at
    from {{ ref('int_azure_devops__iterations') }}
)

select
    updates.source_instance,
    updates.issue_id,
    updates.history_id,
    0 as item_index,
    updates.changed_at,
    left_iteration.iteration_id as sprint_id,
    'removed' as change
from updates
inner join iterations as left_iteration
    on left_iteration.source_instance = updates.source_instance
    and left_iteration.path_key = updates.from_path_key
left join iterations as joined_iteration
    on joined_iteration.source_instance = updates.source_instance
    and joined_iteration.path_key = updates.to_path_key
where not coalesce(
    updates.changed_at >= left_iteration.ended_at - interval '1 day'
    and joined_iteration.started_at > left_iteration.started_at,
    false
)

union all

select
    updates.source_instance,
    updates.issue_id,
    updates.history_id,
    1 as item_index,
    updates.changed_at,
    joined_iteration.iteration_id as sprint_id,
    'added' as change
from updates
inner join iterations as joined_iteration
    on joined_iteration.source_instance = updates.source_instance
    and joined_iteration.path_key = updates.to_path_key
