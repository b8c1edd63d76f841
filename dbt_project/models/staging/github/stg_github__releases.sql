with source as (
    select * from {{ source('raw', 'github__releases') }}
)

select
    record_key as release_id,
    source_instance,
    coalesce(scope, {{ regex_extract(json_text('payload', 'url'), "'/repos/([^/]+/[^/]+)/releases/'", 1) }}) as repo,
    {{ json_text('payload', 'tag_name') }} as tag_name,
    {{ json_text('payload', 'name') }} as release_name,
    {{ json_text('payload', 'target_commitish') }} as target_commitish,
    coalesce(({{ json_text('payload', 'draft') }})::boolean, false) as is_draft,
    coalesce(({{ json_text('payload', 'prerelease') }})::boolean, false) as is_prerelease,
    {{ json_text('payload', 'author.login') }} as author,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    -- NULL for drafts: a release is public from published_at on.
    {{ to_utc_timestamp(json_text('payload', 'published_at')) }} as published_at,
    extracted_at
from source
