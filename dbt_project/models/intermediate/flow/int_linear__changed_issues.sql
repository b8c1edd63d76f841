-- The Linear issues read since the last complete build (docs/OPERATIONS.md#incremental-builds): every issue
-- whose raw row or a history entry was read in its source's window (read_windows), as int_jira__changed_issues
-- does for Jira.

{{ tracker_changed_items('linear') }}
