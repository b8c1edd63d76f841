with source as (
    select * from {{ source('raw', 'github__deployments') }}
)

select
    record_key as deployment_id,
    source_instance,
    coalesce(scope, regexp_extract(payload ->> '$.repository_url', '/repos/([^/]+/[^/]+)$', 1)) as repo,
    payload ->> '$.sha' as sha,
    payload ->> '$.ref' as ref,
    payload ->> '$.environment' as environment,
    payload ->> '$.task' as task,
    payload ->> '$.description' as description,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at,
    payload ->> '$.creator.login' as creator,
    extracted_at
from source
