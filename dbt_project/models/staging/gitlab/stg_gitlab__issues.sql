with source as (
    select * from {{ source('raw', 'gitlab__issues') }}
)

select
    record_key as issue_id,
    source_instance,
    scope as project_path,
    (payload ->> '$.iid')::integer as issue_iid,
    payload ->> '$.title' as title,
    payload ->> '$.description' as description,
    payload ->> '$.state' as state,
    -- `issue_type` is the REST field; `type` (upper case) is the newer work-item type and all some exports have.
    lower(coalesce(payload ->> '$.issue_type', payload ->> '$.type')) as issue_type,
    lower(coalesce(payload ->> '$.issue_type', payload ->> '$.type')) = 'incident' as is_incident,
    coalesce((payload ->> '$.labels[*]'), []::varchar[]) as labels,
    payload ->> '$.author.username' as author,
    payload ->> '$.web_url' as url,
    {{ to_utc_timestamp("payload ->> '$.created_at'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.updated_at'") }} as updated_at,
    {{ to_utc_timestamp("payload ->> '$.closed_at'") }} as closed_at,
    extracted_at
from source
