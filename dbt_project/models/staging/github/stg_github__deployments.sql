with source as (
    select * from {{ source('raw', 'github__deployments') }}
)

select
    record_key as deployment_id,
    source_instance,
    coalesce(scope, {{ regex_extract(json_text('payload', 'repository_url'), "'/repos/([^/]+/[^/]+)$'", 1) }}) as repo,
    {{ json_text('payload', 'sha') }} as sha,
    {{ json_text('payload', 'ref') }} as ref,
    {{ json_text('payload', 'environment') }} as environment,
    {{ json_text('payload', 'task') }} as task,
    {{ json_text('payload', 'description') }} as description,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    {{ json_text('payload', 'creator.login') }} as creator,
    extracted_at
from source
