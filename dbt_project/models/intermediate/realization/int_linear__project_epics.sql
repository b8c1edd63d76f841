-- Linear projects as the realization marts' epics, in the columns epics reads from an epic's work item: a
-- project is a planned piece of work its issues belong to, as a Jira epic's stories are. Its initiative is the
-- first of its initiatives as Linear lists them (a project may serve several; a Jira epic has one parent). A
-- project is no work item and no team's own: its team is its issues' (`unassigned` here, so epics takes
-- theirs). Its flow state comes from its status type (seed flow_state_type_mapping, `linear_project`).
-- Definitions: docs/METRICS.md#epics-and-initiatives.

select
    projects.source_instance || ':' || projects.project_id as work_item_id,
    projects.source_instance,
    projects.project_id as issue_id,
    projects.project_id as issue_key,
    projects.project_name as summary,
    projects.initiative_ids[1] as initiative_key,
    projects.initiative_names[1] as initiative_name,
    'unassigned' as team,
    'unassigned' as value_stream,
    projects.status_name,
    types.flow_state,
    projects.created_at,
    projects.started_at as first_active_at,
    projects.completed_at
from {{ ref('stg_linear__projects') }} as projects
left join {{ ref('flow_state_type_mapping') }} as types
    on types.source_type = 'linear_project' and types.state_type = projects.status_type
where projects.archived_at is null
