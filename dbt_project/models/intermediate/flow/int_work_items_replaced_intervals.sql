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

{#- not the new work_items.wip_started_at: a build before it does not have it #}
{{ rebuilt_items_wip_intervals(none if flags.FULL_REFRESH else state_intervals, work_items, []) }}
