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

{# The period models as the previous build left them ({'day': int_flow_load_daily, 'week_start':
   int_signal_status_weeks}, each a relation or none) and whether this run builds them incrementally: they exist and
   the build is no --full-refresh. Their bookkeeping (int_flow_periods_to_rebuild, int_work_items_rebuilt_intervals)
   lists nothing otherwise: a first or full build of them reads none of it. #}
{% macro flow_period_models() -%}
    {%- set built = {} %}
    {%- for column, identifier in [('day', 'int_flow_load_daily'), ('week_start', 'int_signal_status_weeks')] %}
        {%- do built.update({column: adapter.get_relation(
            database=this.database, schema=this.schema, identifier=identifier)}) %}
    {%- endfor %}
    {{ return({'built': built, 'incremental': (built['day'] or built['week_start']) and not flags.FULL_REFRESH}) }}
{%- endmacro %}

{# The first and last period of `grain` an incremental run recomputes, as date literals read when the model runs
   (none: no period), so the period models can bound their read of the state intervals by constants, which DuckDB
   checks in the scan itself instead of joining every row with a subquery's result. A unit test's inputs are CTEs
   that no query before the model's can read: there the bounds are those subqueries. #}
{% macro flow_period_bounds(grain) -%}
    {%- if not execute or not is_incremental() %}{{ return(none) }}{% endif %}
    {%- set periods = 'from ' ~ ref('int_flow_periods_to_rebuild') ~ " where grain = '" ~ grain ~ "'" %}
    {%- if model.resource_type == 'unit_test' %}
    {{ return({'first': '(select min(period_start) ' ~ periods ~ ')',
               'last': '(select max(period_start) ' ~ periods ~ ')'}) }}
    {%- endif %}
    {%- set row = run_query('select min(period_start), max(period_start) ' ~ periods).rows[0] %}
    {{ return(none if row[0] is none else {
        'first': "date '" ~ row[0].strftime('%Y-%m-%d') ~ "'", 'last': "date '" ~ row[1].strftime('%Y-%m-%d') ~ "'"
    }) }}
{%- endmacro %}

{# The period models' incremental read of the state intervals (alias `intervals`): those that may overlap the
   recomputed periods (`recomputed`: flow_period_bounds), a superset of the model's exact test, less the rebuilt
   items' (read from int_work_items_rebuilt_intervals). `period_days`: a period's length; `ended_test`: how an
   interval's end must compare with the first period's start to reach into it. #}
{% macro recomputed_periods_read(recomputed, period_days, ended_test) -%}
    {%- if recomputed %}
        and intervals.started_at < {{ recomputed['last'] }} + interval '{{ period_days }} day'
        and (intervals.ended_at is null or intervals.ended_at {{ ended_test }} {{ recomputed['first'] }})
        and intervals.work_item_id not in (select work_item_id from {{ ref('int_work_items_rebuilt_intervals') }})
    {%- else %}
        and false
    {%- endif %}
{%- endmacro %}

{# The waiting and active rows of `state_intervals` (work_item_state_intervals as built) for the items of
   int_work_items_to_rebuild, with the item's team, value stream, type, flow-item flag and `timestamp_columns` from
   `work_items`; none (either relation none): no rows, the same columns. #}
{% macro rebuilt_items_wip_intervals(state_intervals, work_items, timestamp_columns) -%}
{%- if state_intervals and work_items %}
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
    {%- for column in timestamp_columns %},
    items.{{ column }}
    {%- endfor %}
from {{ state_intervals }} as built
-- the rebuilt items first (20,000 of 1M at +1%), then their intervals: joined the other way round, every
-- interval of the history would meet its item before the few rebuilt ones were picked out
inner join (
    select items.*
    from {{ work_items }} as items
    {{ flow_rebuild_join('items') }}
) as items on items.work_item_id = built.work_item_id
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
    {%- for column in timestamp_columns %},
    cast(null as timestamp) as {{ column }}
    {%- endfor %}
where false
{%- endif %}
{%- endmacro %}
