-- The work items an incremental build rebuilds (docs/OPERATIONS.md#incremental-builds): the incremental
-- int_work_items_status_intervals, work_item_state_intervals and work_items delete and insert exactly
-- these items' rows.
-- 1. the issues read recently (int_jira__changed_issues);
-- 2. the issues whose rows from the previous build no longer match what they were built with: a status
--    renamed or mapped to another flow state, a team, value stream, flow item type or initiative changed
--    by the seeds or by another issue (a board renamed, an epic moved), or counted as a flow item or not
--    (var flow_item_hierarchy_levels). So a seed edit needs no full refresh. The marts are read without
--    ref(): they are built after this model, from it, and it is the previous build's rows that must be
--    compared. A full build (first run, --full-refresh) reads none of this.
-- depends_on: {{ ref('int_tracker_status_mapping_unioned') }}
-- depends_on: {{ ref('int_work_items_classified') }}

{%- set marts = generate_schema_name('marts', none) | trim %}
{%- set state_intervals = adapter.get_relation(database=this.database, schema=marts, identifier='work_item_state_intervals') %}
{%- set work_items = adapter.get_relation(database=this.database, schema=marts, identifier='work_items') %}
{#- a work_items built before a column existed: every item is stale (the column is appended, then filled) #}
{%- set built_columns = adapter.get_columns_in_relation(work_items) | map(attribute='name') | map('lower') | list
    if work_items and execute else [] %}
{%- set has_flow_item_columns = 'is_flow_item' in built_columns and 'issue_type_hierarchy_level' in built_columns %}

with to_rebuild as (
    select source_instance, issue_id from {{ ref('int_tracker_changed_issues_unioned') }}
    {%- if state_intervals and not flags.FULL_REFRESH %}

    union

    -- compared once per distinct status as built (~100 at 1M issues), not once per interval (11M); the
    -- intervals are read again only to find the items of a status that no longer matches (none most nights)
    select built.source_instance, built.issue_id
    from {{ state_intervals }} as built
    where exists (
        select 1
        from (
            select distinct source_instance, project_key, status_id, status_name, status_category_key, flow_state,
                is_blocked_status
            from {{ state_intervals }}
        ) as status_built
        left join {{ ref('int_tracker_status_mapping_unioned') }} as status_mapping
            on status_mapping.source_instance = status_built.source_instance
            and status_mapping.project_key = status_built.project_key
            and status_mapping.status_id = status_built.status_id
        -- the same expressions as int_work_items_status_intervals and work_item_state_intervals
        where (status_built.status_name is distinct from coalesce(status_mapping.status_name, status_built.status_name)
            or status_built.status_category_key is distinct from status_mapping.status_category_key
            or status_built.flow_state is distinct from status_mapping.flow_state
            or status_built.is_blocked_status <> coalesce(status_mapping.is_blocked_status, false))
            and status_built.source_instance = built.source_instance
            and status_built.project_key is not distinct from built.project_key
            and status_built.status_id is not distinct from built.status_id
            and status_built.status_name is not distinct from built.status_name
            and status_built.status_category_key is not distinct from built.status_category_key
            and status_built.flow_state is not distinct from built.flow_state
            and status_built.is_blocked_status is not distinct from built.is_blocked_status
    )
    {%- endif %}
    {%- if work_items and not flags.FULL_REFRESH %}

    union

    select built.source_instance, built.issue_id
    from {{ work_items }} as built
    left join {{ ref('int_work_items_classified') }} as classified
        on classified.source_instance = built.source_instance
        and classified.issue_id = built.issue_id
    where classified.issue_id is null
        or built.flow_item_type is distinct from classified.flow_item_type
        or built.team is distinct from classified.team
        or built.value_stream is distinct from classified.value_stream
        or built.initiative_key is distinct from classified.initiative_key
        {%- if has_flow_item_columns %}
        or built.issue_type_hierarchy_level is distinct from classified.issue_type_hierarchy_level
        or built.is_flow_item is distinct from classified.is_flow_item
        {%- else %}
        or true
        {%- endif %}
    {%- endif %}

)

select distinct
    source_instance,
    issue_id,
    source_instance || ':' || issue_id as work_item_id
from to_rebuild
