with source as (
    select * from {{ source('raw', 'gitlab__environments') }}
)

select
    record_key as environment_id,
    source_instance,
    scope as project_path,
    {{ json_text('payload', 'name') }} as environment_name,
    {{ json_text('payload', 'slug') }} as slug,
    -- GitLab's own classification (production, staging, testing, development, other); the deployment
    -- rules count an environment of tier production as production whatever its name.
    lower({{ json_text('payload', 'tier') }}) as tier,
    {{ json_text('payload', 'state') }} as state,
    {{ json_text('payload', 'external_url') }} as external_url,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    extracted_at
from source
