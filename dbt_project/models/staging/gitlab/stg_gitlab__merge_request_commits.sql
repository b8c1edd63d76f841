with source as (
    select * from {{ source('raw', 'gitlab__merge_request_commits') }}
)

select
    record_key as merge_request_commit_id,
    source_instance,
    parent_key as merge_request_id,
    scope as project_path,
    {{ json_text('payload', 'id') }} as sha,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'author_name') }} as author_name,
    {{ json_text('payload', 'author_email') }} as author_email,
    {{ to_utc_timestamp(json_text('payload', 'authored_date')) }} as authored_at,
    {{ to_utc_timestamp(json_text('payload', 'committed_date')) }} as committed_at,
    extracted_at
from source
