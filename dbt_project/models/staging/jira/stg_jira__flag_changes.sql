-- The "Flagged" items of the Jira changelog: when someone raised or cleared an issue's impediment flag.
-- Jira writes the flag as a custom field whose value is a list of one option ("Impediment"); clearing it
-- leaves an empty `toString`.
with items as (
    {{ jira_changelog_items(containing='flagged') }}
)

select
    source_instance,
    issue_id,
    history_id,
    item_index,
    changed_at,
    author_account_id,
    coalesce(nullif(trim(to_string), ''), nullif(trim(to_value), '')) is not null as is_flagged
from items
-- matched by name: the field's id differs per instance, and older histories carry no fieldId
where field_type = 'custom' and lower(field) = 'flagged'
