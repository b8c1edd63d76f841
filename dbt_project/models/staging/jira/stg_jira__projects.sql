with source as (
    select * from {{ source('raw', 'jira__projects') }}
)

select
    record_key as project_id,
    source_instance,
    payload ->> '$.key' as project_key,
    payload ->> '$.name' as project_name,
    payload ->> '$.projectTypeKey' as project_type_key,
    -- `next-gen` is Jira's old name for team-managed projects, which own their statuses and fields.
    coalesce((payload ->> '$.style') = 'next-gen' or (payload ->> '$.simplified')::boolean, false) as is_team_managed,
    extracted_at
from source
