with source as (
    select * from {{ source('raw', 'github__repositories') }}
)

select
    record_key as repository_id,
    source_instance,
    payload ->> '$.full_name' as repo,
    payload ->> '$.name' as repository_name,
    payload ->> '$.owner.login' as owner,
    payload ->> '$.default_branch' as default_branch,
    coalesce((payload ->> '$.private')::boolean, false) as is_private,
    coalesce((payload ->> '$.archived')::boolean, false) as is_archived,
    coalesce((payload ->> '$.fork')::boolean, false) as is_fork,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at,
    {{ to_utc_timestamp("payload ->> '$.pushed_at'") }} as pushed_at,
    extracted_at
from source
