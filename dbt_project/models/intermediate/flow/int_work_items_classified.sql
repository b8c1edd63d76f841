-- Which kind of work each issue is (flow item type, and whether it is a flow item at all or a container)
-- and who owns it (team, value stream), from the user-editable seeds and vars. Every issue gets a row:
-- nothing matched means `feature` / `unassigned`, never dropped.
-- Incremental by item (macros/keyed_increments.sql): a run rebuilds the items read in the window
-- (int_tracker_changed_issues_unioned) and the items whose epic is one of them (its parent is their initiative),
-- and deletes those gone. The seeds, boards, sprints and vars it classifies by are in `build_settings`: after an
-- edit, the run rebuilds every item (int_work_items_to_rebuild then finds the items whose class changed).
{%- set partial = keyed_increment_is_partial() %}
{{ keyed_increment_config(['source_instance', 'issue_id'], post_hook="{{ keyed_increment_delete(
    'int_tracker_changed_issues_unioned', live='int_tracker_issues_unioned') }}") }}
-- depends_on: {{ ref('int_tracker_changed_issues_unioned') }}
{%- set epic_types = var('realization_epic_issue_types') | map('lower') | list %}
{%- set initiative_types = var('realization_initiative_issue_types') | map('lower') | list %}
{%- set flow_levels = var('flow_item_hierarchy_levels') %}
{%- for level in flow_levels if level is not number %}
    {{ exceptions.raise_compiler_error(
        "var flow_item_hierarchy_levels (dbt_project.yml): '" ~ level ~ "' is not a Jira hierarchy level; "
        ~ "use whole numbers such as 0 (stories, tasks, bugs) and -1 (sub-tasks)") }}
{%- endfor %}

with {% if partial -%}
changed_keys as (
    {{ keys_now_and_as_built(ref('int_tracker_issues_unioned'), ref('int_tracker_changed_issues_unioned')) }}
),

to_rebuild as (
    select source_instance, issue_id from {{ ref('int_tracker_changed_issues_unioned') }}
    union
    -- their epic's parent is their initiative
    select built.source_instance, built.issue_id
    from {{ this }} as built
    inner join changed_keys
        on changed_keys.source_instance = built.source_instance
        and changed_keys.issue_key = built.epic_key
    union
    select issues.source_instance, issues.issue_id
    from {{ ref('int_tracker_issues_unioned') }} as issues
    inner join changed_keys
        on changed_keys.source_instance = issues.source_instance
        and changed_keys.issue_key = issues.epic_key
),

{% endif -%}
issues as (
    select
        issues.source_instance,
        issues.issue_id,
        issues.issue_key,
        issues.project_key,
        issues.issue_type,
        {{ array_map('issues.labels', 'lower(trim(element))') }} as label_keys,
        {{ array_map('issues.components', 'lower(trim(element))') }} as component_keys,
        issues.epic_key,
        issues.issue_type_level,
        issues.is_subtask_type
    from {{ ref('int_tracker_issues_unioned') }} as issues
    {%- if partial %}
    inner join to_rebuild
        on to_rebuild.source_instance = issues.source_instance
        and to_rebuild.issue_id = issues.issue_id
    {%- endif %}
),

-- Hierarchy level: containers (epics, initiatives) and sub-tasks are not flow items ---------------------

issue_type_hierarchy_levels as (
    -- The types named as epics / initiatives for the realization marts are containers here too, whatever
    -- level Jira gives them; otherwise Jira's level (Cloud: 2+ above epics, 1 epic, 0 standard, -1
    -- sub-task); Jira Data Center names no level but flags sub-task types.
    select
        issues.source_instance,
        issues.issue_id,
        coalesce(
            case
                when lower(issues.issue_type) in ({{ sql_text_list(initiative_types) }}) then 2
                when lower(issues.issue_type) in ({{ sql_text_list(epic_types) }}) then 1
            end,
            issues.issue_type_level,
            case when issues.is_subtask_type then -1 end,
            0
        ) as issue_type_hierarchy_level
    from issues
),

-- Flow item type ------------------------------------------------------------------------------------

type_rules as (
    select
        source_instance,
        project_key,
        match_on,
        lower(trim(match_value)) as match_key,
        flow_item_type,
        -- label over issue type, then instance+project over instance over project over `*,*`, then a
        -- fixed order so an issue labelled both security and tech-debt is always risk
        (match_on = 'issue_type')::integer * 100
            + (3 - ((source_instance <> '*')::integer * 2 + (project_key <> '*')::integer)) * 10
            + array_position(array['risk', 'defect', 'debt', 'feature'], flow_item_type) as precedence
    from {{ ref('flow_item_type_mapping') }}
),

issue_type_keys as (
    select source_instance, issue_id, project_key, 'issue_type' as match_on, lower(trim(issue_type)) as match_key
    from issues
    where issue_type is not null
    union all
    select source_instance, issue_id, project_key, 'label', unnest(label_keys)
    from issues
),

