with source as (
    select * from {{ source('raw', 'bitbucket__pull_requests') }}
)

select
    record_key as pull_request_id,
    source_instance,
    scope as repo,
    ({{ json_text('payload', 'id') }})::integer as pull_request_number,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'state') }} as state,
    -- nickname is the closest Bitbucket has to a login (usernames are gone from the 2.0 API since GDPR)
    coalesce({{ json_text('payload', 'author.nickname') }}, {{ json_text('payload', 'author.display_name') }}) as author,
    {{ json_text('payload', 'author.uuid') }} as author_uuid,
    {{ json_text('payload', 'source.branch.name') }} as source_branch,
    {{ json_text('payload', 'destination.branch.name') }} as destination_branch,
    {{ json_text('payload', 'merge_commit.hash') }} as merge_commit_hash,
    {{ json_text('payload', 'links.html.href') }} as url,
    {{ to_utc_timestamp(json_text('payload', 'created_on')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_on')) }} as updated_at,
    extracted_at
from source
