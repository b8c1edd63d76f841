with source as (
    select * from {{ source('raw', 'github__workflow_jobs') }}
)

select
    record_key as job_id,
    coalesce(parent_key, payload ->> '$.run_id') as run_id,
    source_instance,
    coalesce(scope, regexp_extract(payload ->> '$.run_url', '/repos/([^/]+/[^/]+)/actions/runs/', 1)) as repo,
    payload ->> '$.name' as job_name,
    payload ->> '$.workflow_name' as workflow_name,
    (payload ->> '$.run_attempt')::integer as run_attempt,
    payload ->> '$.head_sha' as head_sha,
    payload ->> '$.head_branch' as head_branch,
    -- Kept as written, lower-cased: recorded data holds made-up upper-case statuses (e.g. `STALE`).
    lower(payload ->> '$.status') as status,
    nullif(lower(payload ->> '$.conclusion'), '') as conclusion,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.started_at'") }} as started_at,
    {{ to_utc_timestamp("payload ->> '$.completed_at'") }} as completed_at,
    payload ->> '$.runner_name' as runner_name,
    extracted_at
from source
