-- One row per changed field: a Jira changelog history groups the items one user changed at once.
-- The SQL lives in the macro so the views of rare fields (flags, sprints) can parse only the histories
-- that mention them.
{{ jira_changelog_items() }}
