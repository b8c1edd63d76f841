with source as (
    select * from {{ source('raw', 'opsgenie__alerts') }}
)

-- Rename and cast only (staging is 1:1 with raw).
select
    record_key as alert_id,
    source_instance,
    {{ json_text('payload', 'tinyId') }} as tiny_id,
    {{ json_text('payload', 'message') }} as message,
    lower({{ json_text('payload', 'status') }}) as status,
    {{ json_text('payload', 'priority') }} as priority,
    coalesce(payload ->> '$.tags[*]', []::varchar[]) as tags,
    -- the team's convention, as for Jira labels: a `service:<name>` tag names the affected service
    nullif(regexp_extract(
        list_filter(coalesce(payload ->> '$.tags[*]', []::varchar[]), lambda tag: starts_with(lower(tag), 'service:'))[1],
        '^[^:]*:\s*(.*)$', 1
    ), '') as service_tag,
    {{ json_text('payload', 'integration.name') }} as integration,
    {{ to_utc_timestamp(json_text('payload', 'createdAt')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updatedAt')) }} as updated_at,
    -- `report.closeTime` is how long after its creation the alert was closed, in milliseconds
    {{ to_utc_timestamp(json_text('payload', 'createdAt')) }}
        + to_milliseconds(try_cast({{ json_text('payload', 'report.closeTime') }} as bigint)) as closed_at,
    extracted_at
from source
