with source as (
    select * from {{ source('raw', 'github__workflow_jobs') }}
)

select
    record_key as job_id,
    coalesce(parent_key, {{ json_text('payload', 'run_id') }}) as run_id,
    source_instance,
    coalesce(scope, {{ regex_extract(json_text('payload', 'run_url'), "'/repos/([^/]+/[^/]+)/actions/runs/'", 1) }}) as repo,
    {{ json_text('payload', 'name') }} as job_name,
    {{ json_text('payload', 'workflow_name') }} as workflow_name,
    ({{ json_text('payload', 'run_attempt') }})::integer as run_attempt,
    {{ json_text('payload', 'head_sha') }} as head_sha,
    {{ json_text('payload', 'head_branch') }} as head_branch,
    -- Kept as written, lower-cased: recorded data holds made-up upper-case statuses (e.g. `STALE`).
    lower({{ json_text('payload', 'status') }}) as status,
    nullif(lower({{ json_text('payload', 'conclusion') }}), '') as conclusion,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'started_at')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'completed_at')) }} as completed_at,
    {{ json_text('payload', 'runner_name') }} as runner_name,
    extracted_at
from source
