with source as (
    select * from {{ source('raw', 'github__pull_request_commits') }}
)

select
    -- The raw key is "<PR id>:<sha>": one commit can belong to several PRs.
    record_key as pull_request_commit_id,
    parent_key as pull_request_id,
    source_instance,
    {{ github_commit_columns() }}
    extracted_at
from source
