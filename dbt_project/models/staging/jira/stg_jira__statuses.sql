with source as (
    select * from {{ source('raw', 'jira__statuses') }}
)

select
    record_key as status_id,
    source_instance,
    {{ json_text('payload', 'name') }} as status_name,
    {{ json_text('payload', 'untranslatedName') }} as untranslated_name,
    {{ json_text('payload', 'statusCategory.id') }} as status_category_id,
    {{ json_text('payload', 'statusCategory.key') }} as status_category_key,
    {{ json_text('payload', 'statusCategory.name') }} as status_category_name,
    -- Team-managed projects own their statuses; company-managed statuses have no scope.
    {{ json_text('payload', 'scope.project.id') }} as scope_project_id,
    extracted_at
from source
