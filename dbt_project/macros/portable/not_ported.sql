{# The default__ of every portable macro: a build on an adapter without an implementation stops here, by name. #}
{% macro not_ported(name) -%}
    {{ exceptions.raise_compiler_error(
        "Throughline's macro `" ~ name ~ "` has no implementation for the `" ~ adapter.type() ~ "` adapter: add `"
        ~ adapter.type() ~ "__" ~ name ~ "` beside the duckdb and postgres ones in dbt_project/macros/portable/ "
        ~ "(docs/DEPLOY.md#other-warehouses)") }}
{%- endmacro %}
