{#
  Constructs the realization models (epics, initiatives, OKRs, outcome links) need beyond the shared portable
  macros. Each duckdb__ body is the SQL those models ran before they were ported, unchanged, so the DuckDB
  build keeps its plans; each postgres__ body gives the same rows.
#}

{#
  The elements of a JSON array as rows, or the value itself as one row when it is not an array (a Jira
  field holds one value or a list of them). Used in a select list; a NULL gives no row in PostgreSQL and one
  NULL row in DuckDB, so callers drop NULL elements.
#}
{% macro json_elements_or_value_rows(expression) -%}
    {{ return(adapter.dispatch('json_elements_or_value_rows', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__json_elements_or_value_rows(expression) -%}{{ throughline.not_ported('json_elements_or_value_rows') }}{%- endmacro %}
{% macro duckdb__json_elements_or_value_rows(expression) -%}
    unnest(case
        when json_type({{ expression }}) = 'ARRAY' then json_extract({{ expression }}, '$[*]')
        else [{{ expression }}]
    end)
{%- endmacro %}
{% macro postgres__json_elements_or_value_rows(expression) -%}
    jsonb_array_elements(case
        when {{ expression }} is null then null
        when jsonb_typeof({{ expression }}) = 'array' then {{ expression }}
        else jsonb_build_array({{ expression }})
    end)
{%- endmacro %}

{# The text of a JSON string, number or boolean (a string unquoted); NULL for objects, arrays and null. #}
{% macro json_scalar_text(expression) -%}
    {{ return(adapter.dispatch('json_scalar_text', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__json_scalar_text(expression) -%}{{ throughline.not_ported('json_scalar_text') }}{%- endmacro %}
{% macro duckdb__json_scalar_text(expression) -%}
    case when json_type({{ expression }}) in ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN') then {{ expression }} ->> '$' end
{%- endmacro %}
{% macro postgres__json_scalar_text(expression) -%}
    case when jsonb_typeof({{ expression }}) in ('string', 'number', 'boolean') then {{ expression }} #>> '{}' end
{%- endmacro %}

{# The group's distinct non-NULL values, sorted, as an array (empty when there are none). #}
{% macro distinct_sorted_array(expression) -%}
    {{ return(adapter.dispatch('distinct_sorted_array', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__distinct_sorted_array(expression) -%}{{ throughline.not_ported('distinct_sorted_array') }}{%- endmacro %}
{% macro duckdb__distinct_sorted_array(expression) -%}
    list_sort(list_distinct(list({{ expression }})))
{%- endmacro %}
{% macro postgres__distinct_sorted_array(expression) -%}
    coalesce(array_agg(distinct {{ expression }} order by {{ expression }}) filter (where {{ expression }} is not null), '{}')
{%- endmacro %}

{#
  The distinct non-NULL elements of the group's text arrays, sorted, as an array (empty when there are none).
  PostgreSQL cannot aggregate arrays of different lengths into one, so it goes through a jsonb array of them.
#}
{% macro distinct_sorted_array_elements(array_expression) -%}
    {{ return(adapter.dispatch('distinct_sorted_array_elements', 'throughline')(array_expression)) }}
{%- endmacro %}
{% macro default__distinct_sorted_array_elements(array_expression) -%}{{ throughline.not_ported('distinct_sorted_array_elements') }}{%- endmacro %}
{% macro duckdb__distinct_sorted_array_elements(array_expression) -%}
    list_sort(list_distinct(flatten(list({{ array_expression }}))))
{%- endmacro %}
{% macro postgres__distinct_sorted_array_elements(array_expression) -%}
    array(
        select distinct element
        from jsonb_array_elements(
            jsonb_agg(to_jsonb({{ array_expression }})) filter (where {{ array_expression }} is not null)
        ) as arrays(elements)
        cross join jsonb_array_elements_text(arrays.elements) as elements(element)
        where element is not null
        order by element
    )
{%- endmacro %}

{#
  An aggregate: `value` of the group's first row in the order of `keys` (a list of SQL expressions, ascending,
  NULLs last), among the rows where `condition` holds (SQL; none: all rows). Rows whose value is NULL are left
  out, and with a single key rows whose key is NULL (as DuckDB's arg_min; several keys compare as a row,
  which is never NULL).
#}
{% macro min_by_keys(value, keys, condition=none) -%}
    {{ return(adapter.dispatch('min_by_keys', 'throughline')(value, keys, condition)) }}
{%- endmacro %}
{% macro default__min_by_keys(value, keys, condition=none) -%}{{ throughline.not_ported('min_by_keys') }}{%- endmacro %}
{% macro duckdb__min_by_keys(value, keys, condition=none) -%}
    arg_min({{ value }}, ({{ keys | join(', ') }})){% if condition %} filter (where {{ condition }}){% endif %}
{%- endmacro %}
{% macro postgres__min_by_keys(value, keys, condition=none) -%}
    (array_agg({{ value }} order by {{ keys | join(', ') }}) filter (
        where {{ value }} is not null
        {%- if keys | length == 1 %} and ({{ keys[0] }}) is not null{% endif %}
        {%- if condition %} and ({{ condition }}){% endif %}
    ))[1]
{%- endmacro %}

{#
  A join (`kind` left or inner) to the one row of `relation` (named `alias`) that matches `conditions` (SQL
  over both sides) with the latest `right_time` at or before `left_time`: DuckDB's ASOF join, a LATERAL
  subquery in PostgreSQL. Which of several rows tied on the latest time is taken is unspecified in both.
#}
{% macro latest_at_or_before_join(relation, alias, conditions, right_time, left_time, kind='left') -%}
    {{ return(adapter.dispatch('latest_at_or_before_join', 'throughline')(relation, alias, conditions, right_time, left_time, kind)) }}
{%- endmacro %}
{% macro default__latest_at_or_before_join(relation, alias, conditions, right_time, left_time, kind) -%}{{ throughline.not_ported('latest_at_or_before_join') }}{%- endmacro %}
{% macro duckdb__latest_at_or_before_join(relation, alias, conditions, right_time, left_time, kind) -%}
    asof {{ kind }} join {{ relation }} as {{ alias }}
        on {{ conditions }}
        and {{ alias }}.{{ right_time }} <= {{ left_time }}
{%- endmacro %}
{% macro postgres__latest_at_or_before_join(relation, alias, conditions, right_time, left_time, kind) -%}
    {{ "left join" if kind == 'left' else "cross join" }} lateral (
        select *
        from {{ relation }} as {{ alias }}
        where {{ conditions }}
            and {{ alias }}.{{ right_time }} <= {{ left_time }}
        order by {{ alias }}.{{ right_time }} desc
        limit 1
    ) as {{ alias }}{{ " on true" if kind == 'left' }}
{%- endmacro %}

{#
  A list of type names (a var) as a SQL array of lower-case text, for `lower(type) = any(...)`: the same text
  in both dialects, and an empty list matches nothing.
#}
{% macro type_names_array(names) -%}
    {%- set quoted = [] %}
    {%- for name in names %}{% do quoted.append("'" ~ name | lower | replace("'", "''") ~ "'") %}{% endfor %}
    {{- 'array[' ~ quoted | join(', ') ~ ']::varchar[]' -}}
{%- endmacro %}
