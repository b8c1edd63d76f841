-- The issues of every tracker read recently (docs/OPERATIONS.md#incremental-builds).
-- A view: a table would copy every tracker's rows each night, where its readers take a few items' rows.
{{ config(materialized='view') }}
{%- set changed_models = ['int_jira__changed_issues', 'int_linear__changed_issues', 'int_azure_devops__changed_work_items'] %}

{% for model in changed_models -%}
select source_instance, issue_id from {{ ref(model) }}
{% if not loop.last %}union all
{% endif %}
{%- endfor %}
