{#
  The items of raw.jira__changelogs, one row per changed field (stg_jira__changelog_items is exactly
  this). `containing`: read only the histories whose JSON text contains that text before parsing it.
  Parsing every history is the most expensive step at changelog scale, and the views that need one rare
  field (flags, sprints) would otherwise parse all of them; the text only narrows what is parsed, the
  caller still filters the items exactly. The match is case-sensitive (a plain substring search, about
  5x cheaper than ILIKE at 10M histories) unless `ignore_case` is set for a field matched in any case.
  `recent`: read only the histories read in the windows of int_jira__changed_issues (read_windows), for the
  incremental models that keep parsed histories: a
  history never changes once written, so a run parses the new ones only. The window's earliest start is
  also given as a literal (jira_histories_read_filter), which DuckDB prunes the scan with before any text
  is searched: at 10M histories a join on the issues to rebuild still searched every history's text
  (seconds), a literal bound reads the newest row groups only.
  The DuckDB SQL is tuned for 10M histories (one from_json, unnest in the select list); PostgreSQL reads the
  same fields from jsonb with a lateral jsonb_array_elements.
#}
{% macro jira_changelog_items(containing=none, ignore_case=false, recent=false) -%}
    {{ return(adapter.dispatch('jira_changelog_items', 'throughline')(containing, ignore_case, recent)) }}
{%- endmacro %}
{% macro default__jira_changelog_items(containing=none, ignore_case=false, recent=false) -%}
    {{ throughline.not_ported('jira_changelog_items') }}
{%- endmacro %}

{% macro duckdb__jira_changelog_items(containing=none, ignore_case=false, recent=false) -%}
with
{{ jira_histories_source(recent) }}
    {%- if containing and ignore_case %}
        and regexp_matches(changelogs.payload::varchar, '(?i){{ containing }}')
    {%- elif containing %}
        and contains(changelogs.payload::varchar, '{{ containing }}')
    {%- endif %}
),

histories as (
    -- One from_json over the whole history, not one JSON path per column: each path re-parses the
    -- document, and parsing is most of this view's cost (~40% less CPU than `->>` plus from_json(items)).
    select
        record_key as history_id,
        parent_key as issue_id,
        source_instance,
        from_json(
            payload,
            '{"created": "VARCHAR", "author": {"accountId": "VARCHAR"},
              "items": [{"field": "VARCHAR", "fieldtype": "VARCHAR", "fieldId": "VARCHAR",
                         "from": "VARCHAR", "fromString": "VARCHAR", "to": "VARCHAR", "toString": "VARCHAR"}]}'
        ) as history
    from source
),

items as (
    -- unnest in the select list: a lateral `unnest(...) with ordinality` join was ~10x slower at
    -- 10M histories in DuckDB
    select
        history_id,
        issue_id,
        source_instance,
        {{ to_utc_timestamp("history.created") }} as changed_at,
        history.author.accountId as author_account_id,
        unnest(history.items) as item,
        generate_subscripts(history.items, 1) as item_index
    from histories
)

select
    history_id,
    item_index,
    issue_id,
    source_instance,
    changed_at,
    -- Jira sends an empty accountId for deleted or anonymised users.
    nullif(author_account_id, '') as author_account_id,
    item.field as field,
    item.fieldtype as field_type,
    -- Older histories carry no fieldId (only `field`), so it may be NULL.
    item.fieldId as field_id,
    item."from" as from_value,
    item.fromString as from_string,
    item."to" as to_value,
    item.toString as to_string
from items
{%- endmacro %}

{% macro postgres__jira_changelog_items(containing=none, ignore_case=false, recent=false) -%}
with
{{ jira_histories_source(recent) }}
    {%- if containing and ignore_case %}
        and changelogs.payload::text ~* '{{ containing }}'
    {%- elif containing %}
        and strpos(changelogs.payload::text, '{{ containing }}') > 0
    {%- endif %}
)

