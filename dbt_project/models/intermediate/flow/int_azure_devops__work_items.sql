-- Azure DevOps work items in the columns the flow models read from stg_jira__issues
-- (int_tracker_issues_unioned). The key is the work item id (unique in the organization); the project key
-- is the project's name, the area path is the item's component (work_item_team_mapping can map either to
-- a team), tags are labels. Levels follow the process templates' backlogs: Epic and Feature are containers
-- (Epic the initiative above a Feature), Task is below the backlog items (a sub-task), the rest are flow items.
-- A work item's epic is its parent when that parent is a Feature or an Epic.

with items as (
    select * from {{ ref('stg_azure_devops__work_items') }}
)

select
    items.source_instance,
    items.work_item_id as issue_id,
    items.work_item_id as issue_key,
    items.project as project_key,
    items.project as project_id,
    items.work_item_type as issue_type,
    items.tags as labels,
    array[items.area_path] as components,
    case when parents.work_item_type in ('Feature', 'Epic') then parents.work_item_id end as epic_key,
    items.parent_work_item_id as parent_key,
    case
        when items.work_item_type in ('Epic', 'Feature') then 1
        when items.work_item_type = 'Task' then -1
        else 0
    end as issue_type_level,
    items.work_item_type = 'Task' as is_subtask_type,
    items.state as status_id,
    items.state as status_name,
    coalesce(types.status_category_key, 'indeterminate') as status_category_key,
    items.story_points,
    items.created_at,
    items.changed_at as updated_at,
    items.extracted_at
from items
left join items as parents
    on parents.source_instance = items.source_instance
    and parents.work_item_id = items.parent_work_item_id
left join {{ ref('flow_state_type_mapping') }} as types
    on types.source_type = 'azure_devops' and types.state_type = lower(items.state)
