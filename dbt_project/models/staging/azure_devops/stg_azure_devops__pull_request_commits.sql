with source as (
    select * from {{ source('raw', 'azure_devops__pull_request_commits') }}
)

select
    record_key as commit_key,
    source_instance,
    scope as project,
    parent_key as pull_request_id,
    {{ json_text('payload', 'commitId') }} as sha,
    {{ json_text('payload', 'author.email') }} as author_email,
    {{ to_utc_timestamp(json_text('payload', 'author.date')) }} as authored_at,
    {{ to_utc_timestamp(json_text('payload', 'committer.date')) }} as committed_at,
    extracted_at
from source
