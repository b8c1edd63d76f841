-- Deleted or moved-away issues are already left out by jira_live_issues() (see the macro).
with source as (
    {{ jira_live_issues() }}
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
    coalesce(
        list_transform(from_json(payload -> '$.fields.components', '[{"name": "VARCHAR"}]'), lambda c: c.name),
        []::varchar[]
    ) as components,
    coalesce(
        list_transform(from_json(payload -> '$.fields.fixVersions', '[{"name": "VARCHAR"}]'), lambda v: v.name),
        []::varchar[]
    ) as fix_versions,
    payload ->> '$.fields.parent.key' as parent_key,
    -- Epics: company-managed projects long used the "Epic Link" custom field (its id found by name
    -- through /field, noted by the connector); Jira now writes the epic as `parent` (hierarchy level 1).
    coalesce(
        payload ->> ('$.fields.' || (payload ->> '$._throughline.epicLinkField')),
        case
            when (payload ->> '$.fields.parent.fields.issuetype.hierarchyLevel') = '1'
                or (payload ->> '$.fields.parent.fields.issuetype.name') = 'Epic'
                then payload ->> '$.fields.parent.key'
        end
    ) as epic_key,
    -- Story points live in the field(s) the connector found by name; an issue carries at most one of
    -- "Story Points" (classic) and "Story point estimate" (team-managed). The var covers raw rows
    -- loaded before the connector noted its fields. A number may arrive as text; anything else is not points.
    coalesce(
        try_cast(payload ->> ('$.fields.' || (payload ->> '$._throughline.storyPointsFields[0]')) as double),
        try_cast(payload ->> ('$.fields.' || (payload ->> '$._throughline.storyPointsFields[1]')) as double),
        case when (payload -> '$._throughline') is null
            then try_cast(payload ->> '$.fields.{{ var("jira_story_points_field") }}' as double) end
    ) as story_points,
    -- People as account ids only (Data Center users have a `key` instead); names stay out of staging.
    coalesce(payload ->> '$.fields.assignee.accountId', payload ->> '$.fields.assignee.key') as assignee_account_id,
    coalesce(payload ->> '$.fields.reporter.accountId', payload ->> '$.fields.reporter.key') as reporter_account_id,
    payload ->> '$.fields.resolution.name' as resolution,
    {{ to_utc_timestamp("payload ->> '$.fields.created'") }} as created_at,
    {{ to_utc_timestamp("payload ->> '$.fields.updated'") }} as updated_at,
    {{ to_utc_timestamp("payload ->> '$.fields.resolutiondate'") }} as resolved_at,
    extracted_at
from source
