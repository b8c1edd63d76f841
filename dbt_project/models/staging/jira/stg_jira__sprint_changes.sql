-- Sprint membership from the changelog: one row per sprint an issue joined or left in one change.
-- A "Sprint" item lists every sprint the issue was in before and after ("38" -> "38, 40" when it was
-- carried over), so joining and leaving are the differences of the two lists.
-- The SQL is a macro (macros/jira_changelog_items.sql) so the incremental int_jira__issue_sprint_changes
-- can parse only the histories read in its window.
{{ jira_sprint_changes() }}
