{#
  Azure DevOps names a work item's fields by reference names with dots (`System.State`), which a dotted JSON
  path cannot name: these read them as keys. `ado_field` is a work item's field as text; `ado_change` one side
  (`oldValue` / `newValue`) of a field's change in a work item update.
#}
{% macro ado_field(field) -%}
    {{ json_text_at_key('payload', 'fields', "'" ~ field ~ "'") }}
{%- endmacro %}

{% macro ado_change(field, side) -%}
    {{ json_text(json_get_at_key('payload', 'fields', "'" ~ field ~ "'"), side) }}
{%- endmacro %}
