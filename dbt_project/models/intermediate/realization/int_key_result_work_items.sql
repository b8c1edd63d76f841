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

carriers as (
    -- the issues whose labels and field values an issue inherits: itself, its epic, its initiative
    select source_instance, issue_id, issue_key as carrier_key from hierarchy
    union
    select source_instance, issue_id, epic_key from hierarchy where epic_key is not null
    union
    select source_instance, issue_id, initiative_key from hierarchy where initiative_key is not null
),

field_ids as (
    select distinct field from links where link_kind = 'field' and field is not null
),

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

issue_keys as (
    -- an epic's own key counts as its epic key, an initiative's as its initiative key (hierarchy)
    select source_instance, issue_id, 'epic' as link_kind, lower(epic_key) as link_value_key
    from hierarchy where epic_key is not null
    union all
    select source_instance, issue_id, 'initiative', lower(initiative_key) from hierarchy where initiative_key is not null
    union all
    select source_instance, issue_id, 'issue', lower(issue_key) from hierarchy
),

matches as (
    select carriers.source_instance, carriers.issue_id, links.key_result_source_instance, links.key_result_id,
        links.link_kind
    from carriers
    inner join carrier_values
        on carrier_values.source_instance = carriers.source_instance
        and carrier_values.carrier_key = carriers.carrier_key
    inner join links
        on links.link_kind = carrier_values.link_kind
        and links.field is not distinct from carrier_values.field
        and links.link_value_key = carrier_values.value_key
    union all
    select issue_keys.source_instance, issue_keys.issue_id, links.key_result_source_instance, links.key_result_id,
        links.link_kind
    from issue_keys
    inner join links
        on links.link_kind = issue_keys.link_kind
        and links.link_value_key = issue_keys.link_value_key
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
