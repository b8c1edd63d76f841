with source as (
    select * from {{ source('raw', 'github__repositories') }}
)

select
    record_key as repository_id,
    source_instance,
    {{ json_text('payload', 'full_name') }} as repo,
    {{ json_text('payload', 'name') }} as repository_name,
    {{ json_text('payload', 'owner.login') }} as owner,
    {{ json_text('payload', 'default_branch') }} as default_branch,
    coalesce(({{ json_text('payload', 'private') }})::boolean, false) as is_private,
    coalesce(({{ json_text('payload', 'archived') }})::boolean, false) as is_archived,
    coalesce(({{ json_text('payload', 'fork') }})::boolean, false) as is_fork,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    {{ to_utc_timestamp(json_text('payload', 'pushed_at')) }} as pushed_at,
    extracted_at
from source
