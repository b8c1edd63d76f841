-- The status changes of the Jira changelog, materialized. The changelog is the largest raw table and
-- reading it means parsing every history's JSON; the status mapping and the status intervals both
-- read this small table instead of the staging view.
-- Incremental (docs/OPERATIONS.md#incremental-builds): a run re-parses only the histories of the issues
-- in int_jira__changed_issues and replaces those issues' rows.
-- depends_on: {{ ref('int_jira__changed_issues') }}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['source_instance', 'issue_id'],
    on_schema_change='fail',
) }}

with status_changes as (
    {% if is_incremental() -%}
    {{ jira_status_changes(issues=ref('int_jira__changed_issues')) }}
    {%- else -%}
    select * from {{ ref('stg_jira__status_changes') }}
    {%- endif %}
)

select
    source_instance,
    issue_id,
    history_id,
    item_index,
    changed_at,
    from_status_id,
    from_status_name,
    to_status_id,
    to_status_name
from status_changes
