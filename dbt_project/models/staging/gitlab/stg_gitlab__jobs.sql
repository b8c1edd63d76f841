with source as (
    select * from {{ source('raw', 'gitlab__jobs') }}
)

select
    record_key as job_id,
    source_instance,
    scope as project_path,
    payload ->> '$.pipeline.id' as pipeline_id,
    payload ->> '$.name' as job_name,
    payload ->> '$.stage' as stage,
    lower(payload ->> '$.status') as status,
    payload ->> '$.ref' as ref,
    payload ->> '$.commit.id' as sha,
    coalesce((payload ->> '$.allow_failure')::boolean, false) as allow_failure,
    payload ->> '$.failure_reason' as failure_reason,
    payload ->> '$.web_url' as url,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.started_at'") }} as started_at,
    {{ to_utc_timestamp("payload ->> '$.finished_at'") }} as finished_at,
    try_cast(payload ->> '$.duration' as double) as duration_seconds,
    extracted_at
from source
