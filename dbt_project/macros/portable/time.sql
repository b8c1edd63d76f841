{# Dates and times. The warehouse's timestamps are UTC wall-clock times without a zone (macros/timestamps.sql). #}

{# Seconds since 1970-01-01 of a timestamp, as float8. #}
{% macro epoch_seconds(expression) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__epoch_seconds(expression) -%}{{ throughline.not_ported('epoch_seconds') }}{%- endmacro %}
{% macro duckdb__epoch_seconds(expression) -%}
    epoch({{ expression }})
{%- endmacro %}
{% macro postgres__epoch_seconds(expression) -%}
    extract(epoch from {{ expression }})::float8
{%- endmacro %}

{#
  A series of timestamps from `start` to `stop` (inclusive) every `step` (an interval), as rows in a select
  list: `select {{ timestamp_series_rows("a", "b", "interval '1 day'") }}::date as day from ...`.
#}
{% macro timestamp_series_rows(start, stop, step) -%}
    {{ return(adapter.dispatch('timestamp_series_rows', 'throughline')(start, stop, step)) }}
{%- endmacro %}
{% macro default__timestamp_series_rows(start, stop, step) -%}{{ throughline.not_ported('timestamp_series_rows') }}{%- endmacro %}
{% macro duckdb__timestamp_series_rows(start, stop, step) -%}
    unnest(generate_series(({{ start }})::timestamp, ({{ stop }})::timestamp, {{ step }}))
{%- endmacro %}
{% macro postgres__timestamp_series_rows(start, stop, step) -%}
    generate_series(({{ start }})::timestamp, ({{ stop }})::timestamp, {{ step }})
{%- endmacro %}

{# The timestamp `count` (SQL, may be fractional) units after `expression`: 'day', 'hour', 'minute', 'second'. #}
{% macro add_interval(expression, count, unit) -%}
    ({{ expression }} + ({{ count }}) * interval '1 {{ unit }}')
{%- endmacro %}

{# The days from one date to another, as an integer (Spark's `date - date` is an interval). #}
{% macro days_between_dates(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between_dates', 'throughline')(start_date, end_date)) }}
{%- endmacro %}
{% macro default__days_between_dates(start_date, end_date) -%}
    ({{ end_date }} - {{ start_date }})
{%- endmacro %}
