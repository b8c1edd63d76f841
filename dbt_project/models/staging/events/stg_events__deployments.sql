-- The connector validated each row and wrote its checked values under `_throughline` (UTC timestamps with
-- an offset, the status in the documented vocabulary, booleans), so nothing is parsed twice.
with source as (
    select * from {{ source('raw', 'events__deployments') }}
)

select
    record_key as deployment_id,
    source_instance,
    scope as file,
    (payload ->> '$._throughline.line')::integer as line,
    payload ->> '$._throughline.service' as service,
    payload ->> '$._throughline.environment' as environment,
    payload ->> '$._throughline.status' as status,
    payload ->> '$._throughline.source_status' as source_status,
    {{ to_utc_timestamp("payload ->> '$._throughline.started_at'") }} as started_at,
    {{ to_utc_timestamp("payload ->> '$._throughline.finished_at'") }} as finished_at,
    payload ->> '$._throughline.sha' as sha,
    payload ->> '$._throughline.version' as version,
    payload ->> '$._throughline.name' as name,
    payload ->> '$._throughline.repo' as repo,
    (payload ->> '$._throughline.is_rollback')::boolean as is_rollback,
    (payload ->> '$._throughline.is_hotfix')::boolean as is_hotfix,
    payload ->> '$._throughline.url' as url,
    extracted_at
from source
