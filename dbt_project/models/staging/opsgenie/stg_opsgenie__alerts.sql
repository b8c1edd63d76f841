with source as (
    select * from {{ source('raw', 'opsgenie__alerts') }}
),

tagged as (
    select
        *,
        coalesce({{ json_wildcard_texts('payload', 'tags') }}, array[]::varchar[]) as tags
    from source
),

service_tagged as (
    select
        *,
        -- the team's convention, as for Jira labels: a `service:<name>` tag names the affected service
        ({{ array_filter('tags', "starts_with(lower(element), 'service:')") }})[1] as first_service_tag
    from tagged
)

-- Rename and cast only (staging is 1:1 with raw).
select
    record_key as alert_id,
    source_instance,
    {{ json_text('payload', 'tinyId') }} as tiny_id,
    {{ json_text('payload', 'message') }} as message,
    lower({{ json_text('payload', 'status') }}) as status,
    {{ json_text('payload', 'priority') }} as priority,
    tags,
    nullif({{ regex_extract('first_service_tag', "'^[^:]*:\s*(.*)$'", 1) }}, '') as service_tag,
    {{ json_text('payload', 'integration.name') }} as integration,
    {{ to_utc_timestamp(json_text('payload', 'createdAt')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updatedAt')) }} as updated_at,
    -- `report.closeTime` is how long after its creation the alert was closed, in milliseconds
    {{ add_milliseconds(
        to_utc_timestamp(json_text('payload', 'createdAt')),
        try_cast(json_text('payload', 'report.closeTime'), 'bigint')
    ) }} as closed_at,
    extracted_at
from service_tagged
