with source as (
    select * from {{ source('raw', 'pagerduty__incidents') }}
)

-- Rename and cast only (staging is 1:1 with raw); resolution from log entries and the service mapping
-- belong to int_pagerduty__incidents.
select
    record_key as incident_id,
    source_instance,
    (payload ->> '$.incident_number')::bigint as incident_number,
    payload ->> '$.title' as title,
    payload ->> '$.html_url' as url,
    lower(payload ->> '$.status') as status,
    lower(payload ->> '$.urgency') as urgency,
    -- NULL when the account has no priorities
    payload ->> '$.priority.summary' as priority,
    payload ->> '$.service.id' as service_id,
    payload ->> '$.service.summary' as service_name,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.resolved_at'") }} as resolved_at,
    {{ to_utc_timestamp("payload ->> '$.last_status_change_at'") }} as last_status_change_at,
    extracted_at
from source
