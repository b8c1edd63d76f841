with source as (
    select * from {{ source('raw', 'gitlab__pipelines') }}
),

parsed as (
    select
        record_key as pipeline_id,
        source_instance,
        coalesce(scope, {{ json_text('payload', 'project_id') }}) as project_path,
        ({{ json_text('payload', 'iid') }})::integer as pipeline_iid,
        {{ json_text('payload', 'sha') }} as sha,
        {{ json_text('payload', 'ref') }} as ref,
        lower({{ json_text('payload', 'status') }}) as status,
        {{ json_text('payload', 'source') }} as trigger_source,
        {{ json_text('payload', 'web_url') }} as url,
        {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
        -- Only the single-pipeline endpoint has these; the list leaves them out.
        {{ to_utc_timestamp(json_text('payload', 'started_at')) }} as started_at,
        {{ to_utc_timestamp(json_text('payload', 'finished_at')) }} as finished_at,
        {{ try_cast(json_text('payload', 'duration'), 'float8') }} as duration_seconds,
        extracted_at
    from source
)

select
    pipeline_id,
    source_instance,
    project_path,
    pipeline_iid,
    sha,
    ref,
    status,
    trigger_source,
    url,
    created_at,
    updated_at,
    started_at,
    finished_at,
    duration_seconds,
    extracted_at
-- The raw table holds one row per pipeline id; a raw table filled another way (a DevLake export keeps
-- a pipeline once per status it was seen in) may hold several: the latest update is the pipeline.
from (
    select
        *,
        row_number() over (
            partition by source_instance, pipeline_id order by updated_at desc nulls last, extracted_at desc nulls last
        ) as version_rank
    from parsed
) as versions
where version_rank = 1
