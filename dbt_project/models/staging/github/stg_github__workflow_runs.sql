with source as (
    select * from {{ source('raw', 'github__workflow_runs') }}
)

select
    record_key as run_id,
    source_instance,
    coalesce(scope, payload ->> '$.repository.full_name') as repo,
    payload ->> '$.workflow_id' as workflow_id,
    payload ->> '$.name' as workflow_name,
    (payload ->> '$.run_number')::bigint as run_number,
    (payload ->> '$.run_attempt')::integer as run_attempt,
    payload ->> '$.head_branch' as head_branch,
    payload ->> '$.head_sha' as head_sha,
    payload ->> '$.event' as event,
    -- GitHub writes these in lower case; recorded data also holds upper-case variants (e.g. `STALE`)
    -- and an empty conclusion for unfinished runs.
    lower(payload ->> '$.status') as status,
    nullif(lower(payload ->> '$.conclusion'), '') as conclusion,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at,
    {{ to_utc_timestamp("payload ->> '$.run_started_at'") }} as run_started_at,
    payload ->> '$.actor.login' as actor,
    extracted_at
from source
