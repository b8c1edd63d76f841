-- A table incremental by read (macros/staging_increments.sql): several models read it every night.
{{ staging_increment_config(['source_instance', 'deployment_commit_id']) }}
with source as (
    {{ staging_rows(source('raw', 'github__compare_commits'), 'deployment_commit_id') }}
)

select
    -- The raw key is "<deployment id>:<sha>": each production deployment has its own change set.
    record_key as deployment_commit_id,
    parent_key as deployment_id,
    source_instance,
    {{ github_commit_columns() }}
    extracted_at,
    {{ staging_version() }} as staging_version
from source
