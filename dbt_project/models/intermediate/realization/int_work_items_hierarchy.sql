-- Where each Jira issue sits in the hierarchy initiative -> epic -> item, from Jira's own links: the epic
-- of an item (Epic Link field or epic parent; a sub-task inherits its parent's), the parent of an epic,
-- else an issue link from the epic to an initiative-typed issue. Linear's hierarchy is its planning objects:
-- an issue is an item of its project (a sub-issue without one, of its parent's), a project an epic of its
-- initiative (int_linear__project_epics), and an initiative an initiative; projects and initiatives are no
-- work items. Azure DevOps work items are placed by their backlog levels and parent links
-- (int_azure_devops__work_items_hierarchy). Definitions: docs/METRICS.md#epics-and-initiatives.
-- Incremental (macros/keyed_increments.sql): a run rebuilds the Jira issues whose row a change can move (see
-- to_rebuild), and every Linear and Azure DevOps row (their pre-hook deletes them first: few, and read whole).
{%- set type_arrays = {'epic': type_names_array(var('realization_epic_issue_types')),
                      'initiative': type_names_array(var('realization_initiative_issue_types'))} %}

{%- set partial = keyed_increment_is_partial() %}
{{ keyed_increment_config('work_item_id',
    pre_hook="{{ keyed_increment_delete_whole(\"built.tracker <> 'jira'\") }}",
    post_hook="{{ keyed_increment_delete('int_jira__changed_issues', live='stg_jira__issues') }}") }}
-- depends_on: {{ ref('int_jira__changed_issues') }}

-- materialized: read by several steps below; the keys only (summary is read for the rows written)
with issues as materialized (
    select
        source_instance,
        issue_id,
        issue_key,
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

parentless_epics as (
    -- only an epic without a parent is placed by its links: the links of the others are not parsed
    select epic_keys.source_instance, epic_keys.epic_key
    from epic_keys
    inner join issues
        on issues.source_instance = epic_keys.source_instance
        and issues.issue_key = epic_keys.epic_key
    where issues.parent_key is null
),

linked_initiatives as (
    -- an epic without a parent may be tied to its initiative by an issue link of any type
    select distinct on (links.source_instance, links.issue_key)
        links.source_instance,
        links.issue_key as epic_key,
        links.other_issue_key as initiative_key
    from {{ ref('stg_jira__issue_links') }} as links
    inner join parentless_epics
        on parentless_epics.source_instance = links.source_instance
        and parentless_epics.epic_key = links.issue_key
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
),

placed as materialized (
    select
        levels.source_instance,
        levels.issue_id,
        levels.issue_key,
        levels.hierarchy_level,
        case
            when levels.hierarchy_level = 'epic' then levels.issue_key
            when levels.hierarchy_level = 'item' then levels.resolved_epic_key
        end as epic_key,
        case
            when levels.hierarchy_level = 'initiative' then levels.issue_key
            else epic_initiatives.initiative_key
        end as initiative_key,
        levels.parent_key,
        levels.resolved_epic_key,
        -- the initiative of the issue as an epic (whatever its level): kept for the next run's to_rebuild
        own_initiatives.initiative_key as epic_initiative_key
    from levels
    left join epic_initiatives
        on epic_initiatives.source_instance = levels.source_instance
        and epic_initiatives.epic_key = case
            when levels.hierarchy_level = 'epic' then levels.issue_key
            when levels.hierarchy_level = 'item' then levels.resolved_epic_key
        end
    left join epic_initiatives as own_initiatives
        on own_initiatives.source_instance = levels.source_instance
        and own_initiatives.epic_key = levels.issue_key
){% if partial %},

-- The issues whose row a change can move, from the issues read again (int_jira__changed_issues) and what the
-- previous build (`built`) and this one (`placed`) say of them. An issue's row depends on its own fields, its
-- parent's epic (a sub-task's), whether an item names it as its epic, whether an epic names it as its
-- initiative, and its epic's initiative (the epic's parent, else a link of the epic to an initiative-typed
-- issue: Jira lists a link on both issues, so a re-read issue names the epics linked to it). Keys are taken as
-- built and as now: a moved issue changes its key.
changed as (
    select source_instance, issue_id from {{ ref('int_jira__changed_issues') }}
),

changed_keys as (
    {{ keys_now_and_as_built('issues', 'changed') }}
),

-- read again, or a sub-task or epic of one (its parent's epic, or its parent, may have changed)
reread_or_children as (
    select source_instance, issue_id from changed
    union
    select issues.source_instance, issues.issue_id
    from issues
    inner join changed_keys
        on changed_keys.source_instance = issues.source_instance
        and changed_keys.issue_key = issues.parent_key
),

-- the epics those name, before and now: an epic may gain or lose its last item
named_epics as (
    select built.source_instance, built.resolved_epic_key as issue_key
    from {{ this }} as built
    inner join reread_or_children as rebuilt
        on rebuilt.source_instance = built.source_instance and rebuilt.issue_id = built.issue_id
    union
    select placed.source_instance, placed.resolved_epic_key
    from placed
    inner join reread_or_children as rebuilt
        on rebuilt.source_instance = placed.source_instance and rebuilt.issue_id = placed.issue_id
),

-- the issues whose initiative as an epic may have changed: read again, named as an epic, linked to one read
-- again (now, or as built: a deleted initiative)
epic_candidates as (
    select source_instance, issue_id from changed
    union
    select issues.source_instance, issues.issue_id
    from issues
    inner join named_epics
        on named_epics.source_instance = issues.source_instance
        and named_epics.issue_key = issues.issue_key
    union
    select issues.source_instance, issues.issue_id
    from {{ ref('stg_jira__issue_links') }} as links
    inner join changed on changed.source_instance = links.source_instance and changed.issue_id = links.issue_id
    inner join issues
        on issues.source_instance = links.source_instance
        and issues.issue_key = links.other_issue_key
    union
    select built.source_instance, built.issue_id
    from {{ this }} as built
    inner join changed_keys
        on changed_keys.source_instance = built.source_instance
        and changed_keys.issue_key = built.epic_initiative_key
),

epic_candidate_keys as (
    select placed.source_instance, placed.issue_key
    from placed
    inner join epic_candidates
        on epic_candidates.source_instance = placed.source_instance
        and epic_candidates.issue_id = placed.issue_id
    union
    select built.source_instance, built.issue_key
    from {{ this }} as built
    inner join epic_candidates
        on epic_candidates.source_instance = built.source_instance
        and epic_candidates.issue_id = built.issue_id
    union
    select source_instance, issue_key from changed_keys
),

-- their initiatives before and now: an issue may become or stop being one
named_initiatives as (
    select built.source_instance, built.epic_initiative_key as issue_key
    from {{ this }} as built
    inner join epic_candidates
        on epic_candidates.source_instance = built.source_instance
        and epic_candidates.issue_id = built.issue_id
    union
    select placed.source_instance, placed.epic_initiative_key
    from placed
    inner join epic_candidates
        on epic_candidates.source_instance = placed.source_instance
        and epic_candidates.issue_id = placed.issue_id
),

to_rebuild as (
    select source_instance, issue_id from reread_or_children
    union
    select source_instance, issue_id from epic_candidates
    union
    select issues.source_instance, issues.issue_id
    from issues
    inner join (
        select source_instance, issue_key from named_epics
        union
        select source_instance, issue_key from named_initiatives
    ) as named
        on named.source_instance = issues.source_instance
        and named.issue_key = issues.issue_key
    union
    -- the items of an epic whose initiative may have changed
    select built.source_instance, built.issue_id
    from {{ this }} as built
    inner join epic_candidate_keys
        on epic_candidate_keys.source_instance = built.source_instance
        and epic_candidate_keys.issue_key = built.resolved_epic_key
){% endif %}

select
    placed.source_instance || ':' || placed.issue_id as work_item_id,
    placed.source_instance,
    placed.issue_id,
    placed.issue_key,
    jira_issues.summary,
    placed.hierarchy_level,
    placed.epic_key,
    placed.initiative_key,
    cast('jira' as varchar) as tracker,
    placed.parent_key,
    placed.resolved_epic_key,
    placed.epic_initiative_key,
    {{ keyed_increment_settings() }} as build_settings
from placed
inner join {{ ref('stg_jira__issues') }} as jira_issues
    on jira_issues.source_instance = placed.source_instance
    and jira_issues.issue_id = placed.issue_id
{%- if partial %}
inner join to_rebuild
    on to_rebuild.source_instance = placed.source_instance
    and to_rebuild.issue_id = placed.issue_id
{%- endif %}

union all

select
    linear_issues.source_instance || ':' || linear_issues.issue_id,
    linear_issues.source_instance,
    linear_issues.issue_id,
    linear_issues.issue_key,
    linear_issues.title,
    'item',
    linear_issues.project_id,
    projects.initiative_key,
    cast('linear' as varchar), cast(null as varchar), cast(null as varchar), cast(null as varchar),
    {{ keyed_increment_settings() }}
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

select work_item_id, source_instance, issue_id, issue_key, summary, 'epic', issue_key, initiative_key,
    cast('linear' as varchar), cast(null as varchar), cast(null as varchar), cast(null as varchar),
    {{ keyed_increment_settings() }}
from {{ ref('int_linear__project_epics') }}

union all

select distinct
    source_instance || ':' || initiative_key, source_instance, initiative_key, initiative_key, initiative_name,
    'initiative', cast(null as varchar), initiative_key,
    cast('linear' as varchar), cast(null as varchar), cast(null as varchar), cast(null as varchar),
    {{ keyed_increment_settings() }}
from {{ ref('int_linear__project_epics') }}
where initiative_key is not null

union all

select work_item_id, source_instance, issue_id, issue_key, summary, hierarchy_level, epic_key, initiative_key,
    cast('azure_devops' as varchar), cast(null as varchar), cast(null as varchar), cast(null as varchar),
    {{ keyed_increment_settings() }}
from {{ ref('int_azure_devops__work_items_hierarchy') }}
