with source as (
    select * from {{ source('raw', 'pagerduty__incidents') }}
)

-- Rename and cast only (staging is 1:1 with raw); resolution from log entries and the service mapping
-- belong to int_pagerduty__incidents.
select
    record_key as incident_id,
    source_instance,
    ({{ json_text('payload', 'incident_number') }})::bigint as incident_number,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'html_url') }} as url,
    lower({{ json_text('payload', 'status') }}) as status,
    lower({{ json_text('payload', 'urgency') }}) as urgency,
    -- NULL when the account has no priorities
    {{ json_text('payload', 'priority.summary') }} as priority,
    {{ json_text('payload', 'service.id') }} as service_id,
    {{ json_text('payload', 'service.summary') }} as service_name,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'resolved_at')) }} as resolved_at,
    {{ to_utc_timestamp(json_text('payload', 'last_status_change_at')) }} as last_status_change_at,
    extracted_at
from source
