-- The status changes of the Jira changelog, materialized. The changelog is the largest raw table and
-- reading it means parsing every history's JSON; the status mapping and the status intervals both
-- read this small table instead of the staging view.
-- Incremental (docs/OPERATIONS.md#incremental-builds), by history: a history never changes once Jira wrote
-- it, so a run parses only the histories read within the window of int_jira__changed_issues (new ones,
-- and those re-read with their issue) and replaces their rows; the older histories are not read at all.
-- depends_on: {{ ref('int_jira__changed_issues') }}
{{ jira_history_increment_config() }}

with status_changes as (
    {% if is_incremental() -%}
    {{ jira_status_changes(recent=true) }}
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
