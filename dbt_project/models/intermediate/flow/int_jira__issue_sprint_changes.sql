-- Sprint membership changes (stg_jira__sprint_changes), materialized: the view parses the whole
-- changelog's JSON, and both the team mapping (an item's board) and sprint predictability read it.
-- Incremental by history, as int_jira__issue_status_changes (docs/OPERATIONS.md#incremental-builds): a run
-- parses only the histories read in its window and replaces their rows. Its columns are those it had as a
-- table (no author), so a warehouse built before takes the increments without a full refresh.
-- depends_on: {{ ref('int_jira__changed_issues') }}
{{ jira_history_increment_config() }}

with sprint_changes as (
    {% if is_incremental() -%}
    {{ jira_sprint_changes(recent=true) }}
    {%- else -%}
    select * from {{ ref('stg_jira__sprint_changes') }}
    {%- endif %}
)

select source_instance, issue_id, history_id, item_index, changed_at, sprint_id, change
from sprint_changes
