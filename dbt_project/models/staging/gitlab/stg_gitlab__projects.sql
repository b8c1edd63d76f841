with source as (
    select * from {{ source('raw', 'gitlab__projects') }}
)

select
    record_key as project_id,
    source_instance,
    coalesce(scope, {{ json_text('payload', 'path_with_namespace') }}) as project_path,
    {{ json_text('payload', 'name') }} as project_name,
    {{ json_text('payload', 'namespace.full_path') }} as namespace_path,
    {{ json_text('payload', 'default_branch') }} as default_branch,
    coalesce(({{ json_text('payload', 'archived') }})::boolean, false) as is_archived,
    {{ json_text('payload', 'web_url') }} as url,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'last_activity_at')) }} as last_activity_at,
    extracted_at
from source
