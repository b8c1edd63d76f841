-- The waiting and active intervals an incremental build wrote for the items of int_work_items_to_rebuild
-- (docs/OPERATIONS.md#incremental-builds): their new work_item_state_intervals rows, with the item's team, value
-- stream, type and first step into work in progress from the new work_items. The period models compare them with
-- int_work_items_replaced_intervals and read them instead of looking for the rebuilt items among every interval
-- of the history (11M rows at 1M issues, each night). Empty when the period models are built in full (first run,
-- --full-refresh): they read none of it then.
-- depends_on: {{ ref('work_item_state_intervals') }}
-- depends_on: {{ ref('work_items') }}
-- depends_on: {{ ref('int_work_items_to_rebuild') }}

{%- set incremental = flow_period_models()['incremental'] %}
{{ rebuilt_items_wip_intervals(
    ref('work_item_state_intervals') if incremental else none, ref('work_items'), ['wip_started_at']
) }}
