with source as (
    select * from {{ source('raw', 'opsgenie__incidents') }}
)

-- Rename and cast only (staging is 1:1 with raw); the service name and the resolve time are joined in
-- int_opsgenie__incidents.
select
    record_key as incident_id,
    source_instance,
    {{ json_text('payload', 'tinyId') }} as tiny_id,
    {{ json_text('payload', 'message') }} as message,
    {{ json_text('payload', 'description') }} as description,
    lower({{ json_text('payload', 'status') }}) as status,
    {{ json_text('payload', 'priority') }} as priority,
    -- `impactedServices` is what the list answers; `serviceId` is the single service of older answers.
    {{ distinct_texts("array_cat(
        coalesce(" ~ json_wildcard_texts('payload', 'impactedServices') ~ ", array[]::varchar[]),
        case when " ~ json_text('payload', 'serviceId') ~ " is not null then array[" ~ json_text('payload', 'serviceId') ~ "] else array[]::varchar[] end
    )") }} as service_ids,
    {{ json_text('payload', 'ownerTeam') }} as owner_team,
    coalesce({{ json_wildcard_texts('payload', 'tags') }}, array[]::varchar[]) as tags,
    {{ json_text('payload', 'links.web') }} as url,
    {{ to_utc_timestamp(json_text('payload', 'createdAt')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updatedAt')) }} as updated_at,
    extracted_at
from source
