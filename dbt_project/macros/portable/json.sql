{#
  JSON access. Paths are written without `$.`: 'fields.status.name', 'items[0].name'. DuckDB reads the raw
  JSON columns with `->>` JSONPath; PostgreSQL reads jsonb (operations/postgres_copy.py) with `#>>` key paths.
#}

{% macro json_path_keys(path) -%}
    {#- 'a.b[0].c' -> ['a', 'b', '0', 'c'] -#}
    {%- set keys = [] -%}
    {%- for part in path.replace('[', '.').replace(']', '').split('.') if part != '' -%}
        {%- do keys.append(part) -%}
    {%- endfor -%}
    {{ return(keys) }}
{%- endmacro %}

{% macro pg_json_path(path) -%}
    '{ {%- for key in json_path_keys(path) -%}"{{ key }}"{{ "," if not loop.last }}{%- endfor -%} }'
{%- endmacro %}

{# The text of the value at `path` (a string unquoted; numbers, booleans and objects as JSON text); NULL if absent. #}
{% macro json_text(expression, path) -%}
    {{ return(adapter.dispatch('json_text', 'throughline')(expression, path)) }}
{%- endmacro %}
{% macro default__json_text(expression, path) -%}{{ throughline.not_ported('json_text') }}{%- endmacro %}
{% macro duckdb__json_text(expression, path) -%}
    ({{ expression }} ->> '$.{{ path }}')
{%- endmacro %}
{% macro postgres__json_text(expression, path) -%}
    ({{ expression }} #>> {{ throughline.pg_json_path(path) }})
{%- endmacro %}

{# JSON text (kept as text in a table, so a fixture or union needs no JSON type) as the JSON value. #}
{% macro json_parse(expression) -%}
    {{ return(adapter.dispatch('json_parse', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__json_parse(expression) -%}{{ throughline.not_ported('json_parse') }}{%- endmacro %}
{% macro duckdb__json_parse(expression) -%}
    ({{ expression }})::json
{%- endmacro %}
{% macro postgres__json_parse(expression) -%}
    ({{ expression }})::jsonb
{%- endmacro %}

{# The JSON value at `path` (JSON in DuckDB, jsonb in PostgreSQL). #}
{% macro json_get(expression, path) -%}
    {{ return(adapter.dispatch('json_get', 'throughline')(expression, path)) }}
{%- endmacro %}
{% macro default__json_get(expression, path) -%}{{ throughline.not_ported('json_get') }}{%- endmacro %}
{% macro duckdb__json_get(expression, path) -%}
    ({{ expression }} -> '$.{{ path }}')
{%- endmacro %}
{% macro postgres__json_get(expression, path) -%}
    ({{ expression }} #> {{ throughline.pg_json_path(path) }})
{%- endmacro %}

{# The text under a key known only at run time (`key_expression` is SQL), inside the object at `path`. #}
{% macro json_text_at_key(expression, path, key_expression) -%}
    {{ return(adapter.dispatch('json_text_at_key', 'throughline')(expression, path, key_expression)) }}
{%- endmacro %}
{% macro default__json_text_at_key(expression, path, key_expression) -%}{{ throughline.not_ported('json_text_at_key') }}{%- endmacro %}
{% macro duckdb__json_text_at_key(expression, path, key_expression) -%}
    ({{ expression }} ->> ('$.{{ path }}."' || ({{ key_expression }}) || '"'))
{%- endmacro %}
{% macro postgres__json_text_at_key(expression, path, key_expression) -%}
    (({{ expression }} #> {{ throughline.pg_json_path(path) }}) ->> ({{ key_expression }}))
{%- endmacro %}

{# The JSON value under a key known only at run time. #}
{% macro json_get_at_key(expression, path, key_expression) -%}
    {{ return(adapter.dispatch('json_get_at_key', 'throughline')(expression, path, key_expression)) }}
{%- endmacro %}
{% macro default__json_get_at_key(expression, path, key_expression) -%}{{ throughline.not_ported('json_get_at_key') }}{%- endmacro %}
{% macro duckdb__json_get_at_key(expression, path, key_expression) -%}
    ({{ expression }} -> ('$.{{ path }}."' || ({{ key_expression }}) || '"'))
{%- endmacro %}
{% macro postgres__json_get_at_key(expression, path, key_expression) -%}
    (({{ expression }} #> {{ throughline.pg_json_path(path) }}) -> ({{ key_expression }}))
{%- endmacro %}

{# The JSON type of a value in lower case: 'object', 'array', 'string', 'number', 'boolean', 'null'. #}
{% macro json_kind(expression) -%}
    {{ return(adapter.dispatch('json_kind', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__json_kind(expression) -%}{{ throughline.not_ported('json_kind') }}{%- endmacro %}
{% macro duckdb__json_kind(expression) -%}
    (case json_type({{ expression }})
        when 'OBJECT' then 'object' when 'ARRAY' then 'array' when 'VARCHAR' then 'string'
        when 'BOOLEAN' then 'boolean' when 'NULL' then 'null'
        when 'BIGINT' then 'number' when 'UBIGINT' then 'number' when 'DOUBLE' then 'number'
    end)
{%- endmacro %}
{% macro postgres__json_kind(expression) -%}
    jsonb_typeof({{ expression }})
{%- endmacro %}

{# A JSON array of strings as an array of text (NULL when the value is not an array). #}
{% macro json_text_array(expression) -%}
    {{ return(adapter.dispatch('json_text_array', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__json_text_array(expression) -%}{{ throughline.not_ported('json_text_array') }}{%- endmacro %}
{% macro duckdb__json_text_array(expression) -%}
    from_json({{ expression }}, '["VARCHAR"]')
{%- endmacro %}
{% macro postgres__json_text_array(expression) -%}
    (case when jsonb_typeof({{ expression }}) = 'array'
        then array(select element from jsonb_array_elements_text({{ expression }}) with ordinality as e(element, n) order by n)
    end)
{%- endmacro %}

{# One field of every object in a JSON array, as an array of text (NULL when the value is not an array). #}
{% macro json_array_field_texts(expression, field) -%}
    {{ return(adapter.dispatch('json_array_field_texts', 'throughline')(expression, field)) }}
{%- endmacro %}
{% macro default__json_array_field_texts(expression, field) -%}{{ throughline.not_ported('json_array_field_texts') }}{%- endmacro %}
{% macro duckdb__json_array_field_texts(expression, field) -%}
    list_transform(from_json({{ expression }}, '[{"{{ field }}": "VARCHAR"}]'), lambda element: element.{{ field }})
{%- endmacro %}
{% macro postgres__json_array_field_texts(expression, field) -%}
    (case when jsonb_typeof({{ expression }}) = 'array'
        then array(select element ->> '{{ field }}' from jsonb_array_elements({{ expression }}) with ordinality as e(element, n) order by n)
    end)
{%- endmacro %}

{# The elements of a JSON array as rows, in a select list (a set-returning expression in both dialects). #}
{% macro json_array_rows(expression) -%}
    {{ return(adapter.dispatch('json_array_rows', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__json_array_rows(expression) -%}{{ throughline.not_ported('json_array_rows') }}{%- endmacro %}
{% macro duckdb__json_array_rows(expression) -%}
    unnest(from_json({{ expression }}, '["JSON"]'))
{%- endmacro %}
{% macro postgres__json_array_rows(expression) -%}
    jsonb_array_elements(case when jsonb_typeof({{ expression }}) = 'array' then {{ expression }} end)
{%- endmacro %}
