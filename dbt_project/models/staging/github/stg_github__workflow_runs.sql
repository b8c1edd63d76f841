with source as (
    select * from {{ source('raw', 'github__workflow_runs') }}
)

select
    record_key as run_id,
    source_instance,
    coalesce(scope, {{ json_text('payload', 'repository.full_name') }}) as repo,
    {{ json_text('payload', 'workflow_id') }} as workflow_id,
    {{ json_text('payload', 'name') }} as workflow_name,
    ({{ json_text('payload', 'run_number') }})::bigint as run_number,
    ({{ json_text('payload', 'run_attempt') }})::integer as run_attempt,
    {{ json_text('payload', 'head_branch') }} as head_branch,
    {{ json_text('payload', 'head_sha') }} as head_sha,
    {{ json_text('payload', 'event') }} as event,
    -- GitHub writes these in lower case; recorded data also holds upper-case variants (e.g. `STALE`)
    -- and an empty conclusion for unfinished runs.
    lower({{ json_text('payload', 'status') }}) as status,
    nullif(lower({{ json_text('payload', 'conclusion') }}), '') as conclusion,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    {{ to_utc_timestamp(json_text('payload', 'run_started_at')) }} as run_started_at,
    {{ json_text('payload', 'actor.login') }} as actor,
    extracted_at
from source
