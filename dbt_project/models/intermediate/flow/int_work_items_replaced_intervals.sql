-- The waiting and active intervals an incremental build replaces (docs/OPERATIONS.md#incremental-builds):
-- the previous build's work_item_state_intervals rows of the items in int_work_items_to_rebuild, with the
-- item's team, value stream and type as work_items had them, read before those marts replace them (they
-- depend on this model). int_flow_periods_to_rebuild compares them with the new rows, so a period is
-- recomputed when an interval that counted in it moved, changed status, team or type, or vanished. The marts
-- are read without ref(): they are built after this model, and it is the previous build's rows that are
-- wanted. Empty in a full build.
-- depends_on: {{ ref('int_work_items_to_rebuild') }}

{%- set marts = generate_schema_name('marts', none) | trim %}
{%- set state_intervals = adapter.get_relation(database=this.database, schema=marts, identifier='work_item_state_intervals') %}
{%- set work_items = adapter.get_relation(database=this.database, schema=marts, identifier='work_items') %}

{%- if state_intervals and work_items and not flags.FULL_REFRESH %}
select
    built.work_item_id,
    built.flow_state,
    built.status_name,
    built.started_at,
    built.ended_at,
    items.team,
    items.value_stream,
    items.flow_item_type,
    items.is_flow_item
from {{ state_intervals }} as built
{{ flow_rebuild_join('built') }}
inner join {{ work_items }} as items on items.work_item_id = built.work_item_id
where built.flow_state in ('waiting', 'active')
{%- else %}
select
    cast(null as varchar) as work_item_id,
    cast(null as varchar) as flow_state,
    cast(null as varchar) as status_name,
    cast(null as timestamp) as started_at,
    cast(null as timestamp) as ended_at,
    cast(null as varchar) as team,
    cast(null as varchar) as value_stream,
    cast(null as varchar) as flow_item_type,
    cast(null as boolean) as is_flow_item
where false
{%- endif %}
