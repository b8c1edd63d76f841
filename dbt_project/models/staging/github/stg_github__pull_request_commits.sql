-- A table incremental by read (macros/staging_increments.sql): several models read it every night.
{{ staging_increment_config(['source_instance', 'pull_request_id']) }}
with source as (
    {{ staging_rows(source('raw', 'github__pull_request_commits'), 'pull_request_commit_id', by_parent=true) }}
)

select
    -- The raw key is "<PR id>:<sha>": one commit can belong to several PRs.
    record_key as pull_request_commit_id,
    parent_key as pull_request_id,
    source_instance,
    {{ github_commit_columns() }}
    extracted_at,
    {{ staging_version() }} as staging_version
from source
