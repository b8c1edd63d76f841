with source as (
    select * from {{ source('raw', 'jira__issues') }}
)

select
    record_key as issue_id,
    payload ->> '$.key' as issue_key,
    source_instance,
    coalesce(payload ->> '$.fields.project.key', scope) as project_key,
    payload ->> '$.fields.project.id' as project_id,
    payload ->> '$.fields.issuetype.name' as issue_type,
    payload ->> '$.fields.summary' as summary,
    payload ->> '$.fields.status.id' as status_id,
    payload ->> '$.fields.status.name' as status_name,
    payload ->> '$.fields.status.statusCategory.key' as status_category_key,
    payload ->> '$.fields.priority.name' as priority,
    coalesce(from_json(payload -> '$.fields.labels', '["VARCHAR"]'), []::varchar[]) as labels,
    payload ->> '$.fields.parent.key' as parent_key,
    -- Story points are a number on most instances but may arrive as text; anything else is not points.
    try_cast(payload ->> '$.fields.{{ var("jira_story_points_field") }}' as double) as story_points,
    {{ to_utc_timestamp("payload ->> '$.fields.created'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.fields.updated'") }} as updated_at,
    {{ to_utc_timestamp("payload ->> '$.fields.resolutiondate'") }} as resolved_at,
    extracted_at
from source
