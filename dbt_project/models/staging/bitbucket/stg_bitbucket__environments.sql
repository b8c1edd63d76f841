with source as (
    select * from {{ source('raw', 'bitbucket__environments') }}
)

select
    record_key as environment_id,
    source_instance,
    scope as repo,
    {{ json_text('payload', 'name') }} as environment,
    {{ json_text('payload', 'slug') }} as environment_slug,
    -- Test, Staging or Production: the type Bitbucket files the environment under, whatever its name
    {{ json_text('payload', 'environment_type.name') }} as environment_type,
    extracted_at
from source
