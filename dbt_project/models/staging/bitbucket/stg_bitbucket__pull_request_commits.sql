with source as (
    select * from {{ source('raw', 'bitbucket__pull_request_commits') }}
)

select
    record_key as pull_request_commit_id,
    source_instance,
    parent_key as pull_request_id,
    scope as repo,
    -- Cloud: `hash`; Data Center: `id` (the full hash)
    coalesce({{ json_text('payload', 'hash') }}, {{ json_text('payload', 'id') }}) as sha,
    {{ json_text('payload', 'message') }} as message,
    -- the git author line, `Name <email>`: Cloud's `author.raw`, made from Data Center's name and email
    coalesce({{ json_text('payload', 'author.raw') }},
             {{ json_text('payload', 'author.name') }} || ' <' || {{ json_text('payload', 'author.emailAddress') }} || '>')
        as author_raw,
    case when {{ json_text('payload', 'authorTimestamp') }} is not null
        then {{ epoch_ms_to_timestamp("(" ~ json_text('payload', 'authorTimestamp') ~ ")::bigint") }}
        else {{ to_utc_timestamp(json_text('payload', 'date')) }}
    end as authored_at,
    extracted_at
from source
