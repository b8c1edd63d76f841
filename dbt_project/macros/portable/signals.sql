{#
  Numbers written into text (the evidence of marts.signals). The text must read the same on every
  warehouse, so it follows DuckDB's: round() half away from zero on the float8 value, and the float8
  printed as the shortest text that reads back to the same number, with `.0` on whole numbers
  ('2.5', '3.0', '-0.0'). PostgreSQL's round(float8) rounds half to even, round(numeric, n) rounds the
  15-digit decimal of the float (1.005 -> 1.01 where DuckDB gives 1.0), and float8 text has no `.0`.
#}

{# `expression` (float8) rounded to `digits` decimals, halves away from zero, as DuckDB's round(). #}
{% macro round_half_away(expression, digits=0) -%}
    {{ return(adapter.dispatch('round_half_away', 'throughline')(expression, digits)) }}
{%- endmacro %}
{% macro default__round_half_away(expression, digits=0) -%}{{ throughline.not_ported('round_half_away') }}{%- endmacro %}
{% macro duckdb__round_half_away(expression, digits=0) -%}
    {%- if digits == 0 -%}
    round({{ expression }})
    {%- else -%}
    round({{ expression }}, {{ digits }})
    {%- endif -%}
{%- endmacro %}
{% macro postgres__round_half_away(expression, digits=0) -%}
    {#- DuckDB computes round(x * 10^d) / 10^d in float8 with C's round(); the same steps here, C's round()
        written out: the fraction of |y| (exact in float8) decides, and the sign stays on, so -0.3 -> -0.0. -#}
    {%- set scale = 10 ** digits -%}
    {%- set scaled = '((' ~ expression ~ ')::float8 * ' ~ scale ~ '::float8)' -%}
    (sign({{ scaled }}) * (case
        when abs({{ scaled }}) - floor(abs({{ scaled }})) >= 0.5 then ceil(abs({{ scaled }}))
        else floor(abs({{ scaled }}))
    end) / {{ scale }}::float8)
{%- endmacro %}

{#
  The text of a float8 as DuckDB casts it to varchar. PostgreSQL (extra_float_digits 1, the default) prints
  the same shortest digits but no `.0` on whole numbers; both switch to exponents ('1e-05', '1e+20') except
  between 1e15 and 1e16, where PostgreSQL writes '1e+15' and DuckDB the digits (not an evidence value).
#}
{% macro float_text(expression) -%}
    {{ return(adapter.dispatch('float_text', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__float_text(expression) -%}{{ throughline.not_ported('float_text') }}{%- endmacro %}
{% macro duckdb__float_text(expression) -%}
    ({{ expression }})::varchar
{%- endmacro %}
{% macro postgres__float_text(expression) -%}
    regexp_replace(({{ expression }})::float8::text, '^(-?[0-9]+)$', '\1.0')
{%- endmacro %}

{# Whole microseconds from one timestamp to another, as bigint (exact, so sums of them do not depend on row order). #}
{% macro microseconds_between(start_expression, end_expression) -%}
    {{ return(adapter.dispatch('microseconds_between', 'throughline')(start_expression, end_expression)) }}
{%- endmacro %}
{% macro default__microseconds_between(start_expression, end_expression) -%}{{ throughline.not_ported('microseconds_between') }}{%- endmacro %}
{% macro duckdb__microseconds_between(start_expression, end_expression) -%}
    date_diff('microsecond', {{ start_expression }}, {{ end_expression }})
{%- endmacro %}
{% macro postgres__microseconds_between(start_expression, end_expression) -%}
    (extract(epoch from ({{ end_expression }}) - ({{ start_expression }})) * 1000000)::bigint
{%- endmacro %}
