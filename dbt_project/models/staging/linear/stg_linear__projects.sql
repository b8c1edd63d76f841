with source as (
    select * from {{ source('raw', 'linear__projects') }}
)

select
    record_key as project_id,
    source_instance,
    {{ json_text('payload', 'name') }} as project_name,
    {{ json_text('payload', 'url') }} as url,
    {{ json_text('payload', 'status.name') }} as status_name,
    {{ json_text('payload', 'status.type') }} as status_type,
    {{ try_cast(json_text('payload', 'progress'), 'double') }} as progress,
    {{ try_cast(json_text('payload', 'startDate'), 'date') }} as start_date,
    {{ try_cast(json_text('payload', 'targetDate'), 'date') }} as target_date,
    {{ to_utc_timestamp(json_text('payload', 'createdAt')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'startedAt')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'completedAt')) }} as completed_at,
    {{ to_utc_timestamp(json_text('payload', 'canceledAt')) }} as canceled_at,
    {{ json_wildcard_texts('payload', 'teams.nodes', 'key') }} as team_keys,
    {{ json_wildcard_texts('payload', 'initiatives.nodes', 'id') }} as initiative_ids,
    {{ json_wildcard_texts('payload', 'initiatives.nodes', 'name') }} as initiative_names,
    {{ to_utc_timestamp(json_text('payload', 'archivedAt')) }} as archived_at,
    extracted_at
from source
