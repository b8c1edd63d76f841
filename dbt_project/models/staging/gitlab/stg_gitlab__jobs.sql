with source as (
    select * from {{ source('raw', 'gitlab__jobs') }}
)

select
    record_key as job_id,
    source_instance,
    scope as project_path,
    {{ json_text('payload', 'pipeline.id') }} as pipeline_id,
    {{ json_text('payload', 'name') }} as job_name,
    {{ json_text('payload', 'stage') }} as stage,
    lower({{ json_text('payload', 'status') }}) as status,
    {{ json_text('payload', 'ref') }} as ref,
    {{ json_text('payload', 'commit.id') }} as sha,
    coalesce(({{ json_text('payload', 'allow_failure') }})::boolean, false) as allow_failure,
    {{ json_text('payload', 'failure_reason') }} as failure_reason,
    {{ json_text('payload', 'web_url') }} as url,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'started_at')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'finished_at')) }} as finished_at,
    {{ try_cast(json_text('payload', 'duration'), 'float8') }} as duration_seconds,
    extracted_at
from source
