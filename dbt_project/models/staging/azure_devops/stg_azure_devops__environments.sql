with source as (
    select * from {{ source('raw', 'azure_devops__environments') }}
)

select
    record_key as environment_id,
    source_instance,
    scope as project,
    {{ json_text('payload', 'name') }} as environment,
    {{ to_utc_timestamp(json_text('payload', 'createdOn')) }} as created_at,
    extracted_at
from source
