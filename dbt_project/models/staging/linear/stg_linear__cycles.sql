with source as (
    select * from {{ source('raw', 'linear__cycles') }}
)

select
    record_key as cycle_id,
    source_instance,
    -- a GraphQL Float (13.0), which PostgreSQL will not cast to integer from text
    cast({{ try_cast(json_text('payload', 'number'), 'double') }} as integer) as cycle_number,
    {{ json_text('payload', 'name') }} as cycle_name,
    {{ json_text('payload', 'team.key') }} as team_key,
    {{ to_utc_timestamp(json_text('payload', 'startsAt')) }} as starts_at,
    {{ to_utc_timestamp(json_text('payload', 'endsAt')) }} as ends_at,
    {{ to_utc_timestamp(json_text('payload', 'completedAt')) }} as completed_at,
    {{ to_utc_timestamp(json_text('payload', 'archivedAt')) }} as archived_at,
    extracted_at
from source
