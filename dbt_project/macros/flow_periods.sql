{#
  Period-partitioned flow models (docs/OPERATIONS.md#incremental-builds): int_flow_load_daily by day,
  int_signal_status_weeks by week. An incremental run deletes the periods of int_flow_periods_to_rebuild
  (`grain` 'day' or 'week') and appends them recomputed. A delete before the insert rather than dbt's
  delete+insert by key: a period whose last item moved out has no new rows, and its old ones must go too.
  Used as `config(**flow_period_incremental('day', 'day'))`; the model keeps only the listed periods with
  `flow_periods_to_rebuild(grain)`.
#}
{% macro flow_period_incremental(period_column, grain) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'pre_hook': '{{ delete_flow_periods_to_rebuild("' ~ period_column ~ '", "' ~ grain ~ '") }}',
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

{# The periods (as `period_start`) of `grain` an incremental run recomputes: a subquery to join on. #}
{% macro flow_periods_to_rebuild(grain) -%}
    (select period_start from {{ ref('int_flow_periods_to_rebuild') }} where grain = '{{ grain }}')
{%- endmacro %}
