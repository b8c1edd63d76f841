-- Every state Azure DevOps work items of each project were seen in, with the flow state it resolves to, in
-- the columns of int_jira__status_mapping (project_key is the project's name; a state's name is its id).
-- Default: the state's name in seed flow_state_type_mapping (source_type azure_devops: the Agile, Scrum,
-- Basic and CMMI processes' states); flow_status_mapping, matched by name as for Jira, goes first; a state
-- neither names (a customised process) has the name rules Jira's statuses use.

with seen as (
    select source_instance, project, state from {{ ref('stg_azure_devops__work_items') }}
    union
    select source_instance, project, to_state from {{ ref('stg_azure_devops__work_item_updates') }}
    union
    select source_instance, project, from_state from {{ ref('stg_azure_devops__work_item_updates') }}
),

states as (
    select seen.source_instance, seen.project, seen.state, types.status_category_key,
        nullif(trim(types.flow_state), '') as type_flow_state
    from seen
    left join {{ ref('flow_state_type_mapping') }} as types
        on types.source_type = 'azure_devops' and types.state_type = lower(seen.state)
    where seen.state is not null
),

seed_matches as (
    {{ flow_status_seed_matches('states', 'project', 'state', 'state') }}
),

resolved as (
    select
        states.source_instance,
        states.project,
        states.state,
        states.status_category_key,
        coalesce(
            seed_matches.flow_state,
            states.type_flow_state,
            {{ default_flow_state('states.state', 'states.status_category_key') }}
        ) as flow_state,
        seed_matches.flow_state is not null as is_mapped_by_seed
    from states
    left join seed_matches
        on seed_matches.source_instance = states.source_instance
        and seed_matches.project = states.project
        and seed_matches.state = states.state
)

select
    source_instance,
    project as project_key,
    state as status_id,
    state as status_name,
    -- a state the seed does not name takes the category of the flow state its name gave it
    coalesce(
        status_category_key,
        case when flow_state = 'new' then 'new' when flow_state in ('done', 'canceled') then 'done'
            else 'indeterminate' end
    ) as status_category_key,
    flow_state,
    is_mapped_by_seed,
    {{ is_blocked_status('state') }} as is_blocked_status
from resolved
