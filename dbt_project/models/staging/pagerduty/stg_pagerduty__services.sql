with source as (
    select * from {{ source('raw', 'pagerduty__services') }}
)

select
    record_key as service_id,
    source_instance,
    {{ json_text('payload', 'name') }} as service_name,
    lower({{ json_text('payload', 'status') }}) as status,
    {{ json_text('payload', 'html_url') }} as url,
    extracted_at
from source
