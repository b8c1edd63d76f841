with source as (
    select * from {{ source('raw', 'jira__deleted_issues') }}
)

select
    record_key as issue_id,
    source_instance,
    {{ json_text('payload', 'key') }} as issue_key,
    {{ json_text('payload', 'project') }} as project_key,
    {{ to_utc_timestamp(json_text('payload', 'missingSince')) }} as missing_since,
    extracted_at
from source