select
    source.record_key as history_id,
    items.item_index,
    source.parent_key as issue_id,
    source.source_instance,
    {{ to_utc_timestamp("source.payload ->> 'created'") }} as changed_at,
    -- Jira sends an empty accountId for deleted or anonymised users.
    nullif(source.payload #>> '{author,accountId}', '') as author_account_id,
    items.item ->> 'field' as field,
    items.item ->> 'fieldtype' as field_type,
    -- Older histories carry no fieldId (only `field`), so it may be NULL.
    items.item ->> 'fieldId' as field_id,
    items.item ->> 'from' as from_value,
    items.item ->> 'fromString' as from_string,
    items.item ->> 'to' as to_value,
    items.item ->> 'toString' as to_string
from source
cross join lateral jsonb_array_elements(
    case when jsonb_typeof(source.payload -> 'items') = 'array' then source.payload -> 'items' end
) with ordinality as items(item, item_index)
{%- endmacro %}


{#- stg_jira__status_changes, and its incremental reader int_jira__issue_status_changes (`recent`: above). -#}
{% macro jira_status_changes(recent=false) -%}
with items as (
    -- only histories that mention a status are parsed (see jira_changelog_items)
    {{ jira_changelog_items(containing='status', recent=recent) }}
)

select
    source_instance,
    issue_id,
    history_id,
    item_index,
    changed_at,
    author_account_id,
    from_value as from_status_id,
    from_string as from_status_name,
    to_value as to_status_id,
    to_string as to_status_name
from items
-- `field` alone could be a custom field someone named "status"; system fields have type `jira`
where field_type = 'jira' and field = 'status'
{%- endmacro %}

{#- stg_jira__flag_changes, and its incremental reader int_jira__issue_flag_changes (`recent`: above).
    Jira writes the flag as a custom field whose value is a list of one option ("Impediment"); clearing it
    leaves an empty `toString`. -#}
{% macro jira_flag_changes(recent=false) -%}
with items as (
    {{ jira_changelog_items(containing='flagged', ignore_case=true, recent=recent) }}
)

select
    source_instance,
    issue_id,
    history_id,
    item_index,
    changed_at,
    author_account_id,
    coalesce(nullif(trim(to_string), ''), nullif(trim(to_value), '')) is not null as is_flagged
from items
-- matched by name: the field's id differs per instance, and older histories carry no fieldId
where field_type = 'custom' and lower(field) = 'flagged'
{%- endmacro %}

{#- stg_jira__sprint_changes, and its incremental reader int_jira__issue_sprint_changes (`recent`: above). -#}
{% macro jira_sprint_changes(recent=false) -%}
with changelog_items as (
    -- only histories that mention a sprint are parsed (see the macro)
    {{ jira_changelog_items(containing='Sprint', recent=recent) }}
),

items as (
    select
        source_instance,
        issue_id,
        history_id,
        item_index,
        changed_at,
        author_account_id,
        {{ array_filter(array_map(split_text("coalesce(from_value, '')", "','"), 'trim(element)'), "element <> ''") }}
            as from_sprint_ids,
        {{ array_filter(array_map(split_text("coalesce(to_value, '')", "','"), 'trim(element)'), "element <> ''") }}
            as to_sprint_ids
    from changelog_items
    -- the agile plugin's custom field; Jira names it "Sprint" in changelog items
    where field = 'Sprint' and field_type = 'custom'
),

changes as (
    select
        *,
        {{ array_filter('to_sprint_ids', 'not ' ~ array_has_value('from_sprint_ids', 'element')) }} as added,
        {{ array_filter('from_sprint_ids', 'not ' ~ array_has_value('to_sprint_ids', 'element')) }} as removed
    from items
)

select source_instance, issue_id, history_id, item_index, changed_at, author_account_id,
    unnest(added) as sprint_id, 'added' as change
from changes
union all
select source_instance, issue_id, history_id, item_index, changed_at, author_account_id,
    unnest(removed) as sprint_id, 'removed' as change
from changes
{%- endmacro %}

{#- Per Jira source instance, its incremental window (read_windows: after the newest read of the last complete
    build, or from the earliest read merged from a shard since), for int_jira__changed_issues and the `recent`
    histories. -#}
{% macro jira_read_windows() -%}
    {{ read_windows('jira', tracker_reads('jira')) }}
{%- endmacro %}

{#- `column` (a read time) compared with the earliest start of jira_read_windows() as a timestamp literal, read
    when the model runs (a literal is what lets the scan skip the older histories): at or after the earliest
    read_since, or after the earliest read_after, whichever is earlier (strictly after: the reads at the mark
    itself were taken in, and at scale they may be a whole load written at one time). No Jira rows: false, as
    when the raw tables do not exist yet (`dbt compile` or `docs generate` of a warehouse never loaded: the
    on-run-start hook that creates them runs with `dbt build` and `run`, not with those). -#}
{% macro jira_histories_read_filter(column) -%}
    {%- set start = {'at': none, 'op': '>='} -%}
    {%- set raw_tables = [source('raw', 'jira__issues'), source('raw', 'jira__changelogs'),
                          source('raw', 'jira__deleted_issues')] -%}
    {%- if execute and throughline.relations_exist(raw_tables) -%}
        {%- for row in run_query('select read_since, read_after from (' ~ jira_read_windows() ~ ') as windows').rows -%}
            {%- if row[0] is not none and (start.at is none or row[0] <= start.at) -%}
                {%- do start.update({'at': row[0], 'op': '>='}) -%}
            {%- endif -%}
            {%- if row[1] is not none and (start.at is none or row[1] < start.at) -%}
                {%- do start.update({'at': row[1], 'op': '>'}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if start.at is none -%}
    false
    {%- else -%}
    {{ column }} {{ start.op }} cast('{{ start.at }}' as timestamp)
    {%- endif -%}
{%- endmacro %}

{#- The start of jira_changelog_items' `source` CTE (the raw histories; with `recent`, the window's only) up to
    its where clause: the caller adds its text filter (`and ...`) and closes the CTE. -#}
{% macro jira_histories_source(recent) -%}
{%- if recent %}
windows as (
    {{ jira_read_windows() }}
),
{%- endif %}

source as (
    select changelogs.*
    from {{ source('raw', 'jira__changelogs') }} as changelogs
    {%- if recent %}
    inner join windows on windows.source_instance = changelogs.source_instance
    {%- endif %}
    where true
    {%- if recent %}
        and {{ jira_histories_read_filter('changelogs.extracted_at') }}
        and {{ in_read_window('changelogs.extracted_at', 'windows') }}
    {%- endif %}
{%- endmacro %}

{#- The `config(...)` of the models parsed per history (int_jira__issue_status_changes, _flag_changes,
    _sprint_changes; docs/OPERATIONS.md#incremental-builds): delete+insert by history item, and the hook below. -#}
{% macro jira_history_increment_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source_instance', 'history_id', 'item_index'],
        on_schema_change='fail',
        post_hook='{{ delete_vanished_jira_histories() }}',
    ) }}
{%- endmacro %}

{#- Post-hook of the models parsed per history (int_jira__issue_status_changes, int_jira__issue_flag_changes,
    int_jira__issue_sprint_changes):
    a re-read issue's histories are written again whole, so a parsed history of a changed issue that its raw
    table no longer holds is gone from Jira's answer: its rows go too (as a per-issue rebuild would). -#}
{% macro delete_vanished_jira_histories() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as built
    where exists (
        select 1
        from {{ ref('int_jira__changed_issues') }} as changed
        where changed.source_instance = built.source_instance
            and changed.issue_id = built.issue_id
    )
        and not exists (
            select 1
            from {{ source('raw', 'jira__changelogs') }} as histories
            where histories.source_instance = built.source_instance
                and histories.record_key = built.history_id
        )
    {%- endif -%}
{%- endmacro %}

{#- True when every relation of `relations` exists in the warehouse (the adapter's cache, no query). -#}
{% macro relations_exist(relations) -%}
    {%- for relation in relations -%}
        {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
            {{- return(false) -}}
        {%- endif -%}
    {%- endfor -%}
    {{- return(true) -}}
{%- endmacro %}
