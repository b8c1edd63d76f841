-- Azure DevOps work items in the hierarchy initiative -> epic -> item, by the process's backlog levels: an
-- Epic (the portfolio level above Features) is an initiative, a Feature an epic, the backlog items under them
-- (User Story, Product Backlog Item, Bug, ...) and their Tasks are items. The levels' types are vars
-- (azure_devops_initiative_work_item_types, azure_devops_epic_work_item_types) for customised processes. An
-- item's epic is its nearest ancestor of an epic type through the parent links, its initiative the nearest
-- of an initiative type: a story directly under an Epic has an initiative and no epic; a Task under a story
-- is its story's. Definitions: docs/METRICS.md#epics-and-initiatives.
{%- set epic_types = type_names_array(var('azure_devops_epic_work_item_types')) %}
{%- set initiative_types = type_names_array(var('azure_devops_initiative_work_item_types')) %}

with recursive items as (
    select
        source_instance,
        work_item_id,
        title,
        parent_work_item_id,
        case
            when lower(work_item_type) = any({{ initiative_types }}) then 'initiative'
            when lower(work_item_type) = any({{ epic_types }}) then 'epic'
            else 'item'
        end as hierarchy_level
    from {{ ref('stg_azure_devops__work_items') }}
),

ancestors as (
    -- every loaded ancestor with its distance; bounded, as parent links edited into a loop would never end
    select items.source_instance, items.work_item_id, parents.work_item_id as ancestor_id,
        parents.parent_work_item_id as next_id, parents.hierarchy_level, 1 as depth
    from items
    inner join items as parents
        on parents.source_instance = items.source_instance
        and parents.work_item_id = items.parent_work_item_id
    union all
    select ancestors.source_instance, ancestors.work_item_id, parents.work_item_id, parents.parent_work_item_id,
        parents.hierarchy_level, ancestors.depth + 1
    from ancestors
    inner join items as parents
        on parents.source_instance = ancestors.source_instance
        and parents.work_item_id = ancestors.next_id
    where ancestors.depth < 20
),

nearest as (
    select
        source_instance,
        work_item_id,
        {{ min_by_keys('ancestor_id', ['depth'], "hierarchy_level = 'epic'") }} as epic_id,
        {{ min_by_keys('ancestor_id', ['depth'], "hierarchy_level = 'initiative'") }} as initiative_id
    from ancestors
    group by source_instance, work_item_id
)

select
    items.source_instance || ':' || items.work_item_id as work_item_id,
    items.source_instance,
    items.work_item_id as issue_id,
    items.work_item_id as issue_key,
    items.title as summary,
    items.hierarchy_level,
    case
        when items.hierarchy_level = 'epic' then items.work_item_id
        when items.hierarchy_level = 'item' then nearest.epic_id
    end as epic_key,
    case
        when items.hierarchy_level = 'initiative' then items.work_item_id
        else nearest.initiative_id
    end as initiative_key
from items
left join nearest
    on nearest.source_instance = items.source_instance
    and nearest.work_item_id = items.work_item_id
