-- The issues of every tracker in the columns the flow models read: Jira's from stg_jira__issues, Linear's
-- shaped alike in int_linear__issues. A new tracker adds its model to the list (docs/ADDING_A_SOURCE.md).
-- A view: a table would copy every tracker's rows each night, where its readers take a few items' rows.
{{ config(materialized='view') }}
{%- set columns = [
    'source_instance', 'issue_id', 'issue_key', 'project_key', 'project_id', 'issue_type', 'labels', 'components',
    'epic_key', 'parent_key', 'issue_type_level', 'is_subtask_type', 'status_id', 'status_name',
    'status_category_key', 'story_points', 'created_at', 'updated_at', 'extracted_at',
] %}
{%- set issue_models = ['stg_jira__issues', 'int_linear__issues', 'int_azure_devops__work_items'] %}

{% for model in issue_models -%}
select {{ columns | join(', ') }} from {{ ref(model) }}
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
