with source as (
    select * from {{ source('raw', 'pagerduty__log_entries') }}
)

select
    record_key as log_entry_id,
    source_instance,
    coalesce(parent_key, payload ->> '$.incident.id') as incident_id,
    -- `acknowledge_log_entry` -> `acknowledge`; a `_reference` type (a summary form) names the same kind
    regexp_replace(payload ->> '$.type', '_log_entry(_reference)?$', '') as entry_kind,
    payload ->> '$.summary' as summary,
    payload ->> '$.agent.summary' as agent,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    extracted_at
from source
