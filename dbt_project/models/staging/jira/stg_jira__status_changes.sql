-- The status items of the Jira changelog: when an issue moved from which status to which.
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
from {{ ref('stg_jira__changelog_items') }}
-- `field` alone could be a custom field someone named "status"; system fields have type `jira`
where field_type = 'jira' and field = 'status'
