-- The status items of the Jira changelog: when an issue moved from which status to which.
with items as (
    -- only histories that mention a status are parsed (see the macro)
    {{ jira_changelog_items(containing='status') }}
)

select
    source_instance,
    issue_id,
    history_id,
    item_index,
    changed_at,
    author_account_id,
    from_value as from_status_id,
    from_string as from_status_name,
    to_value as to_status_id,
    to_string as to_status_name
from items
-- `field` alone could be a custom field someone named "status"; system fields have type `jira`
where field_type = 'jira' and field = 'status'
