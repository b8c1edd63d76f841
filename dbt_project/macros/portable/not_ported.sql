{# The default__ of every portable macro: a build on an adapter without an implementation stops here, by name. #}
{#- Only when the SQL is run (execute): parsing the project, which renders every model, must not stop on the
    macros of models a partial port does not select. -#}
{% macro not_ported(name) -%}
    {%- if execute -%}
    {{ exceptions.raise_compiler_error(
        "Throughline's macro `" ~ name ~ "` has no implementation for the `" ~ adapter.type() ~ "` adapter: add `"
        ~ adapter.type() ~ "__" ~ name ~ "` beside the duckdb and postgres ones in dbt_project/macros/portable/ "
        ~ "(docs/DEPLOY.md#other-warehouses)") }}
    {%- endif -%}
{%- endmacro %}
