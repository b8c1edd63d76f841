-- Each work item's time in each status, for the items in progress behind a signal (pages/signals/[team].md).
select work_item_id, issue_key, status_name, flow_state, is_blocked, started_at, ended_at
from marts.work_item_state_intervals
