-- The Azure DevOps work items read since the last complete build (docs/OPERATIONS.md#incremental-builds):
-- every work item whose raw row or an update was read in its source's window (read_windows), as
-- int_jira__changed_issues does for Jira.

{{ tracker_changed_items('azure_devops') }}
