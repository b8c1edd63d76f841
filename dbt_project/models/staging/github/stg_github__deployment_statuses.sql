with source as (
    select * from {{ source('raw', 'github__deployment_statuses') }}
)

select
    record_key as deployment_status_id,
    parent_key as deployment_id,
    source_instance,
    coalesce(scope, {{ regex_extract(json_text('payload', 'repository_url'), "'/repos/([^/]+/[^/]+)$'", 1) }}) as repo,
    {{ json_text('payload', 'state') }} as state,
    {{ json_text('payload', 'environment') }} as environment,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    {{ json_text('payload', 'creator.login') }} as creator,
    extracted_at
from source
