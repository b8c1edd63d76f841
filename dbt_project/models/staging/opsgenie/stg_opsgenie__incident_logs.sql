with source as (
    select * from {{ source('raw', 'opsgenie__incident_logs') }}
)

-- Rename and cast only; which entry resolved the incident is decided in int_opsgenie__incidents.
select
    parent_key as incident_id,
    source_instance,
    payload ->> '$.offset' as log_offset,
    payload ->> '$.log' as log,
    payload ->> '$.type' as log_type,
    payload ->> '$.owner' as owner,
    {{ to_utc_timestamp("payload ->> '$.createdAt'") }} as logged_at,
    extracted_at
from source
