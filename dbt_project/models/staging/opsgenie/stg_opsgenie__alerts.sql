with source as (
    select * from {{ source('raw', 'opsgenie__alerts') }}
)

-- Rename and cast only (staging is 1:1 with raw).
select
    record_key as alert_id,
    source_instance,
    payload ->> '$.tinyId' as tiny_id,
    payload ->> '$.message' as message,
    lower(payload ->> '$.status') as status,
    payload ->> '$.priority' as priority,
    coalesce(payload ->> '$.tags[*]', []::varchar[]) as tags,
    -- the team's convention, as for Jira labels: a `service:<name>` tag names the affected service
    nullif(regexp_extract(
        list_filter(coalesce(payload ->> '$.tags[*]', []::varchar[]), lambda tag: starts_with(lower(tag), 'service:'))[1],
        '^[^:]*:\s*(.*)$', 1
    ), '') as service_tag,
    payload ->> '$.integration.name' as integration,
    {{ to_utc_timestamp("payload ->> '$.createdAt'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.updatedAt'") }} as updated_at,
    -- `report.closeTime` is how long after its creation the alert was closed, in milliseconds
    {{ to_utc_timestamp("payload ->> '$.createdAt'") }}
        + to_milliseconds(try_cast(payload ->> '$.report.closeTime' as bigint)) as closed_at,
    extracted_at
from source
