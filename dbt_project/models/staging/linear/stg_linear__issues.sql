with source as (
    select * from {{ source('raw', 'linear__issues') }}
)

-- Rename and cast only (staging is 1:1 with raw); the flow models shape it like a Jira issue in
-- int_linear__issues. JSON through the portable macros, so the view builds on DuckDB and PostgreSQL alike.
select
    record_key as issue_id,
    source_instance,
    {{ json_text('payload', 'identifier') }} as issue_key,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'url') }} as url,
    {{ json_text('payload', 'team.id') }} as team_id,
    {{ json_text('payload', 'team.key') }} as team_key,
    {{ json_text('payload', 'state.id') }} as state_id,
    {{ json_text('payload', 'state.name') }} as state_name,
    {{ json_text('payload', 'state.type') }} as state_type,
    {{ try_cast(json_text('payload', 'estimate'), 'double') }} as estimate,
    -- a GraphQL Float (13.0), which PostgreSQL will not cast to integer from text
    cast({{ try_cast(json_text('payload', 'priority'), 'double') }} as integer) as priority,
    {{ json_text('payload', 'cycle.id') }} as cycle_id,
    {{ json_text('payload', 'project.id') }} as project_id,
    {{ json_text('payload', 'parent.id') }} as parent_issue_id,
    {{ json_text('payload', 'assignee.id') }} as assignee_id,
    {{ json_text('payload', 'assignee.name') }} as assignee_name,
    {{ json_wildcard_texts('payload', 'labels.nodes', 'name') }} as labels,
    {{ to_utc_timestamp(json_text('payload', 'createdAt')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updatedAt')) }} as updated_at,
    {{ to_utc_timestamp(json_text('payload', 'startedAt')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'completedAt')) }} as completed_at,
    {{ to_utc_timestamp(json_text('payload', 'canceledAt')) }} as canceled_at,
    {{ to_utc_timestamp(json_text('payload', 'archivedAt')) }} as archived_at,
    extracted_at
from source
