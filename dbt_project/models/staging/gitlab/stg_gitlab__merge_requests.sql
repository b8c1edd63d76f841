with source as (
    select * from {{ source('raw', 'gitlab__merge_requests') }}
)

select
    record_key as merge_request_id,
    source_instance,
    scope as project_path,
    {{ json_text('payload', 'project_id') }} as project_id,
    ({{ json_text('payload', 'iid') }})::integer as merge_request_iid,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'description') }} as description,
    {{ json_text('payload', 'state') }} as state,
    coalesce(({{ json_text('payload', 'draft') }})::boolean, ({{ json_text('payload', 'work_in_progress') }})::boolean, false) as is_draft,
    {{ json_text('payload', 'author.username') }} as author,
    {{ json_text('payload', 'source_branch') }} as source_branch,
    {{ json_text('payload', 'target_branch') }} as target_branch,
    {{ json_text('payload', 'sha') }} as head_sha,
    coalesce({{ json_text('payload', 'merge_commit_sha') }}, {{ json_text('payload', 'squash_commit_sha') }}) as merge_commit_sha,
    {{ json_text('payload', 'web_url') }} as url,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    {{ to_utc_timestamp(json_text('payload', 'merged_at')) }} as merged_at,
    {{ to_utc_timestamp(json_text('payload', 'closed_at')) }} as closed_at,
    extracted_at
from source
