-- One row per link of an issue, as that issue shows it: a link between A and B appears twice, once from
-- each side with opposite directions. Read from the issue's `issuelinks` field rather than a raw stream
-- of its own, so a link removed in Jira disappears with the issue's next read instead of lingering.
-- stg_jira__issues keeps the field's JSON (`issue_links`), so this view parses the links only, not the issues.
with source as (
    -- links of a deleted issue go with it
    select * from {{ ref('stg_jira__issues') }}
),

links as (
    select
        issue_id,
        issue_key,
        source_instance,
        {{ json_object_rows(
            json_parse('issue_links'),
            '[{"id": "VARCHAR",
               "type": {"id": "VARCHAR", "name": "VARCHAR", "inward": "VARCHAR", "outward": "VARCHAR"},
               "inwardIssue": {"id": "VARCHAR", "key": "VARCHAR"},
               "outwardIssue": {"id": "VARCHAR", "key": "VARCHAR"}}]'
        ) }} as link
    from source
)

select
    source_instance,
    issue_id,
    issue_key,
    {{ json_object_field('link', 'id') }} as link_id,
    {{ json_object_field('link', 'type.id') }} as link_type_id,
    {{ json_object_field('link', 'type.name') }} as link_type,
    -- `outwardIssue` present: this issue is the link's source ("blocks" the other one).
    case when {{ json_object_field('link', 'outwardIssue.id') }} is not null then 'outward' else 'inward' end as direction,
    case when {{ json_object_field('link', 'outwardIssue.id') }} is not null
        then {{ json_object_field('link', 'type.outward') }} else {{ json_object_field('link', 'type.inward') }} end
        as relationship,
    coalesce({{ json_object_field('link', 'outwardIssue.id') }}, {{ json_object_field('link', 'inwardIssue.id') }})
        as other_issue_id,
    coalesce({{ json_object_field('link', 'outwardIssue.key') }}, {{ json_object_field('link', 'inwardIssue.key') }})
        as other_issue_key
from links
