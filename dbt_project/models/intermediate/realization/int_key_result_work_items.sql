-- Which Jira issues work towards which key result, from the key results' links (stg_outcomes__key_result_links):
-- a label or a field value on the issue, its epic or its initiative; its epic's key; its initiative's key; its
-- own key. Definitions: docs/METRICS.md#outcome-links.

with links as (
    select
        source_instance as key_result_source_instance,
        key_result_id,
        link_kind,
        field,
        lower(trim(link_value)) as link_value_key
    from {{ ref('stg_outcomes__key_result_links') }}
),

hierarchy as (
    select * from {{ ref('int_work_items_hierarchy') }}
),

field_ids as (
    select distinct field from links where link_kind = 'field' and field is not null
),

{#- Reading the named fields parses every live issue's payload: compiled in only when some link names a field
    (most organisations link by label or key; the database would read the payloads for an empty cross join).
    Before the links are built (`dbt compile` or `docs generate` of a new warehouse) the SQL reads them. #}
{%- set field_links = true %}
{%- if execute and load_relation(ref('stg_outcomes__key_result_links')) is not none %}
    {%- set field_links = run_query(
        "select count(*) from " ~ ref('stg_outcomes__key_result_links') ~ " where link_kind = 'field'"
    ).columns[0].values()[0] > 0 %}
{%- endif %}

field_values as (
    -- The fields are named by the key results (data), so no staging view can list them at compile time:
    -- the named fields of each live issue are read from its raw payload here. A field may hold text, a
    -- number, an option `{value}`, a `{name}`/`{key}` object, or a list of those (each element counts).
    select
        issues.source_instance,
        {{ json_text('issues.payload', 'key') }} as carrier_key,
        field_ids.field,
        {{ json_elements_or_value_rows(json_get_at_key('issues.payload', 'fields', 'field_ids.field')) }} as element
    from ({{ jira_live_issues() }}) as issues
    cross join field_ids
    {%- if not field_links %}
    where false
    {%- endif %}
),

carrier_values as (
    -- what a label or field link can match on an issue: its labels, and the values of the named fields
    select source_instance, issue_key as carrier_key, 'label' as link_kind, null::varchar as field,
        lower(trim(unnest(labels))) as value_key
    from {{ ref('stg_jira__issues') }}
    union all
    select
        source_instance,
        carrier_key,
        'field',
        field,
        lower(trim(coalesce(
            {{ json_text('element', 'value') }},
            {{ json_text('element', 'name') }},
            {{ json_text('element', 'key') }},
            {{ json_scalar_text('element') }}
        )))
    from field_values
    where element is not null
),

matched_carriers as (
    -- the issues whose label or field value a link names: few, so they meet the hierarchy last
    select carrier_values.source_instance, carrier_values.carrier_key, links.key_result_source_instance,
        links.key_result_id, links.link_kind
    from carrier_values
    inner join links
        on links.link_kind = carrier_values.link_kind
        and links.field is not distinct from carrier_values.field
        and links.link_value_key = carrier_values.value_key
),

matches as (
    -- an issue inherits the labels and field values of itself, its epic and its initiative; an epic's own
    -- key counts as its epic key, an initiative's as its initiative key (hierarchy). An issue matched twice
    -- the same way (an epic is its own epic) is one row after the grouping below.
    {%- for carrier in ['issue_key', 'epic_key', 'initiative_key'] %}
    select hierarchy.source_instance, hierarchy.issue_id, matched_carriers.key_result_source_instance,
        matched_carriers.key_result_id, matched_carriers.link_kind
    from matched_carriers
    inner join hierarchy
        on hierarchy.source_instance = matched_carriers.source_instance
        and hierarchy.{{ carrier }} = matched_carriers.carrier_key
    union all
    {%- endfor %}
    {%- for kind, key in [('epic', 'epic_key'), ('initiative', 'initiative_key'), ('issue', 'issue_key')] %}
    select hierarchy.source_instance, hierarchy.issue_id, links.key_result_source_instance, links.key_result_id,
        links.link_kind
    from links
    inner join hierarchy
        on links.link_kind = '{{ kind }}'
        and links.link_value_key = lower(hierarchy.{{ key }})
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

{%- set pair = [
    'hierarchy.work_item_id', 'matches.source_instance', 'matches.issue_id', 'hierarchy.issue_key',
    'hierarchy.hierarchy_level', 'hierarchy.epic_key', 'hierarchy.initiative_key',
    'matches.key_result_source_instance', 'matches.key_result_id',
] %}

select
    {{ pair | join(',\n    ') }},
    {{ distinct_sorted_array('matches.link_kind') }} as link_kinds
from matches
inner join hierarchy
    on hierarchy.source_instance = matches.source_instance
    and hierarchy.issue_id = matches.issue_id
group by {{ pair | join(', ') }}
