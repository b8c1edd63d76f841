-- Every state change of an Azure DevOps work item, from its updates, in the columns of
-- int_jira__issue_status_changes. An update is one change (item_index 0); its time is the revision's
-- System.ChangedDate. Azure DevOps has no state ids: a state's name is its id. The first revision sets the
-- state without an old value: that is the creation, which the work item's first interval starts.

select
    source_instance,
    work_item_id as issue_id,
    update_key as history_id,
    0 as item_index,
    changed_at,
    from_state as from_status_id,
    from_state as from_status_name,
    to_state as to_status_id,
    to_state as to_status_name
from {{ ref('stg_azure_devops__work_item_updates') }}
where to_state is not null and from_state is not null and changed_at is not null
