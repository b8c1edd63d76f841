-- A table incremental by read (macros/staging_increments.sql): several models read it every night.
{{ staging_increment_config(['source_instance', 'pull_request_id']) }}
with source as (
    {{ staging_rows(source('raw', 'github__pull_requests'), 'pull_request_id') }}
)

select
    record_key as pull_request_id,
    source_instance,
    coalesce(scope, {{ json_text('payload', 'base.repo.full_name') }}) as repo,
    ({{ json_text('payload', 'number') }})::integer as pull_request_number,
    {{ json_text('payload', 'state') }} as state,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'user.login') }} as author,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    {{ to_utc_timestamp(json_text('payload', 'closed_at')) }} as closed_at,
    {{ to_utc_timestamp(json_text('payload', 'merged_at')) }} as merged_at,
    {{ json_text('payload', 'merge_commit_sha') }} as merge_commit_sha,
    {{ json_text('payload', 'head.sha') }} as head_sha,
    {{ json_text('payload', 'head.ref') }} as head_ref,
    {{ json_text('payload', 'base.ref') }} as base_ref,
    coalesce(({{ json_text('payload', 'draft') }})::boolean, false) as is_draft,
    extracted_at,
    {{ staging_version() }} as staging_version
from source
