with source as (
    select * from {{ source('raw', 'github__commits') }}
)

select
    -- The raw key is "<repo>:<sha>": forks in the same organisation share commits.
    record_key as repo_commit_id,
    source_instance,
    {{ github_commit_columns() }}
    extracted_at
from source
