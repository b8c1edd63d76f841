-- Every state change of a Linear issue, from its history, in the columns of int_jira__issue_status_changes.
-- A history entry is one change (item_index 0); the states' names come from the workflow states, else
-- from the issues that are in them.

with states as (
    select distinct on (source_instance, status_id) source_instance, status_id, status_name
    from {{ ref('int_linear__status_mapping') }}
    order by source_instance, status_id
)

select
    history.source_instance,
    history.issue_id,
    history.history_id,
    0 as item_index,
    history.changed_at,
    history.from_state_id as from_status_id,
    from_states.status_name as from_status_name,
    history.to_state_id as to_status_id,
    to_states.status_name as to_status_name
from {{ ref('stg_linear__issue_history') }} as history
left join states as from_states
    on from_states.source_instance = history.source_instance
    and from_states.status_id = history.from_state_id
left join states as to_states
    on to_states.source_instance = history.source_instance
    and to_states.status_id = history.to_state_id
where history.to_state_id is not null
