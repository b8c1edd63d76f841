with source as (
    select * from {{ source('raw', 'gitlab__merge_requests') }}
)

select
    record_key as merge_request_id,
    source_instance,
    scope as project_path,
    payload ->> '$.project_id' as project_id,
    (payload ->> '$.iid')::integer as merge_request_iid,
    payload ->> '$.title' as title,
    payload ->> '$.description' as description,
    payload ->> '$.state' as state,
    coalesce((payload ->> '$.draft')::boolean, (payload ->> '$.work_in_progress')::boolean, false) as is_draft,
    payload ->> '$.author.username' as author,
    payload ->> '$.source_branch' as source_branch,
    payload ->> '$.target_branch' as target_branch,
    payload ->> '$.sha' as head_sha,
    coalesce(payload ->> '$.merge_commit_sha', payload ->> '$.squash_commit_sha') as merge_commit_sha,
    payload ->> '$.web_url' as url,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at,
    {{ to_utc_timestamp("payload ->> '$.merged_at'") }} as merged_at,
    {{ to_utc_timestamp("payload ->> '$.closed_at'") }} as closed_at,
    extracted_at
from source
