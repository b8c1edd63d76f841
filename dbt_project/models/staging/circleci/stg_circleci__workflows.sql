with source as (
    select * from {{ source('raw', 'circleci__workflows') }}
)

select
    record_key as workflow_id,
    source_instance,
    coalesce(scope, {{ json_text('payload', 'project_slug') }}) as project_slug,
    coalesce(parent_key, {{ json_text('payload', 'pipeline_id') }}) as pipeline_id,
    ({{ json_text('payload', 'pipeline_number') }})::bigint as pipeline_number,
    {{ json_text('payload', 'name') }} as workflow_name,
    lower({{ json_text('payload', 'status') }}) as status,
    nullif({{ json_text('payload', 'started_by') }}, '') as started_by,
    nullif({{ json_text('payload', 'canceled_by') }}, '') as canceled_by,
    nullif({{ json_text('payload', 'errored_by') }}, '') as errored_by,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'stopped_at')) }} as stopped_at,
    extracted_at
from source
