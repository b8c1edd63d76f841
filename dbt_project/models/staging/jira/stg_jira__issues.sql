-- Deleted or moved-away issues are already left out by jira_live_issues() (see the macro).
-- A table, incremental by issue (docs/OPERATIONS.md#incremental-builds): half a dozen models read it every
-- night, and parsing every issue's JSON for each of them was most of their cost. A run parses again only the
-- issues read within `incremental_lookback_hours` of their source's newest read (the window of
-- int_jira__changed_issues, which must cover the time between two builds), and replaces their rows; the
-- post-hook deletes the rows a newer tombstone covers. A new `jira_story_points_field` needs
-- `--full-refresh`: the rows already built keep the field they were parsed with.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_instance', 'issue_id'],
    post_hook='{{ delete_tombstoned_jira_issues() }}',
) }}
-- Every fixed path is read through jira_parsed_paths (macros/portable/jira.sql): on DuckDB in ONE
-- json_extract_string call, since each `->>` parses the whole issue again and this view is read by half a
-- dozen models, so at a million issues parsing was most of their cost. `at` and `json_at` name the SQL of
-- each path.
{%- set paths = [
    'key', 'fields.project.key', 'fields.project.id', 'fields.issuetype.name', 'fields.issuetype.hierarchyLevel',
    'fields.issuetype.subtask', 'fields.summary',
    'fields.status.id', 'fields.status.name', 'fields.status.statusCategory.key', 'fields.priority.name',
    'fields.parent.key', '_throughline.epicLinkField', 'fields.parent.fields.issuetype.hierarchyLevel',
    'fields.parent.fields.issuetype.name', '_throughline.storyPointsFields[0]',
    '_throughline.storyPointsFields[1]', 'fields.assignee.accountId', 'fields.assignee.key',
    'fields.reporter.accountId', 'fields.reporter.key', 'fields.resolution.name', 'fields.created',
    'fields.updated', 'fields.resolutiondate', 'fields.' ~ var("jira_story_points_field"),
] %}
{%- set json_paths = ['fields.labels', 'fields.components', 'fields.fixVersions', '_throughline'] %}
{%- set refs = jira_parsed_path_refs(paths, json_paths) %}
{%- set at = refs.text %}{% set json_at = refs.json %}

with source as (
    {%- if is_incremental() %}
    select live.*
    from ({{ jira_live_issues() }}) as live
    inner join (
        select source_instance, max(extracted_at) - {{ flow_hours_interval(var('incremental_lookback_hours')) }}
            as read_since
        from {{ source('raw', 'jira__issues') }}
        group by source_instance
    ) as windows on windows.source_instance = live.source_instance
    where live.extracted_at >= windows.read_since
    {%- else %}
    {{ jira_live_issues() }}
    {%- endif %}
),

parsed as (
    {{ jira_parsed_paths('source', paths, json_paths) }}
)

select
    record_key as issue_id,
    {{ at['key'] }} as issue_key,
    source_instance,
    coalesce({{ at['fields.project.key'] }}, scope) as project_key,
    {{ at['fields.project.id'] }} as project_id,
    {{ at['fields.issuetype.name'] }} as issue_type,
    {{ try_cast(at['fields.issuetype.hierarchyLevel'], 'integer') }} as issue_type_level,
    coalesce({{ at['fields.issuetype.subtask'] }} = 'true', false) as is_subtask_type,
    {{ at['fields.summary'] }} as summary,
    {{ at['fields.status.id'] }} as status_id,
    {{ at['fields.status.name'] }} as status_name,
    {{ at['fields.status.statusCategory.key'] }} as status_category_key,
    {{ at['fields.priority.name'] }} as priority,
    coalesce({{ json_text_array(json_at['fields.labels']) }}, array[]::varchar[]) as labels,
    coalesce({{ json_array_field_texts(json_at['fields.components'], 'name') }}, array[]::varchar[]) as components,
    coalesce({{ json_array_field_texts(json_at['fields.fixVersions'], 'name') }}, array[]::varchar[]) as fix_versions,
    {{ at['fields.parent.key'] }} as parent_key,
    -- Epics: company-managed projects long used the "Epic Link" custom field (its id found by name
    -- through /field, noted by the connector); Jira now writes the epic as `parent` (hierarchy level 1).
    coalesce(
        case when {{ at['_throughline.epicLinkField'] }} is not null
            then {{ json_text_at_key('payload', 'fields', at['_throughline.epicLinkField']) }} end,
        case
            when {{ at['fields.parent.fields.issuetype.hierarchyLevel'] }} = '1'
                or {{ at['fields.parent.fields.issuetype.name'] }} = 'Epic'
                then {{ at['fields.parent.key'] }}
        end
    ) as epic_key,
    -- Story points live in the field(s) the connector found by name; an issue carries at most one of
    -- "Story Points" (classic) and "Story point estimate" (team-managed). The var covers raw rows
    -- loaded before the connector noted its fields. A number may arrive as text; anything else is not points.
    coalesce(
        case when {{ at['_throughline.storyPointsFields[0]'] }} is not null
            then {{ try_cast(json_text_at_key('payload', 'fields', at['_throughline.storyPointsFields[0]']), 'double') }} end,
        case when {{ at['_throughline.storyPointsFields[1]'] }} is not null
            then {{ try_cast(json_text_at_key('payload', 'fields', at['_throughline.storyPointsFields[1]']), 'double') }} end,
        case when {{ json_at['_throughline'] }} is null
            then {{ try_cast(at['fields.' ~ var("jira_story_points_field")], 'double') }} end
    ) as story_points,
    -- People as account ids only (Data Center users have a `key` instead); names stay out of staging.
    coalesce({{ at['fields.assignee.accountId'] }}, {{ at['fields.assignee.key'] }}) as assignee_account_id,
    coalesce({{ at['fields.reporter.accountId'] }}, {{ at['fields.reporter.key'] }}) as reporter_account_id,
    {{ at['fields.resolution.name'] }} as resolution,
    {{ to_utc_timestamp(at['fields.created']) }} as created_at,
    {{ to_utc_timestamp(at['fields.updated']) }} as updated_at,
    {{ to_utc_timestamp(at['fields.resolutiondate']) }} as resolved_at,
    extracted_at
from parsed