flow_item_types as (
    select
        issue_type_keys.source_instance,
        issue_type_keys.issue_id,
        {{ arg_min('type_rules.flow_item_type', 'type_rules.precedence') }} as flow_item_type
    from issue_type_keys
    inner join type_rules
        on type_rules.match_on = issue_type_keys.match_on
        and type_rules.match_key = issue_type_keys.match_key
        and type_rules.source_instance in (issue_type_keys.source_instance, '*')
        and type_rules.project_key in (issue_type_keys.project_key, '*')
    group by issue_type_keys.source_instance, issue_type_keys.issue_id
),

-- Board: of the sprint the issue last joined, else its project's only board ---------------------------

last_sprints as (
    select
        sprint_changes.source_instance,
        sprint_changes.issue_id,
        {{ arg_max('sprints.origin_board_id', 'sprint_changes.changed_at') }} as board_id
    from {{ ref('int_jira__issue_sprint_changes') }} as sprint_changes
    {%- if partial %}
    inner join issues
        on issues.source_instance = sprint_changes.source_instance
        and issues.issue_id = sprint_changes.issue_id
    {%- endif %}
    inner join {{ ref('stg_jira__sprints') }} as sprints
        on sprints.source_instance = sprint_changes.source_instance
        and sprints.sprint_id = sprint_changes.sprint_id
    where sprint_changes.change = 'added'
    group by sprint_changes.source_instance, sprint_changes.issue_id
),

only_project_boards as (
    select source_instance, project_key, min(board_id) as board_id
    from {{ ref('stg_jira__boards') }}
    group by source_instance, project_key
    having count(*) = 1
),

issue_boards as (
    select
        issues.source_instance,
        issues.issue_id,
        coalesce(last_sprints.board_id, only_project_boards.board_id) as board_id
    from issues
    left join last_sprints
        on last_sprints.source_instance = issues.source_instance
        and last_sprints.issue_id = issues.issue_id
    left join only_project_boards
        on only_project_boards.source_instance = issues.source_instance
        and only_project_boards.project_key = issues.project_key
),

boards as (
    select distinct on (source_instance, board_id) source_instance, board_id, board_name
    from {{ ref('stg_jira__boards') }}
    order by source_instance, board_id, extracted_at desc nulls last
),

-- Team and value stream ------------------------------------------------------------------------------

team_rules as (
    select
        source_instance,
        match_on,
        lower(trim(match_value)) as match_key,
        team,
        nullif(trim(value_stream), '') as value_stream,
        array_position(array['label', 'component', 'board', 'project'], match_on) * 10
            + (source_instance = '*')::integer as precedence
    from {{ ref('work_item_team_mapping') }}
),

issue_team_keys as (
    select source_instance, issue_id, 'project' as match_on, lower(project_key) as match_key from issues
    union all
    select source_instance, issue_id, 'label', unnest(label_keys) from issues
    union all
    select source_instance, issue_id, 'component', unnest(component_keys) from issues
    union all
    -- a board matches by id or by name
    select issue_boards.source_instance, issue_boards.issue_id, 'board', unnest(array[
        lower(issue_boards.board_id), lower(trim(boards.board_name))
    ])
    from issue_boards
    left join boards
        on boards.source_instance = issue_boards.source_instance
        and boards.board_id = issue_boards.board_id
    where issue_boards.board_id is not null
),

teams as (
    -- the rule with the lowest precedence, ties to the alphabetically first team
    {{ flow_team_rules_chosen() }}
),

team_value_streams as (
    select team, value_stream from {{ ref('team_value_streams') }}
),

-- Initiative: the parent of the issue's epic, when the epic is loaded ---------------------------------

epics as (
    select source_instance, issue_key, parent_key
    from {{ ref('int_tracker_issues_unioned') }}
    {%- if partial %}
    where issue_key in (select epic_key from issues)
    {%- endif %}
)

select
    issues.source_instance || ':' || issues.issue_id as work_item_id,
    issues.source_instance,
    issues.issue_id,
    issues.issue_key,
    issues.epic_key,
    coalesce(flow_item_types.flow_item_type, 'feature') as flow_item_type,
    coalesce(teams.team, 'unassigned') as team,
    coalesce(teams.value_stream, team_value_streams.value_stream, 'unassigned') as value_stream,
    issue_boards.board_id,
    epics.parent_key as initiative_key,
    issue_type_hierarchy_levels.issue_type_hierarchy_level,
    coalesce(issue_type_hierarchy_levels.issue_type_hierarchy_level in ({{ flow_levels | join(', ') if flow_levels else 'null' }}), false)
        as is_flow_item,
    {{ keyed_increment_settings() }} as build_settings
from issues
inner join issue_type_hierarchy_levels
    on issue_type_hierarchy_levels.source_instance = issues.source_instance
    and issue_type_hierarchy_levels.issue_id = issues.issue_id
left join flow_item_types
    on flow_item_types.source_instance = issues.source_instance
    and flow_item_types.issue_id = issues.issue_id
left join teams
    on teams.source_instance = issues.source_instance
    and teams.issue_id = issues.issue_id
left join team_value_streams
    on team_value_streams.team = teams.team
left join issue_boards
    on issue_boards.source_instance = issues.source_instance
    and issue_boards.issue_id = issues.issue_id
left join epics
    on epics.source_instance = issues.source_instance
    and epics.issue_key = issues.epic_key
