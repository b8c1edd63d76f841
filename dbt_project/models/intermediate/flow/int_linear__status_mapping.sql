-- Every workflow state each Linear team's issues can be in, with the flow state it resolves to, in the
-- columns of int_jira__status_mapping (project_key is the team key). A state's type gives its status
-- category and default flow state (seed flow_state_type_mapping); flow_status_mapping, matched by name
-- as for Jira, goes first.

with states as (
    -- a state known only from an issue (the workflow_states stream not read yet) still maps
    select distinct on (source_instance, state_id) source_instance, state_id, state_name, state_type
    from (
        select source_instance, state_id, state_name, state_type, 1 as authority, extracted_at
        from {{ ref('stg_linear__workflow_states') }}
        union all
        select source_instance, state_id, state_name, state_type, 2, updated_at
        from {{ ref('stg_linear__issues') }}
    ) as sightings
    where state_id is not null
    order by source_instance, state_id, authority, extracted_at desc nulls last
),

teams as (
    select distinct source_instance, team_key from {{ ref('stg_linear__issues') }}
),

team_states as (
    -- every state under every team: an issue moved between teams keeps its history's states mapped
    select teams.source_instance, teams.team_key, states.state_id, states.state_name, types.status_category_key,
        nullif(trim(types.flow_state), '') as type_flow_state
    from teams
    inner join states on states.source_instance = teams.source_instance
    left join {{ ref('flow_state_type_mapping') }} as types
        on types.source_type = 'linear' and types.state_type = states.state_type
),

seed_matches as (
    {{ flow_status_seed_matches('team_states', 'team_key', 'state_id', 'state_name') }}
)

select
    team_states.source_instance,
    team_states.team_key as project_key,
    team_states.state_id as status_id,
    team_states.state_name as status_name,
    team_states.status_category_key,
    coalesce(
        seed_matches.flow_state,
        team_states.type_flow_state,
        {{ default_flow_state('team_states.state_name', 'team_states.status_category_key') }}
    ) as flow_state,
    seed_matches.flow_state is not null as is_mapped_by_seed,
    {{ is_blocked_status('team_states.state_name') }} as is_blocked_status
from team_states
left join seed_matches
    on seed_matches.source_instance = team_states.source_instance
    and seed_matches.team_key = team_states.team_key
    and seed_matches.state_id = team_states.state_id
