with source as (
    select * from {{ source('raw', 'azure_devops__teams') }}
)

select
    record_key as team_id,
    source_instance,
    scope as project,
    {{ json_text('payload', 'name') }} as team_name,
    extracted_at
from source
