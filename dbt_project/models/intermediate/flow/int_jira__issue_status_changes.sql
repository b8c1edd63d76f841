-- Only the status items of the Jira changelog, parsed once. The changelog is the largest raw table and
-- reading it means parsing every history's JSON; the status mapping and the status intervals both
-- read this small table instead of the staging view.

select
    source_instance,
    issue_id,
    history_id,
    item_index,
    changed_at,
    from_value as from_status_id,
    from_string as from_status_name,
    to_value as to_status_id,
    to_string as to_status_name
from {{ ref('stg_jira__changelog_items') }}
-- `field` alone could be a custom field someone named "status"; system fields have type `jira`
where field_type = 'jira' and field = 'status'
