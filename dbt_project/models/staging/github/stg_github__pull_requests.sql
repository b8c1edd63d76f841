with source as (
    select * from {{ source('raw', 'github__pull_requests') }}
)

select
    record_key as pull_request_id,
    source_instance,
    coalesce(scope, payload ->> '$.base.repo.full_name') as repo,
    (payload ->> '$.number')::integer as pull_request_number,
    payload ->> '$.state' as state,
    payload ->> '$.title' as title,
    payload ->> '$.user.login' as author,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at,
    {{ to_utc_timestamp("payload ->> '$.closed_at'") }} as closed_at,
    {{ to_utc_timestamp("payload ->> '$.merged_at'") }} as merged_at,
    payload ->> '$.merge_commit_sha' as merge_commit_sha,
    payload ->> '$.head.sha' as head_sha,
    payload ->> '$.head.ref' as head_ref,
    payload ->> '$.base.ref' as base_ref,
    coalesce((payload ->> '$.draft')::boolean, false) as is_draft,
    extracted_at
from source
