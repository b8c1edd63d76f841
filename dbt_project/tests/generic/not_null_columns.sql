{#
  Fails for each of the given columns that holds a NULL, with the number of rows where it does (the
  failures dbt reports are those rows summed; the test's rows name the columns). It is the not_null test of
  every listed column in one scan of the model and one dbt node: a column-level `not_null` each was 271
  nodes of a `dbt build` (each ~25 ms of dbt's own work and an asset check event in Dagster, on any data)
  and a scan of the model per column in every nightly. Models declare it once, with their required columns
  (docs/ARCHITECTURE.md#data-tests).
#}
{% test not_null_columns(model, columns) %}
{{ config(fail_calc = 'coalesce(sum(null_rows), 0)') }}
with counts as (
    select
    {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
)
{% for column in columns %}
select '{{ column }}' as column_name, nulls_{{ loop.index }} as null_rows from counts where nulls_{{ loop.index }} > 0
{% if not loop.last %}union all{% endif %}
{% endfor %}
{% endtest %}
