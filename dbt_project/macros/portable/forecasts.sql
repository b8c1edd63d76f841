{# The Monte Carlo delivery forecasts' randomness and series (docs/METRICS.md#delivery-forecasts). #}

{#
  A whole number in [0, 2^28) from the first 7 hex digits of md5(`text_expression`): the same number on both
  dialects, so a forecast samples the same weeks on DuckDB and PostgreSQL. 7 digits keep the top bit of
  PostgreSQL's 32-bit cast clear, so no sign ever enters.
#}
{% macro md5_integer(text_expression) -%}
    {{ return(adapter.dispatch('md5_integer', 'throughline')(text_expression)) }}
{%- endmacro %}
{% macro default__md5_integer(text_expression) -%}{{ throughline.not_ported('md5_integer') }}{%- endmacro %}
{% macro duckdb__md5_integer(text_expression) -%}
    ('0x' || substr(md5({{ text_expression }}), 1, 7))::bigint
{%- endmacro %}
{% macro postgres__md5_integer(text_expression) -%}
    ('x0' || substr(md5({{ text_expression }}), 1, 7))::bit(32)::integer::bigint
{%- endmacro %}

{# The integers `start` to `stop` (inclusive, SQL) as rows in a select list: `select {{ integer_series_rows(1, 3) }} as n`. #}
{% macro integer_series_rows(start, stop) -%}
    {{ return(adapter.dispatch('integer_series_rows', 'throughline')(start, stop)) }}
{%- endmacro %}
{% macro default__integer_series_rows(start, stop) -%}{{ throughline.not_ported('integer_series_rows') }}{%- endmacro %}
{% macro duckdb__integer_series_rows(start, stop) -%}
    unnest(generate_series(({{ start }})::bigint, ({{ stop }})::bigint))
{%- endmacro %}
{% macro postgres__integer_series_rows(start, stop) -%}
    generate_series(({{ start }})::bigint, ({{ stop }})::bigint)
{%- endmacro %}

{#
  The date the forecasts are made on: the var `forecast_as_of` ('YYYY-MM-DD') when set, else the day of the
  flow marts' as-of time (the last Jira read), so a rebuild over the same raw data forecasts the same.
#}
{% macro forecast_as_of_date() -%}
    {#- flow_as_of() is rendered either way: its ref is recorded while parsing whatever the var says, so a model's
        dependencies never change with a var and one parse holds for every value (operations/dbt_main.py) -#}
    {%- set last_read = flow_as_of() -%}
    {%- if var('forecast_as_of', none) -%}
    '{{ var("forecast_as_of") }}'::date
    {%- else -%}
    ({{ last_read }})::date
    {%- endif -%}
{%- endmacro %}
