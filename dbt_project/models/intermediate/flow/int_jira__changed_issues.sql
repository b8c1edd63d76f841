-- The Jira issues read since the last complete build (docs/OPERATIONS.md#incremental-builds): every issue whose
-- raw issue row, changelog history or tombstone was read in its source's window (read_windows: after the newest
-- read of the last complete build, or merged from a shard since): new, changed, reopened, deleted or
-- moved away, or with histories arriving late. The incremental int_jira__issue_status_changes and
-- int_jira__issue_flag_changes parse the histories read in the same windows (jira_read_windows);
-- int_work_items_to_rebuild adds the issues whose built rows went stale.

with changed as (
    {{ tracker_changed_items('jira') }}
)

select
    source_instance,
    issue_id,
    source_instance || ':' || issue_id as work_item_id
from changed
