-- Azure DevOps work items in the hierarchy initiative -> epic -> item, by the process's backlog levels: an
-- Epic (the portfolio level above Features) is an initiative, a Feature an epic, the backlog items under them
-- (User Story, Product Backlog Item, Bug, ...) and their Tasks are items. The levels' types are vars
-- (azure_devops_initiative_work_item_types, azure_devops_epic_work_item_types) for customised processes. An
-- item's epic is its nearest ancestor of an epic type through the parent links, its initiative the nearest
-- of an initiative type: a story directly under an Epic has an initiative and no epic; a Task under a story
-- is its story's. Definitions: docs/METRICS.md#epics-and-initiatives.
{%- set epic_types = type_names_array(var('azure_devops_epic_work_item_types')) %}
{%- set initiative_types = type_names_array(var('azure_devops_initiative_work_item_types')) %}

{#- Ancestors followed: a process has at most a few backlog levels (Epic, Feature, story, Task: three hops), so
    eight reach well past any customised one; a fixed chain of joins rather than a recursive query, which not
    every engine the project builds on runs, and which a loop of edited parent links would never end. #}
{%- set depth = 8 %}

with items as (
    select
        source_instance,
        work_item_id,
        title,
        parent_work_item_id,
        case
            when type_key = any({{ initiative_types }}) then 'initiative'
            when type_key = any({{ epic_types }}) then 'epic'
            else 'item'
        end as hierarchy_level
    -- the type as a column of its own: Spark's rewrite of `= any(array)` (spark_dialect) takes a column
    from (select *, lower(work_item_type) as type_key from {{ ref('stg_azure_devops__work_items') }}) as work_items
),

nearest as (
    -- the first ancestor of each level, nearest first; a parent that is not loaded ends the chain
    select
        items.source_instance,
        items.work_item_id,
        {%- for level in ['epic', 'initiative'] %}
        case
            {%- for n in range(1, depth + 1) %}
            when ancestor_{{ n }}.hierarchy_level = '{{ level }}' then ancestor_{{ n }}.work_item_id
            {%- endfor %}
        end as {{ level }}_id{{ ',' if not loop.last }}
        {%- endfor %}
    from items
    {%- for n in range(1, depth + 1) %}
    left join items as ancestor_{{ n }}
        on ancestor_{{ n }}.source_instance = items.source_instance
        and ancestor_{{ n }}.work_item_id = {{ 'items' if n == 1 else 'ancestor_' ~ (n - 1) }}.parent_work_item_id
    {%- endfor %}
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
