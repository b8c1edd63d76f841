-- The status changes of every tracker's issues, in the columns of int_jira__issue_status_changes.
-- A view: a table would copy every tracker's rows each night, where its readers take a few items' rows.
{{ config(materialized='view') }}
{%- set columns = [
    'source_instance', 'issue_id', 'history_id', 'item_index', 'changed_at', 'from_status_id', 'from_status_name',
    'to_status_id', 'to_status_name',
] %}
{%- set change_models = ['int_jira__issue_status_changes', 'int_linear__issue_status_changes', 'int_azure_devops__work_item_state_changes'] %}

{% for model in change_models -%}
select {{ columns | join(', ') }} from {{ ref(model) }}
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
