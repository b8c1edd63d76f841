with source as (
    select * from {{ source('raw', 'bitbucket__repositories') }}
)

select
    record_key as repository_id,
    source_instance,
    scope as workspace,
    -- Data Center has no full name: its repositories are `PROJECT/slug`, as its pull requests' scopes
    coalesce({{ json_text('payload', 'full_name') }},
             {{ json_text('payload', 'project.key') }} || '/' || {{ json_text('payload', 'slug') }}) as repo,
    {{ json_text('payload', 'slug') }} as slug,
    {{ json_text('payload', 'mainbranch.name') }} as main_branch,
    {{ json_text('payload', 'project.key') }} as project_key,
    {{ to_utc_timestamp(json_text('payload', 'created_on')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_on')) }} as updated_at,
    extracted_at
from source
