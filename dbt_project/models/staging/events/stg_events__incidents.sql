-- Checked values from `_throughline` (see stg_events__deployments).
with source as (
    select * from {{ source('raw', 'events__incidents') }}
)

select
    record_key as incident_id,
    source_instance,
    scope as file,
    ({{ json_text('payload', '_throughline.line') }})::integer as line,
    {{ json_text('payload', '_throughline.service') }} as service,
    {{ json_text('payload', '_throughline.severity') }} as severity,
    {{ to_utc_timestamp(json_text('payload', '_throughline.started_at')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', '_throughline.resolved_at')) }} as resolved_at,
    {{ json_text('payload', '_throughline.caused_by_source') }} as caused_by_source_instance,
    {{ json_text('payload', '_throughline.caused_by_deployment') }} as caused_by_deployment_id,
    {{ json_text('payload', '_throughline.root_cause_sha') }} as root_cause_sha,
    ({{ json_text('payload', '_throughline.is_rollback') }})::boolean as is_rollback,
    {{ json_text('payload', '_throughline.title') }} as title,
    {{ json_text('payload', '_throughline.url') }} as url,
    extracted_at
from source
