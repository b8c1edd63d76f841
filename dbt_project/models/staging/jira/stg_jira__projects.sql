with source as (
    select * from {{ source('raw', 'jira__projects') }}
)

select
    record_key as project_id,
    source_instance,
    {{ json_text('payload', 'key') }} as project_key,
    {{ json_text('payload', 'name') }} as project_name,
    {{ json_text('payload', 'projectTypeKey') }} as project_type_key,
    -- `next-gen` is Jira's old name for team-managed projects, which own their statuses and fields.
    coalesce(({{ json_text('payload', 'style') }}) = 'next-gen' or ({{ json_text('payload', 'simplified') }})::boolean, false) as is_team_managed,
    extracted_at
from source
