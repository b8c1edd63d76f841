with source as (
    select * from {{ source('raw', 'gitlab__deployment_merge_requests') }}
)

select
    record_key as deployment_merge_request_id,
    source_instance,
    scope as project_path,
    parent_key as deployment_id,
    {{ json_text('payload', 'id') }} as merge_request_id,
    ({{ json_text('payload', 'iid') }})::integer as merge_request_iid,
    {{ json_text('payload', 'state') }} as state,
    coalesce({{ json_text('payload', 'merge_commit_sha') }}, {{ json_text('payload', 'squash_commit_sha') }}) as merge_commit_sha,
    {{ to_utc_timestamp(json_text('payload', 'merged_at')) }} as merged_at,
    extracted_at
from source
