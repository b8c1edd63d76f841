with source as (
    select * from {{ source('raw', 'opsgenie__incidents') }}
)

-- Rename and cast only (staging is 1:1 with raw); the service name and the resolve time are joined in
-- int_opsgenie__incidents.
select
    record_key as incident_id,
    source_instance,
    payload ->> '$.tinyId' as tiny_id,
    payload ->> '$.message' as message,
    payload ->> '$.description' as description,
    lower(payload ->> '$.status') as status,
    payload ->> '$.priority' as priority,
    -- `impactedServices` is what the list answers; `serviceId` is the single service of older answers.
    list_distinct(list_concat(
        coalesce(payload ->> '$.impactedServices[*]', []::varchar[]),
        case when payload ->> '$.serviceId' is not null then [payload ->> '$.serviceId'] else []::varchar[] end
    )) as service_ids,
    payload ->> '$.ownerTeam' as owner_team,
    coalesce(payload ->> '$.tags[*]', []::varchar[]) as tags,
    payload ->> '$.links.web' as url,
    {{ to_utc_timestamp("payload ->> '$.createdAt'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.updatedAt'") }} as updated_at,
    extracted_at
from source
