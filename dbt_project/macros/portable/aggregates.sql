{# Aggregates that only one of the dialects has. Each one ignores NULL inputs, as DuckDB's do. #}

{# The continuous percentile (interpolated; 0.5 is the median). #}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'throughline')(expression, fraction)) }}
{%- endmacro %}
{% macro default__percentile_cont(expression, fraction) -%}{{ throughline.not_ported('percentile_cont') }}{%- endmacro %}
{% macro duckdb__percentile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}
{% macro postgres__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{# The discrete percentile (a value of the input: the first whose cumulative share reaches the fraction). #}
{% macro percentile_disc(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_disc', 'throughline')(expression, fraction)) }}
{%- endmacro %}
{% macro default__percentile_disc(expression, fraction) -%}{{ throughline.not_ported('percentile_disc') }}{%- endmacro %}
{% macro duckdb__percentile_disc(expression, fraction) -%}
    quantile_disc({{ expression }}, {{ fraction }})
{%- endmacro %}
{% macro postgres__percentile_disc(expression, fraction) -%}
    percentile_disc({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro median(expression) -%}{{ throughline.percentile_cont(expression, 0.5) }}{%- endmacro %}

{# `value` of the row with the largest (arg_max) or smallest (arg_min) `ordering`, rows where either is NULL left out (as DuckDB). #}
{% macro arg_max(value, ordering) -%}
    {{ return(adapter.dispatch('arg_max', 'throughline')(value, ordering)) }}
{%- endmacro %}
{% macro default__arg_max(value, ordering) -%}{{ throughline.not_ported('arg_max') }}{%- endmacro %}
{% macro duckdb__arg_max(value, ordering) -%}
    arg_max({{ value }}, {{ ordering }})
{%- endmacro %}
{% macro postgres__arg_max(value, ordering) -%}
    (array_agg({{ value }} order by {{ ordering }} desc) filter (where {{ ordering }} is not null and {{ value }} is not null))[1]
{%- endmacro %}

{% macro arg_min(value, ordering) -%}
    {{ return(adapter.dispatch('arg_min', 'throughline')(value, ordering)) }}
{%- endmacro %}
{% macro default__arg_min(value, ordering) -%}{{ throughline.not_ported('arg_min') }}{%- endmacro %}
{% macro duckdb__arg_min(value, ordering) -%}
    arg_min({{ value }}, {{ ordering }})
{%- endmacro %}
{% macro postgres__arg_min(value, ordering) -%}
    (array_agg({{ value }} order by {{ ordering }}) filter (where {{ ordering }} is not null and {{ value }} is not null))[1]
{%- endmacro %}

{# An array of the group's values in `order_by` order (NULLs kept), as DuckDB's list(). #}
{% macro array_of(expression, order_by=none) -%}
    {{ return(adapter.dispatch('array_of', 'throughline')(expression, order_by)) }}
{%- endmacro %}
{% macro default__array_of(expression, order_by=none) -%}{{ throughline.not_ported('array_of') }}{%- endmacro %}
{% macro duckdb__array_of(expression, order_by=none) -%}
    list({{ expression }}{% if order_by %} order by {{ order_by }}{% endif %})
{%- endmacro %}
{% macro postgres__array_of(expression, order_by=none) -%}
    array_agg({{ expression }}{% if order_by %} order by {{ order_by }}{% endif %})
{%- endmacro %}

{# `function` (an aggregate of numbers: avg, stddev_samp) over the group's values taken in `order_by` order. Floating
   point sums depend on the order they add up in, and a parallel hash aggregate's order varies from run to run:
   in order, the same rows give the same last digits every time (an incremental build equals a full one). Spark's
   aggregates take no order (its builds are full ones). #}
{% macro ordered_aggregate(function, expression, order_by) -%}
    {{ return(adapter.dispatch('ordered_aggregate', 'throughline')(function, expression, order_by)) }}
{%- endmacro %}
{% macro default__ordered_aggregate(function, expression, order_by) -%}
    {{ throughline.not_ported('ordered_aggregate') }}
{%- endmacro %}
{% macro duckdb__ordered_aggregate(function, expression, order_by) -%}
    {{ function }}({{ expression }} order by {{ order_by }})
{%- endmacro %}
{% macro postgres__ordered_aggregate(function, expression, order_by) -%}
    {{ function }}({{ expression }} order by {{ order_by }})
{%- endmacro %}

{# A digest of a group's rows from `values` (expressions): equal for the same rows in any order, so a table as
   built and the same rows computed now compare per group without sorting either. #}
{% macro rows_digest(values) -%}
    {{ return(adapter.dispatch('rows_digest', 'throughline')(values)) }}
{%- endmacro %}
{% macro default__rows_digest(values) -%}{{ throughline.not_ported('rows_digest') }}{%- endmacro %}
{% macro duckdb__rows_digest(values) -%}
    sum(hash({{ values | join(', ') }}))
{%- endmacro %}
{% macro postgres__rows_digest(values) -%}
    sum(hashtextextended({{ throughline.input_fingerprint(values) }}, 0))
{%- endmacro %}
