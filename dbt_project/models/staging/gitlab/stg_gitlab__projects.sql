with source as (
    select * from {{ source('raw', 'gitlab__projects') }}
)

select
    record_key as project_id,
    source_instance,
    coalesce(scope, payload ->> '$.path_with_namespace') as project_path,
    payload ->> '$.name' as project_name,
    payload ->> '$.namespace.full_path' as namespace_path,
    payload ->> '$.default_branch' as default_branch,
    coalesce((payload ->> '$.archived')::boolean, false) as is_archived,
    payload ->> '$.web_url' as url,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.last_activity_at'") }} as last_activity_at,
    extracted_at
from source
