with source as (
    select * from {{ source('raw', 'bitbucket__pipelines') }}
)

select
    record_key as pipeline_id,
    source_instance,
    scope as repo,
    ({{ json_text('payload', 'build_number') }})::integer as build_number,
    -- PENDING, IN_PROGRESS or COMPLETED; a completed run's result is SUCCESSFUL, FAILED, ERROR, STOPPED or EXPIRED
    {{ json_text('payload', 'state.name') }} as state,
    {{ json_text('payload', 'state.result.name') }} as result,
    {{ json_text('payload', 'target.ref_type') }} as ref_type,
    {{ json_text('payload', 'target.ref_name') }} as ref,
    {{ json_text('payload', 'target.commit.hash') }} as sha,
    {{ json_text('payload', 'trigger.name') }} as trigger_name,
    {{ to_utc_timestamp(json_text('payload', 'created_on')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'completed_on')) }} as completed_at,
    extracted_at
from source
