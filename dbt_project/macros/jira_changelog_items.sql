{#
  The items of raw.jira__changelogs, one row per changed field (stg_jira__changelog_items is exactly
  this). `containing`: read only the histories whose JSON text contains that text before parsing it.
  Parsing every history is the most expensive step at changelog scale, and the views that need one rare
  field (flags, sprints) would otherwise parse all of them; the text only narrows what is parsed, the
  caller still filters the items exactly. The match is case-sensitive (a plain substring search, about
  5x cheaper than ILIKE at 10M histories) unless `ignore_case` is set for a field matched in any case.
  `issues`: a relation of (source_instance, issue_id): read only those issues' histories. Incremental
  models pass the issues they rebuild; DuckDB does not push a join on the view's issue_id below the JSON
  parsing, so the filter has to sit here, on the raw table.
  The DuckDB SQL is tuned for 10M histories (one from_json, unnest in the select list); PostgreSQL reads the
  same fields from jsonb with a lateral jsonb_array_elements.
#}
{% macro jira_changelog_items(containing=none, ignore_case=false, issues=none) -%}
    {{ return(adapter.dispatch('jira_changelog_items', 'throughline')(containing, ignore_case, issues)) }}
{%- endmacro %}
{% macro default__jira_changelog_items(containing=none, ignore_case=false, issues=none) -%}
    {{ throughline.not_ported('jira_changelog_items') }}
{%- endmacro %}

{% macro duckdb__jira_changelog_items(containing=none, ignore_case=false, issues=none) -%}
with source as (
    select changelogs.*
    from {{ source('raw', 'jira__changelogs') }} as changelogs
    {%- if issues %}
    semi join {{ issues }} as issues
        on issues.source_instance = changelogs.source_instance
        and issues.issue_id = changelogs.parent_key
    {%- endif %}
    {% if containing and ignore_case -%}
    where regexp_matches(changelogs.payload::varchar, '(?i){{ containing }}')
    {%- elif containing -%}
    where contains(changelogs.payload::varchar, '{{ containing }}')
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

{% macro postgres__jira_changelog_items(containing=none, ignore_case=false, issues=none) -%}
with source as (
    select changelogs.*
    from {{ source('raw', 'jira__changelogs') }} as changelogs
    where true
    {%- if issues %}
        and exists (
            select 1
            from {{ issues }} as issues
            where issues.source_instance = changelogs.source_instance
                and issues.issue_id = changelogs.parent_key
        )
    {%- endif %}
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


{#- stg_jira__status_changes, and its incremental reader int_jira__issue_status_changes (`issues`: above). -#}
{% macro jira_status_changes(issues=none) -%}
with items as (
    -- only histories that mention a status are parsed (see jira_changelog_items)
    {{ jira_changelog_items(containing='status', issues=issues) }}
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

{#- stg_jira__flag_changes, and its incremental reader work_item_state_intervals (`issues`: above).
    Jira writes the flag as a custom field whose value is a list of one option ("Impediment"); clearing it
    leaves an empty `toString`. -#}
{% macro jira_flag_changes(issues=none) -%}
with items as (
    {{ jira_changelog_items(containing='flagged', ignore_case=true, issues=issues) }}
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
