-- Deleted or moved-away issues are already left out by jira_live_issues() (see the macro).
-- A table, incremental by issue (docs/OPERATIONS.md#incremental-builds): half a dozen models read it every
-- night, and parsing every issue's JSON for each of them was most of their cost. A run parses again only the
-- issues read in their source's window (read_windows: since the last complete build, or merged from a shard
-- since, as int_jira__changed_issues), and replaces their rows; the
-- post-hook deletes the rows a newer tombstone covers. Every row keeps the settings it was parsed with
-- (`parse_settings`: the story points and incident field vars): after a change of them, or an upgrade that
-- adds a column, the next run parses every issue again.
-- The links and the incident fields are read here too, in the same single parse of the issue: their
-- models (stg_jira__issue_links, int_jira__incidents) then cost what the links and incidents do, not a
-- parse of every issue every night.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_instance', 'issue_id'],
    on_schema_change='append_new_columns',
    post_hook='{{ delete_tombstoned_jira_issues() }}',
) }}
{%- set incident_fields = var('jira_incident_fields', {}) or {} %}
{%- set parse_settings = var('jira_story_points_field') ~ ' ' ~ (incident_fields | tojson) %}
{%- set reparse = {'all': false, 'some': false} %}
{%- if execute and is_incremental() %}
{%- if 'parse_settings' not in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) %}
{%- do reparse.update({'all': true}) %}
{%- else %}
{%- set other = run_query("select count(*) from " ~ this ~ " where parse_settings is distinct from '" ~ parse_settings ~ "'") %}
{%- do reparse.update({'some': other.columns[0].values()[0] > 0}) %}
{%- endif %}
{%- endif %}
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
    'fields.updated', 'fields.resolutiondate', 'fields.' ~ var("jira_story_points_field"), 'self',
] %}
{%- set json_paths = ['fields.labels', 'fields.components', 'fields.fixVersions', '_throughline', 'fields.issuelinks'] %}
{%- for role in ['service', 'severity', 'caused_by_deployment', 'root_cause_sha'] if incident_fields.get(role) %}
{%- set field_paths = jira_field_paths(incident_fields[role]) %}
{%- do paths.extend(field_paths.text) %}{% do json_paths.extend(field_paths.json) %}
{%- endfor %}
{%- set refs = jira_parsed_path_refs(paths, json_paths) %}
{%- set at = refs.text %}{% set json_at = refs.json %}

{#- only when incremental: a unit test's context has no graph for read_windows to look the marks up in -#}
{%- set windows = read_windows('jira', "select source_instance, extracted_at from " ~ source('raw', 'jira__issues'))
    if is_incremental() else none %}

with source as (
    {%- if is_incremental() and not (reparse.all or reparse.some) %}
    {{ jira_live_issues(within=windows) }}
    {%- elif is_incremental() %}
    select live.*
    from ({{ jira_live_issues() }}) as live
    inner join ({{ windows }}) as windows on windows.source_instance = live.source_instance
    where {{ in_read_window('live.extracted_at', 'windows') }}
        {%- if reparse.all %}
        or true  -- built before parse_settings existed
        {%- elif reparse.some %}
        -- parsed with other settings: parse again
        or exists (
            select 1 from {{ this }} as built
            where built.source_instance = live.source_instance and built.issue_id = live.record_key
                and built.parse_settings is distinct from '{{ parse_settings }}'
        )
        {%- endif %}
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
    -- The browse page, from the issue's API URL (https://site/rest/api/3/issue/10001).
    {{ regex_replace(at['self'], "'/rest/api/[0-9]+/issue/.*$'", "''", flags='') }} || '/browse/' || ({{ at['key'] }})
        as url,
    -- as text: a table column of JSON type differs between warehouses (json, jsonb)
    ({{ json_at['fields.issuelinks'] }})::varchar as issue_links,
    nullif(trim({{ jira_field_text(incident_fields.get('service'), at, json_at) }}), '') as service_field,
    nullif(trim({{ jira_field_text(incident_fields.get('severity'), at, json_at) }}), '') as severity_field,
    nullif(trim({{ jira_field_text(incident_fields.get('caused_by_deployment'), at, json_at) }}), '')
        as caused_by_deployment_field,
    lower(nullif(trim({{ jira_field_text(incident_fields.get('root_cause_sha'), at, json_at) }}), ''))
        as root_cause_sha_field,
    '{{ parse_settings }}' as parse_settings,
    extracted_at
from parsed
