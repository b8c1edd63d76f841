with source as (
    select * from {{ source('raw', 'linear__workflow_states') }}
)

select
    record_key as state_id,
    source_instance,
    {{ json_text('payload', 'name') }} as state_name,
    {{ json_text('payload', 'type') }} as state_type,
    {{ try_cast(json_text('payload', 'position'), 'double') }} as position,
    {{ json_text('payload', 'team.key') }} as team_key,
    {{ to_utc_timestamp(json_text('payload', 'archivedAt')) }} as archived_at,
    extracted_at
from source
