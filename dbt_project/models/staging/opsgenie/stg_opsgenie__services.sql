with source as (
    select * from {{ source('raw', 'opsgenie__services') }}
)

select
    record_key as service_id,
    source_instance,
    payload ->> '$.name' as service_name,
    payload ->> '$.description' as description,
    payload ->> '$.teamId' as team_id,
    extracted_at
from source
