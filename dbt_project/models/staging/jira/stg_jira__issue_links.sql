-- One row per link of an issue, as that issue shows it: a link between A and B appears twice, once from
-- each side with opposite directions. Read from the issue's `issuelinks` field rather than a raw stream
-- of its own, so a link removed in Jira disappears with the issue's next read instead of lingering.
with source as (
    -- links of a deleted issue go with it
    {{ jira_live_issues() }}
),

links as (
    select
        record_key as issue_id,
        {{ json_text('payload', 'key') }} as issue_key,
        source_instance,
        unnest(from_json(
            {{ json_get('payload', 'fields.issuelinks') }},
            '[{"id": "VARCHAR",
               "type": {"id": "VARCHAR", "name": "VARCHAR", "inward": "VARCHAR", "outward": "VARCHAR"},
               "inwardIssue": {"id": "VARCHAR", "key": "VARCHAR"},
               "outwardIssue": {"id": "VARCHAR", "key": "VARCHAR"}}]'
        )) as link
    from source
)

select
    source_instance,
    issue_id,
    issue_key,
    link.id as link_id,
    link.type.id as link_type_id,
    link.type.name as link_type,
    -- `outwardIssue` present: this issue is the link's source ("blocks" the other one).
    case when link.outwardIssue.id is not null then 'outward' else 'inward' end as direction,
    case when link.outwardIssue.id is not null then link.type.outward else link.type.inward end as relationship,
    coalesce(link.outwardIssue.id, link.inwardIssue.id) as other_issue_id,
    coalesce(link.outwardIssue.key, link.inwardIssue.key) as other_issue_key
from links
