with source as (
    select * from {{ source('raw', 'circleci__jobs') }}
)

select
    record_key as job_id,
    source_instance,
    coalesce(scope, {{ json_text('payload', 'project_slug') }}) as project_slug,
    parent_key as workflow_id,
    ({{ json_text('payload', 'job_number') }})::bigint as job_number,
    {{ json_text('payload', 'name') }} as job_name,
    {{ json_text('payload', 'type') }} as job_type,
    lower({{ json_text('payload', 'status') }}) as status,
    nullif({{ json_text('payload', 'approved_by') }}, '') as approved_by,
    {{ to_utc_timestamp(json_text('payload', 'started_at')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'stopped_at')) }} as stopped_at,
    extracted_at
from source
