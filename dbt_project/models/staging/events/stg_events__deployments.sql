-- The connector validated each row and wrote its checked values under `_throughline` (UTC timestamps with
-- an offset, the status in the documented vocabulary, booleans), so nothing is parsed twice.
with source as (
    select * from {{ source('raw', 'events__deployments') }}
)

select
    record_key as deployment_id,
    source_instance,
    scope as file,
    ({{ json_text('payload', '_throughline.line') }})::integer as line,
    {{ json_text('payload', '_throughline.service') }} as service,
    {{ json_text('payload', '_throughline.environment') }} as environment,
    {{ json_text('payload', '_throughline.status') }} as status,
    {{ json_text('payload', '_throughline.source_status') }} as source_status,
    {{ to_utc_timestamp(json_text('payload', '_throughline.started_at')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', '_throughline.finished_at')) }} as finished_at,
    {{ json_text('payload', '_throughline.sha') }} as sha,
    {{ json_text('payload', '_throughline.version') }} as version,
    {{ json_text('payload', '_throughline.name') }} as name,
    {{ json_text('payload', '_throughline.repo') }} as repo,
    ({{ json_text('payload', '_throughline.is_rollback') }})::boolean as is_rollback,
    ({{ json_text('payload', '_throughline.is_hotfix') }})::boolean as is_hotfix,
    {{ json_text('payload', '_throughline.url') }} as url,
    extracted_at
from source
