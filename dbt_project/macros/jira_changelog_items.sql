{#
  The items of raw.jira__changelogs, one row per changed field (stg_jira__changelog_items is exactly
  this). `containing`: read only the histories whose JSON text contains that word (case-insensitive)
  before parsing it. Parsing every history is the most expensive step at changelog scale, and the views
  that need one rare field (flags, sprints) would otherwise parse all of them; the word only narrows
  what is parsed, the caller still filters the items exactly.
#}
{% macro jira_changelog_items(containing=none) -%}
with source as (
    select * from {{ source('raw', 'jira__changelogs') }}
    {% if containing %}where payload::varchar ilike '%{{ containing }}%'{% endif %}
),

histories as (
    select
        record_key as history_id,
        parent_key as issue_id,
        source_instance,
        {{ to_utc_timestamp("payload ->> '$.created'") }} as changed_at,
        payload ->> '$.author.accountId' as author_account_id,
        from_json(
            payload -> '$.items',
            '[{"field": "VARCHAR", "fieldtype": "VARCHAR", "fieldId": "VARCHAR",
               "from": "VARCHAR", "fromString": "VARCHAR", "to": "VARCHAR", "toString": "VARCHAR"}]'
        ) as items
    from source
),

items as (
    -- unnest in the select list: a lateral `unnest(...) with ordinality` join was ~10x slower at
    -- 10M histories in DuckDB
    select
        history_id,
        issue_id,
        source_instance,
        changed_at,
        author_account_id,
        unnest(items) as item,
        generate_subscripts(items, 1) as item_index
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
