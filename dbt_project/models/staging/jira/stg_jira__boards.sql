with source as (
    select * from {{ source('raw', 'jira__boards') }}
)

select
    record_key as board_id,
    source_instance,
    payload ->> '$.name' as board_name,
    payload ->> '$.type' as board_type,
    coalesce(payload ->> '$.location.projectKey', scope) as project_key,
    extracted_at
from source
