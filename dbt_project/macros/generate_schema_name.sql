{#
  Models land in exactly the schema their folder configures (`staging`, `intermediate`, `marts`,
  seeds in `seeds`) instead of dbt's default `<target schema>_<custom schema>`: BI tools and the
  orchestrator address these names directly, and there is one warehouse file per environment,
  so there is no need to prefix schemas per developer.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
