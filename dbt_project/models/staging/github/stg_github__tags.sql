with source as (
    select * from {{ source('raw', 'github__tags') }}
)

select
    source_instance,
    -- record_key is `<repo>:<name>`; git forbids ':' in ref names, so the first ':' splits them.
    coalesce(scope, split_part(record_key, ':', 1)) as repo,
    {{ json_text('payload', 'name') }} as tag_name,
    {{ json_text('payload', 'commit.sha') }} as commit_sha,
    extracted_at
from source
