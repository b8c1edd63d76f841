{#
  Period-partitioned flow models (docs/OPERATIONS.md#incremental-builds): int_flow_load_daily by day,
  int_signal_status_weeks by week. An incremental run
  1. deletes the periods of int_flow_periods_to_rebuild (`grain` 'day' or 'week': the periods from the last
     one the previous build holds to the as-of time) and recomputes them from every item;
  2. adds to every earlier row the contribution of the rebuilt items' new intervals less that of their
     replaced ones (int_work_items_replaced_intervals), so the work follows the changed items, not the
     periods they span. A row whose count falls to 0 is emitted with 0 and deleted after the insert.
  The rows of both parts replace the built ones by key (delete+insert on `unique_key`). The delete before the
  insert for the recomputed periods: a period whose last item moved out has no new rows, and its old ones
  must go too.
  Used as `config(**flow_period_incremental('day', 'day', [keys], 'wip_items'))`; the model keeps only the
  listed periods with `flow_periods_to_rebuild(grain)`.
#}
{% macro flow_period_incremental(period_column, grain, unique_key, count_column) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': unique_key,
        'pre_hook': '{{ delete_flow_periods_to_rebuild("' ~ period_column ~ '", "' ~ grain ~ '") }}',
        'post_hook': '{{ delete_emptied_flow_periods("' ~ count_column ~ '") }}',
    }) }}
{%- endmacro %}

{% macro delete_flow_periods_to_rebuild(period_column, grain) -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where {{ period_column }} in (
        select period_start from {{ ref('int_flow_periods_to_rebuild') }} where grain = '{{ grain }}'
    )
    {%- endif -%}
{%- endmacro %}

{# a full build has no row with a count of 0: only an incremental run's subtraction leaves one #}
{% macro delete_emptied_flow_periods(count_column) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ count_column }} = 0
    {%- endif -%}
{%- endmacro %}

{# The periods (as `period_start`) of `grain` an incremental run recomputes: a subquery to join on. #}
{% macro flow_periods_to_rebuild(grain) -%}
    (select period_start from {{ ref('int_flow_periods_to_rebuild') }} where grain = '{{ grain }}')
{%- endmacro %}

{# The first period an incremental run recomputes in full: every earlier one is updated by adding and
   subtracting the rebuilt items' contributions. No period listed: all of them are earlier. #}
{% macro first_period_to_rebuild(grain) -%}
    (select coalesce(min(period_start), date '9999-12-31') from {{ ref('int_flow_periods_to_rebuild') }}
     where grain = '{{ grain }}')
{%- endmacro %}

{# Where the contribution of a rebuilt item's changed interval (a row of `changed_intervals`, with `sign` -1 for
   the previous build's, +1 for the new) can differ from its counterpart's: an interval that only changed its end
   (an open interval closed, a late history cut it short) pairs with its old self, one of each sign on the same
   item, group and start (`pair_columns`), and the two count alike up to the earlier end; any other interval
   from its start. The period models cut the changed intervals from there on, so an item that worked on one
   status for years and moved on costs its last periods, not its whole history. #}
{% macro interval_changed_from(pair_columns) -%}
    {%- set pair = 'over (partition by ' ~ pair_columns | join(', ') ~ ')' -%}
    case when count(*) {{ pair }} = 2 and sum(sign) {{ pair }} = 0
        then coalesce(min(ended_at) {{ pair }}, started_at) else started_at end
{%- endmacro %}

{# Each item's first step into waiting or active before the as-of time (`work_item_ids`: a subquery, or none
    for every item), read from the state intervals alone: no join with work_items needed for it. Reads the
   calling model's `as_of` CTE. #}
{% macro flow_wip_starts_of(work_item_ids) -%}
    select intervals.work_item_id, min(intervals.started_at) as wip_started_at
    from {{ ref('work_item_state_intervals') }} as intervals
    cross join as_of
    where intervals.flow_state in ('waiting', 'active') and intervals.started_at < as_of.as_of_at
        {%- if work_item_ids %}
        and intervals.work_item_id in {{ work_item_ids }}
        {%- endif %}
    group by intervals.work_item_id
{%- endmacro %}
