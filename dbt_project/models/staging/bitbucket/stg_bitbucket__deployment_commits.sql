with source as (
    select * from {{ source('raw', 'bitbucket__deployment_commits') }}
)

select
    -- each production deployment has its own range: "<deployment uuid>:<hash>"
    record_key as deployment_commit_id,
    parent_key as deployment_id,
    source_instance,
    scope as repo,
    {{ json_text('payload', 'hash') }} as commit_sha,
    -- Bitbucket links the git author to an account only when it knows the email: the nickname, else none
    {{ json_text('payload', 'author.user.nickname') }} as author,
    -- `author.raw` is the git author line, `Name <email>`: the name is what precedes ` <`
    trim(split_part({{ json_text('payload', 'author.raw') }}, '<', 1)) as author_name,
    -- a Bitbucket commit carries one date, the author's
    {{ to_utc_timestamp(json_text('payload', 'date')) }} as authored_at,
    {{ to_utc_timestamp(json_text('payload', 'date')) }} as committed_at,
    split_part({{ json_text('payload', 'message') }}, chr(10), 1) as message_headline,
    coalesce({{ json_array_count(json_get('payload', 'parents')) }}, 0) as parent_count,
    extracted_at
from source
