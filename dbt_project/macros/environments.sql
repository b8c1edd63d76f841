{#
  TRUE when the environment name is one of the `production_environments` var (case-insensitive).
  The list is rendered into the SQL so the comparison is a constant IN list, not a join.
#}
{% macro is_production_environment(environment_expression) -%}
    {%- set names = var('production_environments') -%}
    {%- if names is string -%}{%- set names = [names] -%}{%- endif -%}
    coalesce(lower({{ environment_expression }}) in (
        {%- for name in names -%}
            '{{ name | lower | replace("'", "''") }}'{{ "," if not loop.last }}
        {%- endfor -%}
    ), false)
{%- endmacro %}
