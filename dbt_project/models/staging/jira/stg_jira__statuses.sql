with source as (
    select * from {{ source('raw', 'jira__statuses') }}
)

select
    record_key as status_id,
    source_instance,
    payload ->> '$.name' as status_name,
    payload ->> '$.untranslatedName' as untranslated_name,
    payload ->> '$.statusCategory.id' as status_category_id,
    payload ->> '$.statusCategory.key' as status_category_key,
    payload ->> '$.statusCategory.name' as status_category_name,
    -- Team-managed projects own their statuses; company-managed statuses have no scope.
    payload ->> '$.scope.project.id' as scope_project_id,
    extracted_at
from source
