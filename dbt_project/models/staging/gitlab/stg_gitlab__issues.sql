with source as (
    select * from {{ source('raw', 'gitlab__issues') }}
)

select
    record_key as issue_id,
    source_instance,
    scope as project_path,
    ({{ json_text('payload', 'iid') }})::integer as issue_iid,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'description') }} as description,
    {{ json_text('payload', 'state') }} as state,
    -- `issue_type` is the REST field; `type` (upper case) is the newer work-item type and all some exports have.
    lower(coalesce({{ json_text('payload', 'issue_type') }}, {{ json_text('payload', 'type') }})) as issue_type,
    lower(coalesce({{ json_text('payload', 'issue_type') }}, {{ json_text('payload', 'type') }})) = 'incident' as is_incident,
    coalesce({{ json_wildcard_texts('payload', 'labels') }}, array[]::varchar[]) as labels,
    {{ json_text('payload', 'author.username') }} as author,
    {{ json_text('payload', 'web_url') }} as url,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    {{ to_utc_timestamp(json_text('payload', 'closed_at')) }} as closed_at,
    extracted_at
from source
