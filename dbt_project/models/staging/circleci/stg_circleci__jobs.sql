with source as (
    select * from {{ source('raw', 'circleci__jobs') }}
)

select
    record_key as job_id,
    source_instance,
    coalesce(scope, payload ->> '$.project_slug') as project_slug,
    parent_key as workflow_id,
    (payload ->> '$.job_number')::bigint as job_number,
    payload ->> '$.name' as job_name,
    payload ->> '$.type' as job_type,
    lower(payload ->> '$.status') as status,
    nullif(payload ->> '$.approved_by', '') as approved_by,
    {{ to_utc_timestamp("payload ->> '$.started_at'") }} as started_at,
    {{ to_utc_timestamp("payload ->> '$.stopped_at'") }} as stopped_at,
    extracted_at
from source
