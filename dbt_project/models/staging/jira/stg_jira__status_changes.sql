-- The status items of the Jira changelog: when an issue moved from which status to which.
-- The SQL is a macro (macros/jira_changelog_items.sql) so the incremental int_jira__issue_status_changes
-- can parse only the histories of the issues it rebuilds.
{{ jira_status_changes() }}
