with source as (
    select * from {{ source('raw', 'pagerduty__log_entries') }}
)

select
    record_key as log_entry_id,
    source_instance,
    coalesce(parent_key, {{ json_text('payload', 'incident.id') }}) as incident_id,
    -- `acknowledge_log_entry` -> `acknowledge`; a `_reference` type (a summary form) names the same kind
    {{ regex_replace(json_text('payload', 'type'), "'_log_entry(_reference)?$'", "''", flags='') }} as entry_kind,
    {{ json_text('payload', 'summary') }} as summary,
    {{ json_text('payload', 'agent.summary') }} as agent,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    extracted_at
from source
