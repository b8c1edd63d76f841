with source as (
    select * from {{ source('raw', 'github__compare_commits') }}
)

select
    -- The raw key is "<deployment id>:<sha>": each production deployment has its own change set.
    record_key as deployment_commit_id,
    parent_key as deployment_id,
    source_instance,
    {{ github_commit_columns() }}
    extracted_at
from source
