-- Sprint membership changes (stg_jira__sprint_changes), materialized: the view parses the whole
-- changelog's JSON, and both the team mapping (an item's board) and sprint predictability read it.

select
    source_instance,
    issue_id,
    history_id,
    item_index,
    changed_at,
    sprint_id,
    change
from {{ ref('stg_jira__sprint_changes') }}
