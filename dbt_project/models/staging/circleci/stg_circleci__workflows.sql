with source as (
    select * from {{ source('raw', 'circleci__workflows') }}
)

select
    record_key as workflow_id,
    source_instance,
    coalesce(scope, payload ->> '$.project_slug') as project_slug,
    coalesce(parent_key, payload ->> '$.pipeline_id') as pipeline_id,
    (payload ->> '$.pipeline_number')::bigint as pipeline_number,
    payload ->> '$.name' as workflow_name,
    lower(payload ->> '$.status') as status,
    nullif(payload ->> '$.started_by', '') as started_by,
    nullif(payload ->> '$.canceled_by', '') as canceled_by,
    nullif(payload ->> '$.errored_by', '') as errored_by,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.stopped_at'") }} as stopped_at,
    extracted_at
from source
