with source as (
    select * from {{ source('raw', 'gitlab__merge_request_notes') }}
)

select
    record_key as note_id,
    source_instance,
    parent_key as merge_request_id,
    scope as project_path,
    {{ json_text('payload', 'author.username') }} as author,
    -- System notes are GitLab's own log ("added 1 commit", "approved this merge request"), not a person
    -- responding; the first response to review is the first non-system note by someone else than the author.
    coalesce(({{ json_text('payload', 'system') }})::boolean, false) as is_system,
    {{ json_text('payload', 'type') }} as note_type,
    {{ json_text('payload', 'body') }} as body,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    extracted_at
from source
