{#
  Strings and regular expressions. Patterns are written in the syntax both engines share (RE2 in DuckDB,
  PostgreSQL's ARE); `\b` (a word boundary in RE2, a backspace in ARE) is translated to ARE's `\y`.
  `flags` is '' or 'i' (case-insensitive).
#}

{% macro pg_pattern(pattern) -%}
    {#- A pattern given as SQL (a literal or an expression): word boundaries for ARE. -#}
    regexp_replace({{ pattern }}, '\\b', '\\y', 'g')
{%- endmacro %}

{% macro regex_matches(expression, pattern, flags='') -%}
    {{ return(adapter.dispatch('regex_matches', 'throughline')(expression, pattern, flags)) }}
{%- endmacro %}
{% macro default__regex_matches(expression, pattern, flags='') -%}{{ throughline.not_ported('regex_matches') }}{%- endmacro %}
{% macro duckdb__regex_matches(expression, pattern, flags='') -%}
    regexp_matches({{ expression }}, {{ pattern }}{% if flags %}, '{{ flags }}'{% endif %})
{%- endmacro %}
{% macro postgres__regex_matches(expression, pattern, flags='') -%}
    ({{ expression }} {{ '~*' if 'i' in flags else '~' }} {{ throughline.pg_pattern(pattern) }})
{%- endmacro %}

{# The text of capture group `group` (0: the whole match) of the first match; '' when nothing matches, as DuckDB. #}
{% macro regex_extract(expression, pattern, group=0, flags='') -%}
    {{ return(adapter.dispatch('regex_extract', 'throughline')(expression, pattern, group, flags)) }}
{%- endmacro %}
{% macro default__regex_extract(expression, pattern, group=0, flags='') -%}{{ throughline.not_ported('regex_extract') }}{%- endmacro %}
{% macro duckdb__regex_extract(expression, pattern, group=0, flags='') -%}
    regexp_extract({{ expression }}, {{ pattern }}, {{ group }}{% if flags %}, '{{ flags }}'{% endif %})
{%- endmacro %}
{% macro postgres__regex_extract(expression, pattern, group=0, flags='') -%}
    {%- if group == 0 -%}
    case when {{ expression }} is not null then coalesce((regexp_match({{ expression }}, '(' || {{ throughline.pg_pattern(pattern) }} || ')'{% if flags %}, '{{ flags }}'{% endif %}))[1], '') end
    {%- else -%}
    case when {{ expression }} is not null then coalesce((regexp_match({{ expression }}, {{ throughline.pg_pattern(pattern) }}{% if flags %}, '{{ flags }}'{% endif %}))[{{ group }}], '') end
    {%- endif -%}
{%- endmacro %}

{# Every match's group `group` as rows, in a select list (set-returning in both dialects). #}
{% macro regex_extract_all_rows(expression, pattern, group=0) -%}
    {{ return(adapter.dispatch('regex_extract_all_rows', 'throughline')(expression, pattern, group)) }}
{%- endmacro %}
{% macro default__regex_extract_all_rows(expression, pattern, group=0) -%}{{ throughline.not_ported('regex_extract_all_rows') }}{%- endmacro %}
{% macro duckdb__regex_extract_all_rows(expression, pattern, group=0) -%}
    unnest(regexp_extract_all({{ expression }}, {{ pattern }}, {{ group }}))
{%- endmacro %}
{% macro postgres__regex_extract_all_rows(expression, pattern, group=0) -%}
    {%- if group == 0 -%}
    (regexp_matches({{ expression }}, '(' || {{ throughline.pg_pattern(pattern) }} || ')', 'g'))[1]
    {%- else -%}
    (regexp_matches({{ expression }}, {{ throughline.pg_pattern(pattern) }}, 'g'))[{{ group }}]
    {%- endif -%}
{%- endmacro %}

{% macro regex_replace(expression, pattern, replacement, flags='g') -%}
    {{ return(adapter.dispatch('regex_replace', 'throughline')(expression, pattern, replacement, flags)) }}
{%- endmacro %}
{% macro default__regex_replace(expression, pattern, replacement, flags='g') -%}{{ throughline.not_ported('regex_replace') }}{%- endmacro %}
{% macro duckdb__regex_replace(expression, pattern, replacement, flags='g') -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }}{% if flags %}, '{{ flags }}'{% endif %})
{%- endmacro %}
{% macro postgres__regex_replace(expression, pattern, replacement, flags='g') -%}
    regexp_replace({{ expression }}, {{ throughline.pg_pattern(pattern) }}, {{ replacement }}{% if flags %}, '{{ flags }}'{% endif %})
{%- endmacro %}

{# Whether `expression` contains `part` (both text). #}
{% macro contains_text(expression, part) -%}
    {{ return(adapter.dispatch('contains_text', 'throughline')(expression, part)) }}
{%- endmacro %}
{% macro default__contains_text(expression, part) -%}{{ throughline.not_ported('contains_text') }}{%- endmacro %}
{% macro duckdb__contains_text(expression, part) -%}
    contains({{ expression }}, {{ part }})
{%- endmacro %}
{% macro postgres__contains_text(expression, part) -%}
    (strpos({{ expression }}, {{ part }}) > 0)
{%- endmacro %}

{# Text split on a delimiter, as an array of text. #}
{% macro split_text(expression, delimiter) -%}
    {{ return(adapter.dispatch('split_text', 'throughline')(expression, delimiter)) }}
{%- endmacro %}
{% macro default__split_text(expression, delimiter) -%}{{ throughline.not_ported('split_text') }}{%- endmacro %}
{% macro duckdb__split_text(expression, delimiter) -%}
    string_split({{ expression }}, {{ delimiter }})
{%- endmacro %}
{% macro postgres__split_text(expression, delimiter) -%}
    string_to_array({{ expression }}, {{ delimiter }})
{%- endmacro %}

{#
  An array mapped or filtered element by element. `element_sql` is SQL over the name `element`:
  array_map('labels', 'lower(trim(element))'), array_filter('labels', "element like 'sev%'").
#}
{% macro array_map(array_expression, element_sql) -%}
    {{ return(adapter.dispatch('array_map', 'throughline')(array_expression, element_sql)) }}
{%- endmacro %}
{% macro default__array_map(array_expression, element_sql) -%}{{ throughline.not_ported('array_map') }}{%- endmacro %}
{% macro duckdb__array_map(array_expression, element_sql) -%}
    list_transform({{ array_expression }}, lambda element: {{ element_sql }})
{%- endmacro %}
{% macro postgres__array_map(array_expression, element_sql) -%}
    (case when {{ array_expression }} is not null
        then array(select {{ element_sql }} from unnest({{ array_expression }}) with ordinality as u(element, n) order by n) end)
{%- endmacro %}

{% macro array_filter(array_expression, element_sql) -%}
    {{ return(adapter.dispatch('array_filter', 'throughline')(array_expression, element_sql)) }}
{%- endmacro %}
{% macro default__array_filter(array_expression, element_sql) -%}{{ throughline.not_ported('array_filter') }}{%- endmacro %}
{% macro duckdb__array_filter(array_expression, element_sql) -%}
    list_filter({{ array_expression }}, lambda element: {{ element_sql }})
{%- endmacro %}
{% macro postgres__array_filter(array_expression, element_sql) -%}
    (case when {{ array_expression }} is not null
        then array(select element from unnest({{ array_expression }}) with ordinality as u(element, n)
                   where {{ element_sql }} order by n) end)
{%- endmacro %}
