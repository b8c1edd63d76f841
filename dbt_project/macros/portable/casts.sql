{#
  try_cast: NULL instead of an error when text does not convert (an API sending "n/a" as story points must
  not fail the build). DuckDB has TRY_CAST; PostgreSQL gets small functions, created by the on-run-start hook
  `install_portable_functions` in the target schema.
#}

{% macro try_cast(expression, type) -%}
    {{ return(adapter.dispatch('try_cast', 'throughline')(expression, type)) }}
{%- endmacro %}
{% macro default__try_cast(expression, type) -%}{{ throughline.not_ported('try_cast') }}{%- endmacro %}
{% macro duckdb__try_cast(expression, type) -%}
    try_cast({{ expression }} as {{ type }})
{%- endmacro %}
{% macro postgres__try_cast(expression, type) -%}
    {%- set name = type | lower | replace(' ', '_') -%}
    {%- if name not in ('float8', 'double', 'bigint', 'integer', 'boolean', 'date', 'timestamp', 'timestamptz') -%}
        {{ exceptions.raise_compiler_error("try_cast to " ~ type ~ " has no PostgreSQL function; add it to install_portable_functions") }}
    {%- endif -%}
    {{ target.schema }}.throughline_try_{{ 'float8' if name == 'double' else name }}(({{ expression }})::text)
{%- endmacro %}

{% macro install_portable_functions() -%}
    {{ return(adapter.dispatch('install_portable_functions', 'throughline')()) }}
{%- endmacro %}
{% macro default__install_portable_functions() -%}select 1{%- endmacro %}
{% macro postgres__install_portable_functions() -%}
    create schema if not exists {{ target.schema }};
    {% for type in ['float8', 'bigint', 'integer', 'boolean', 'date', 'timestamp', 'timestamptz'] %}
    create or replace function {{ target.schema }}.throughline_try_{{ type }}(value text) returns {{ type }}
    language plpgsql immutable as $$
    begin
        return value::{{ type }};
    exception when others then
        return null;
    end $$;
    {% endfor %}
{%- endmacro %}
