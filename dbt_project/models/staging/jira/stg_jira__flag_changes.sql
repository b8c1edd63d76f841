-- The "Flagged" items of the Jira changelog: when someone raised or cleared an issue's impediment flag.
-- The SQL is a macro (macros/jira_changelog_items.sql) so the incremental work_item_state_intervals can
-- parse only the histories of the issues it rebuilds.
{{ jira_flag_changes() }}
