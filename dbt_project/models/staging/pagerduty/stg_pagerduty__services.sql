with source as (
    select * from {{ source('raw', 'pagerduty__services') }}
)

select
    record_key as service_id,
    source_instance,
    payload ->> '$.name' as service_name,
    lower(payload ->> '$.status') as status,
    payload ->> '$.html_url' as url,
    extracted_at
from source
