with source as (
    select * from {{ source('raw', 'bitbucket__pull_request_commits') }}
)

select
    record_key as pull_request_commit_id,
    source_instance,
    parent_key as pull_request_id,
    scope as repo,
    {{ json_text('payload', 'hash') }} as sha,
    {{ json_text('payload', 'message') }} as message,
    -- `author.raw` is the git author line, `Name <email>`
    {{ json_text('payload', 'author.raw') }} as author_raw,
    {{ to_utc_timestamp(json_text('payload', 'date')) }} as authored_at,
    extracted_at
from source
