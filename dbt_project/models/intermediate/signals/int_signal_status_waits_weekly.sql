-- Item-hours each team spent per status and complete week while work was in progress (flow state waiting
-- or active), the input of the bottleneck signal (docs/METRICS.md#signals). The item-hours are
-- int_signal_status_weeks' (incremental by week); this model adds the empty statuses of each week, so its
-- cost follows weeks x teams x statuses, not the history of items.

with status_weeks as (
    select * from {{ ref('int_signal_status_weeks') }}
),

team_weeks as (
    select week_start, team, value_stream, sum(item_microseconds)::bigint as in_progress_microseconds
    from status_weeks
    group by week_start, team, value_stream
),

team_statuses as (
    select distinct team, value_stream, status_name, flow_state from status_weeks
)

-- every status the team has used gets a row in each of its weeks, 0 where nobody was in it, so a status's
-- usual share counts the weeks it was empty
select
    team_weeks.week_start,
    team_weeks.team,
    team_weeks.value_stream,
    team_statuses.status_name,
    team_statuses.flow_state,
    coalesce(status_weeks.item_microseconds, 0)::float8 / 3600000000 as item_hours,
    coalesce(status_weeks.items, 0) as items,
    team_weeks.in_progress_microseconds::float8 / 3600000000 as in_progress_hours,
    coalesce(status_weeks.item_microseconds, 0)::float8 / nullif(team_weeks.in_progress_microseconds, 0)::float8
        as share
from team_weeks
inner join team_statuses using (team, value_stream)
left join status_weeks using (week_start, team, value_stream, status_name, flow_state)
