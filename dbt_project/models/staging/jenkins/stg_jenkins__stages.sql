with source as (
    select * from {{ source('raw', 'jenkins__stages') }}
),

parsed as (
    select
        record_key as stage_id,
        source_instance,
        parent_key as build_id,
        coalesce(scope, split_part(parent_key, '#', 1)) as job_full_name,
        {{ try_cast("split_part(parent_key, '#', -1)", 'bigint') }} as build_number,
        {{ json_text('payload', 'id') }} as flow_node_id,
        {{ json_text('payload', 'name') }} as stage_name,
        upper({{ json_text('payload', 'status') }}) as status,
        ({{ json_text('payload', 'startTimeMillis') }})::bigint as started_ms,
        ({{ json_text('payload', 'durationMillis') }})::bigint as duration_ms,
        {{ json_text('payload', 'error.message') }} as error_message,
        {{ json_text('payload', 'error.type') }} as error_type,
        extracted_at
    from source
)

select
    stage_id,
    source_instance,
    build_id,
    job_full_name,
    build_number,
    flow_node_id,
    stage_name,
    status,
    {{ epoch_ms_to_timestamp('started_ms') }} as started_at,
    -- A stage that is running, waiting for input or was never run has no end yet.
    case
        when status not in ('IN_PROGRESS', 'PAUSED_PENDING_INPUT', 'NOT_EXECUTED')
            then {{ epoch_ms_to_timestamp('started_ms + duration_ms') }}
    end as finished_at,
    duration_ms::float8 / 3600000 as duration_hours,
    error_message,
    error_type,
    extracted_at
from parsed
