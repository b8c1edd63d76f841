{#
  API timestamps carry their own offset: Jira writes `2026-01-05T09:00:00.000+0000` (or the user's
  zone, e.g. `+0800`), GitHub writes `2026-01-05T09:00:00Z`. A plain cast to TIMESTAMP would drop
  the offset and keep the local wall-clock time, so parse as TIMESTAMPTZ first and take the UTC
  wall-clock time of that instant. Unparseable text becomes NULL; the not_null tests on the
  staging models catch it instead of one bad row failing the whole view.
#}
{% macro to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__to_utc_timestamp(expression) -%}{{ throughline.not_ported('to_utc_timestamp') }}{%- endmacro %}
{% macro duckdb__to_utc_timestamp(expression) -%}
    timezone('UTC', try_cast({{ expression }} as timestamptz))
{%- endmacro %}
{% macro postgres__to_utc_timestamp(expression) -%}
    ({{ throughline.try_cast(expression, 'timestamptz') }} at time zone 'UTC')
{%- endmacro %}

{# Fractional hours between two timestamps, NULL when either end is NULL. #}
{% macro hours_between(start_expression, end_expression) -%}
    {{ return(adapter.dispatch('hours_between', 'throughline')(start_expression, end_expression)) }}
{%- endmacro %}
{% macro default__hours_between(start_expression, end_expression) -%}{{ throughline.not_ported('hours_between') }}{%- endmacro %}
{% macro duckdb__hours_between(start_expression, end_expression) -%}
    (date_diff('microsecond', {{ start_expression }}, {{ end_expression }}) / 3600000000.0)::double
{%- endmacro %}
{% macro postgres__hours_between(start_expression, end_expression) -%}
    (extract(epoch from ({{ end_expression }}) - ({{ start_expression }})) / 3600.0)::float8
{%- endmacro %}
