with source as (
    select * from {{ source('raw', 'linear__issue_history') }}
)

-- One row per history entry. Entries read with their issue name it in parent_key; those read on for an
-- issue with a long history name it in the payload (`issue.id`).
select
    record_key as history_id,
    source_instance,
    coalesce(parent_key, {{ json_text('payload', 'issue.id') }}) as issue_id,
    {{ to_utc_timestamp(json_text('payload', 'createdAt')) }} as changed_at,
    {{ json_text('payload', 'fromStateId') }} as from_state_id,
    {{ json_text('payload', 'toStateId') }} as to_state_id,
    {{ try_cast(json_text('payload', 'fromEstimate'), 'double') }} as from_estimate,
    {{ try_cast(json_text('payload', 'toEstimate'), 'double') }} as to_estimate,
    {{ json_text('payload', 'fromCycleId') }} as from_cycle_id,
    {{ json_text('payload', 'toCycleId') }} as to_cycle_id,
    {{ json_text('payload', 'fromProjectId') }} as from_project_id,
    {{ json_text('payload', 'toProjectId') }} as to_project_id,
    {{ json_text('payload', 'fromParentId') }} as from_parent_issue_id,
    {{ json_text('payload', 'toParentId') }} as to_parent_issue_id,
    extracted_at
from source
