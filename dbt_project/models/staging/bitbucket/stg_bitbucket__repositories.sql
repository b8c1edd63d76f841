with source as (
    select * from {{ source('raw', 'bitbucket__repositories') }}
)

select
    record_key as repository_id,
    source_instance,
    scope as workspace,
    {{ json_text('payload', 'full_name') }} as repo,
    {{ json_text('payload', 'slug') }} as slug,
    {{ json_text('payload', 'mainbranch.name') }} as main_branch,
    {{ json_text('payload', 'project.key') }} as project_key,
    {{ to_utc_timestamp(json_text('payload', 'created_on')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_on')) }} as updated_at,
    extracted_at
from source
