-- Every status of every tracker with the flow state it resolves to, in the columns of int_jira__status_mapping.
-- A view: a table would copy every tracker's rows each night, where its readers take a few items' rows.
{{ config(materialized='view') }}
{%- set columns = [
    'source_instance', 'project_key', 'status_id', 'status_name', 'status_category_key', 'flow_state',
    'is_mapped_by_seed', 'is_blocked_status',
] %}
{%- set mapping_models = ['int_jira__status_mapping', 'int_linear__status_mapping', 'int_azure_devops__status_mapping'] %}

{% for model in mapping_models -%}
select {{ columns | join(', ') }} from {{ ref(model) }}
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
