with source as (
    select * from {{ source('raw', 'jira__boards') }}
)

select
    record_key as board_id,
    source_instance,
    {{ json_text('payload', 'name') }} as board_name,
    {{ json_text('payload', 'type') }} as board_type,
    coalesce({{ json_text('payload', 'location.projectKey') }}, scope) as project_key,
    extracted_at
from source
