with source as (
    select * from {{ source('raw', 'linear__teams') }}
)

select
    record_key as team_id,
    source_instance,
    {{ json_text('payload', 'key') }} as team_key,
    {{ json_text('payload', 'name') }} as team_name,
    {{ to_utc_timestamp(json_text('payload', 'archivedAt')) }} as archived_at,
    extracted_at
from source
