-- Where each Jira issue sits in the hierarchy initiative -> epic -> item, from Jira's own links: the epic
-- of an item (Epic Link field or epic parent; a sub-task inherits its parent's), the parent of an epic,
-- else an issue link from the epic to an initiative-typed issue. Linear's hierarchy is its planning objects:
-- an issue is an item of its project (a sub-issue without one, of its parent's), a project an epic of its
-- initiative (int_linear__project_epics), and an initiative an initiative; projects and initiatives are no
-- work items. Azure DevOps work items are placed by their backlog levels and parent links
-- (int_azure_devops__work_items_hierarchy). Definitions: docs/METRICS.md#epics-and-initiatives.
{%- set type_arrays = {'epic': type_names_array(var('realization_epic_issue_types')),
                      'initiative': type_names_array(var('realization_initiative_issue_types'))} %}

-- materialized: read by five steps below, and staging parses the raw JSON on every read
with issues as materialized (
    select
        source_instance,
        issue_id,
        issue_key,
        summary,
        lower(issue_type) as issue_type_key,
        parent_key,
        epic_key
    from {{ ref('stg_jira__issues') }}
),

item_epics as (
    -- a sub-task's parent is a story, not an epic: it belongs to its parent's epic
    select
        issues.*,
        coalesce(issues.epic_key, parents.epic_key) as resolved_epic_key
    from issues
    left join issues as parents
        on parents.source_instance = issues.source_instance
        and parents.issue_key = issues.parent_key
),

epic_keys as (
    select source_instance, issue_key as epic_key
    from issues
    where issue_type_key = any({{ type_arrays['epic'] }})
    union
    select source_instance, resolved_epic_key
    from item_epics
    where resolved_epic_key is not null
),

linked_initiatives as (
    -- an epic without a parent may be tied to its initiative by an issue link of any type
    select distinct on (links.source_instance, links.issue_key)
        links.source_instance,
        links.issue_key as epic_key,
        links.other_issue_key as initiative_key
    from {{ ref('stg_jira__issue_links') }} as links
    inner join issues as others
        on others.source_instance = links.source_instance
        and others.issue_id = links.other_issue_id
    where others.issue_type_key = any({{ type_arrays['initiative'] }})
    order by links.source_instance, links.issue_key, links.other_issue_key
),

epic_initiatives as (
    select
        epic_keys.source_instance,
        epic_keys.epic_key,
        coalesce(epics.parent_key, linked_initiatives.initiative_key) as initiative_key
    from epic_keys
    left join issues as epics
        on epics.source_instance = epic_keys.source_instance
        and epics.issue_key = epic_keys.epic_key
    left join linked_initiatives
        on linked_initiatives.source_instance = epic_keys.source_instance
        and linked_initiatives.epic_key = epic_keys.epic_key
),

initiative_keys as (
    select source_instance, issue_key as initiative_key
    from issues
    where issue_type_key = any({{ type_arrays['initiative'] }})
    union
    select source_instance, initiative_key
    from epic_initiatives
    where initiative_key is not null
),

levels as (
    select
        item_epics.*,
        case
            when initiative_keys.initiative_key is not null then 'initiative'
            when epic_keys.epic_key is not null then 'epic'
            else 'item'
        end as hierarchy_level
    from item_epics
    left join initiative_keys
        on initiative_keys.source_instance = item_epics.source_instance
        and initiative_keys.initiative_key = item_epics.issue_key
    left join epic_keys
        on epic_keys.source_instance = item_epics.source_instance
        and epic_keys.epic_key = item_epics.issue_key
)

select
    levels.source_instance || ':' || levels.issue_id as work_item_id,
    levels.source_instance,
    levels.issue_id,
    levels.issue_key,
    levels.summary,
    levels.hierarchy_level,
    case
        when levels.hierarchy_level = 'epic' then levels.issue_key
        when levels.hierarchy_level = 'item' then levels.resolved_epic_key
    end as epic_key,
    case
        when levels.hierarchy_level = 'initiative' then levels.issue_key
        else epic_initiatives.initiative_key
    end as initiative_key
from levels
left join epic_initiatives
    on epic_initiatives.source_instance = levels.source_instance
    and epic_initiatives.epic_key = case
        when levels.hierarchy_level = 'epic' then levels.issue_key
        when levels.hierarchy_level = 'item' then levels.resolved_epic_key
    end

union all

select
    linear_issues.source_instance || ':' || linear_issues.issue_id,
    linear_issues.source_instance,
    linear_issues.issue_id,
    linear_issues.issue_key,
    linear_issues.title,
    'item',
    linear_issues.project_id,
    projects.initiative_key
from (
    select issues.source_instance, issues.issue_id, issues.issue_key, issues.title,
        coalesce(issues.project_id, parents.project_id) as project_id
    from {{ ref('stg_linear__issues') }} as issues
    left join {{ ref('stg_linear__issues') }} as parents
        on parents.source_instance = issues.source_instance
        and parents.issue_id = issues.parent_issue_id
) as linear_issues
left join {{ ref('int_linear__project_epics') }} as projects
    on projects.source_instance = linear_issues.source_instance
    and projects.issue_key = linear_issues.project_id

union all

select work_item_id, source_instance, issue_id, issue_key, summary, 'epic', issue_key, initiative_key
from {{ ref('int_linear__project_epics') }}

union all

select distinct
    source_instance || ':' || initiative_key, source_instance, initiative_key, initiative_key, initiative_name,
    'initiative', cast(null as varchar), initiative_key
from {{ ref('int_linear__project_epics') }}
where initiative_key is not null

union all

select work_item_id, source_instance, issue_id, issue_key, summary, hierarchy_level, epic_key, initiative_key
from {{ ref('int_azure_devops__work_items_hierarchy') }}
