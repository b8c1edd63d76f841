{#
  JSON reading of the Jira (and file-source) staging models where the portable json_* macros would make
  DuckDB slower: DuckDB parses a document once for many paths, or into typed structs, and PostgreSQL reads
  the same values from jsonb by path.
#}

{#
  stg_jira__issues reads a couple of dozen fixed paths of every issue. `jira_parsed_paths` is the select
  over `relation` that prepares them; `jira_parsed_path_refs` gives the SQL of each path in that select:
  {'text': {path: text}, 'json': {path: JSON value}}. DuckDB reads all `text_paths` in ONE
  json_extract_string call and all `json_paths` in one json_extract (each `->>` parses the whole issue
  again, and at a million issues parsing was most of the cost); the lists are indexed 1-based.
  PostgreSQL reads each path from the jsonb directly.
#}
{% macro jira_parsed_paths(relation, text_paths, json_paths) -%}
    {{ return(adapter.dispatch('jira_parsed_paths', 'throughline')(relation, text_paths, json_paths)) }}
{%- endmacro %}
{% macro default__jira_parsed_paths(relation, text_paths, json_paths) -%}{{ throughline.not_ported('jira_parsed_paths') }}{%- endmacro %}
{% macro duckdb__jira_parsed_paths(relation, text_paths, json_paths) -%}
    select
        *,
        json_extract_string(payload, [{% for path in text_paths %}'$.{{ path }}'{{ ", " if not loop.last }}{% endfor %}])
            as fields,
        json_extract(payload, [{% for path in json_paths %}'$.{{ path }}'{{ ", " if not loop.last }}{% endfor %}])
            as lists
    from {{ relation }}
{%- endmacro %}
{% macro postgres__jira_parsed_paths(relation, text_paths, json_paths) -%}
    select * from {{ relation }}
{%- endmacro %}

{% macro jira_parsed_path_refs(text_paths, json_paths) -%}
    {{ return(adapter.dispatch('jira_parsed_path_refs', 'throughline')(text_paths, json_paths)) }}
{%- endmacro %}
{% macro default__jira_parsed_path_refs(text_paths, json_paths) -%}{{ throughline.not_ported('jira_parsed_path_refs') }}{%- endmacro %}
{% macro duckdb__jira_parsed_path_refs(text_paths, json_paths) -%}
    {%- set refs = {'text': {}, 'json': {}} -%}
    {%- for path in text_paths %}{% do refs.text.update({path: 'fields[' ~ loop.index ~ ']'}) %}{% endfor -%}
    {%- for path in json_paths %}{% do refs.json.update({path: 'lists[' ~ loop.index ~ ']'}) %}{% endfor -%}
    {{ return(refs) }}
{%- endmacro %}
{% macro postgres__jira_parsed_path_refs(text_paths, json_paths) -%}
    {%- set refs = {'text': {}, 'json': {}} -%}
    {%- for path in text_paths %}{% do refs.text.update({path: throughline.postgres__json_text('payload', path)}) %}{% endfor -%}
    {%- for path in json_paths %}{% do refs.json.update({path: throughline.postgres__json_get('payload', path)}) %}{% endfor -%}
    {{ return(refs) }}
{%- endmacro %}

{#
  The objects of a JSON array as rows, in a select list; read their fields with json_object_field(name, path).
  `duckdb_type` is the array's type for DuckDB's from_json ('[{"id": "VARCHAR", ...}]'), every field read
  later VARCHAR: DuckDB parses each array once into structs instead of re-parsing each object per field.
  Not an array (absent, null): no rows.
#}
{% macro json_object_rows(expression, duckdb_type) -%}
    {{ return(adapter.dispatch('json_object_rows', 'throughline')(expression, duckdb_type)) }}
{%- endmacro %}
{% macro default__json_object_rows(expression, duckdb_type) -%}{{ throughline.not_ported('json_object_rows') }}{%- endmacro %}
{% macro duckdb__json_object_rows(expression, duckdb_type) -%}
    unnest(from_json({{ expression }}, '{{ duckdb_type }}'))
{%- endmacro %}
{% macro postgres__json_object_rows(expression, duckdb_type) -%}
    jsonb_array_elements(case when jsonb_typeof({{ expression }}) = 'array' then {{ expression }} end)
{%- endmacro %}

{# The text at `path` ('type.id') of a row of json_object_rows named `name`. #}
{% macro json_object_field(name, path) -%}
    {{ return(adapter.dispatch('json_object_field', 'throughline')(name, path)) }}
{%- endmacro %}
{% macro default__json_object_field(name, path) -%}{{ throughline.not_ported('json_object_field') }}{%- endmacro %}
{% macro duckdb__json_object_field(name, path) -%}
    {{ name }}.{{ path }}
{%- endmacro %}
{% macro postgres__json_object_field(name, path) -%}
    ({{ name }} #>> {{ throughline.pg_json_path(path) }})
{%- endmacro %}
