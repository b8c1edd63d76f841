-- The sprints of every tracker in the columns sprint_predictability reads: Jira's sprints, Linear's cycles
-- (a team's time-boxed iteration) and Azure DevOps' team iterations. A Linear cycle has no state field: it is
-- closed once completed, future before it starts and active between, as of when the connector read it. An Azure
-- DevOps iteration is never completed by anyone: its time frame (as of its read) says past, current or future,
-- and a past one was over at the end of its last day.
{{ config(materialized='view') }}

select
    source_instance, sprint_id, sprint_name, sprint_state, origin_board_id, started_at, planned_end_at, completed_at
from {{ ref('stg_jira__sprints') }}

union all

select
    source_instance,
    cycle_id as sprint_id,
    coalesce(cycle_name, team_key || ' Cycle ' || cast(cycle_number as varchar)) as sprint_name,
    case
        when completed_at is not null then 'closed'
        when starts_at > extracted_at then 'future'
        else 'active'
    end as sprint_state,
    -- Linear has no boards: a cycle belongs to its team
    cast(null as varchar) as origin_board_id,
    -- as a Jira sprint, a cycle not started yet has no start, so sprint_predictability leaves it out
    case when starts_at <= extracted_at then starts_at end as started_at,
    ends_at as planned_end_at,
    completed_at
from {{ ref('stg_linear__cycles') }}
where archived_at is null

union all

select
    source_instance,
    iteration_id as sprint_id,
    iteration_name as sprint_name,
    case time_frame when 'past' then 'closed' when 'future' then 'future' else 'active' end as sprint_state,
    -- a team's iteration, not a board's
    cast(null as varchar) as origin_board_id,
    case when time_frame <> 'future' then started_at end as started_at,
    ended_at as planned_end_at,
    case when time_frame = 'past' then ended_at end as completed_at
from {{ ref('int_azure_devops__iterations') }}
