with source as (
    select * from {{ source('raw', 'github__releases') }}
)

select
    record_key as release_id,
    source_instance,
    coalesce(scope, regexp_extract(payload ->> '$.url', '/repos/([^/]+/[^/]+)/releases/', 1)) as repo,
    payload ->> '$.tag_name' as tag_name,
    payload ->> '$.name' as release_name,
    payload ->> '$.target_commitish' as target_commitish,
    coalesce((payload ->> '$.draft')::boolean, false) as is_draft,
    coalesce((payload ->> '$.prerelease')::boolean, false) as is_prerelease,
    payload ->> '$.author.login' as author,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    -- NULL for drafts: a release is public from published_at on.
    {{ to_utc_timestamp("payload ->> '$.published_at'") }} as published_at,
    extracted_at
from source
