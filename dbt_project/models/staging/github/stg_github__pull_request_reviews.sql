-- A table incremental by read (macros/staging_increments.sql): several models read it every night.
{{ staging_increment_config(['source_instance', 'review_id']) }}
with source as (
    {{ staging_rows(source('raw', 'github__pull_request_reviews'), 'review_id') }}
)

select
    record_key as review_id,
    parent_key as pull_request_id,
    source_instance,
    coalesce(scope, {{ regex_extract(json_text('payload', 'pull_request_url'), "'/repos/([^/]+/[^/]+)/pulls/'", 1) }}) as repo,
    ({{ regex_extract(json_text('payload', 'pull_request_url'), "'/pulls/(\d+)$'", 1) }})::integer as pull_request_number,
    {{ json_text('payload', 'user.login') }} as reviewer,
    -- GitHub writes states in upper case (APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING).
    upper({{ json_text('payload', 'state') }}) as state,
    {{ json_text('payload', 'author_association') }} as author_association,
    {{ json_text('payload', 'commit_id') }} as commit_sha,
    -- A PENDING review has not been submitted yet and has no submitted_at.
    {{ to_utc_timestamp(json_text('payload', 'submitted_at')) }} as submitted_at,
    extracted_at,
    {{ staging_version() }} as staging_version
from source
