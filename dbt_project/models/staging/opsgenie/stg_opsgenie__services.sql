with source as (
    select * from {{ source('raw', 'opsgenie__services') }}
)

select
    record_key as service_id,
    source_instance,
    {{ json_text('payload', 'name') }} as service_name,
    {{ json_text('payload', 'description') }} as description,
    {{ json_text('payload', 'teamId') }} as team_id,
    extracted_at
from source
