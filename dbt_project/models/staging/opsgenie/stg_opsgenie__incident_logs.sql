with source as (
    select * from {{ source('raw', 'opsgenie__incident_logs') }}
)

-- Rename and cast only; which entry resolved the incident is decided in int_opsgenie__incidents.
select
    parent_key as incident_id,
    source_instance,
    {{ json_text('payload', 'offset') }} as log_offset,
    {{ json_text('payload', 'log') }} as log,
    {{ json_text('payload', 'type') }} as log_type,
    {{ json_text('payload', 'owner') }} as owner,
    {{ to_utc_timestamp(json_text('payload', 'createdAt')) }} as logged_at,
    extracted_at
from source
