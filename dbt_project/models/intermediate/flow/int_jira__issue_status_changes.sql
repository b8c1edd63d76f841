-- The status changes of the Jira changelog, materialized. The changelog is the largest raw table and
-- reading it means parsing every history's JSON; the status mapping and the status intervals both
-- read this small table instead of the staging view.

select
    source_instance,
    issue_id,
    history_id,
    item_index,
    changed_at,
    from_status_id,
    from_status_name,
    to_status_id,
    to_status_name
from {{ ref('stg_jira__status_changes') }}
