with source as (
    select * from {{ source('raw', 'jira__fields') }}
)

select
    record_key as field_id,
    source_instance,
    {{ json_text('payload', 'name') }} as field_name,
    coalesce(({{ json_text('payload', 'custom') }})::boolean, false) as is_custom,
    {{ json_text('payload', 'schema.type') }} as schema_type,
    -- The plugin type tells a field's meaning when names are translated or renamed
    -- (e.g. `com.pyxis.greenhopper.jira:jsw-story-points`).
    {{ json_text('payload', 'schema.custom') }} as custom_type,
    extracted_at
from source
