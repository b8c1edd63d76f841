-- Linear issues in the columns the flow models read from stg_jira__issues (int_tracker_issues_unioned).
-- Linear has no issue types, components or epics: flow item types come from labels
-- (flow_item_type_mapping `label` rows), the team from the team key (work_item_team_mapping `project`).
-- Every issue is a flow item (hierarchy level 0), sub-issues included: Linear teams track work in them.

select
    issues.source_instance,
    issues.issue_id,
    issues.issue_key,
    issues.team_key as project_key,
    issues.team_id as project_id,
    cast(null as varchar) as issue_type,
    issues.labels,
    cast(array[] as varchar[]) as components,
    cast(null as varchar) as epic_key,
    cast(null as varchar) as parent_key,
    0 as issue_type_level,
    false as is_subtask_type,
    issues.state_id as status_id,
    issues.state_name as status_name,
    types.status_category_key,
    issues.estimate as story_points,
    issues.created_at,
    issues.updated_at,
    issues.extracted_at
from {{ ref('stg_linear__issues') }} as issues
left join {{ ref('flow_state_type_mapping') }} as types
    on types.source_type = 'linear' and types.state_type = issues.state_type
