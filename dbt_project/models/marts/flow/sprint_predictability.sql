-- Per sprint: what was in it when it started (committed) against what was done when it ended.
-- Definitions: docs/METRICS.md#sprint-predictability.

with sprints as (
    select
        source_instance,
        sprint_id,
        sprint_name,
        sprint_state,
        origin_board_id,
        started_at,
        -- an open sprint is judged at its planned end
        coalesce(completed_at, planned_end_at) as ended_at,
        completed_at is not null as is_closed
    from {{ ref('int_tracker_sprints_unioned') }}
    where started_at is not null
),

membership_changes as (
    {{ sprint_membership_changes() }}
),

members as (
    -- membership at a moment is the last change at or before it
    select
        sprints.source_instance,
        sprints.sprint_id,
        membership_changes.issue_id,
        {{ flow_last_membership_change('membership_changes.changed_at <= sprints.started_at') }} = 'added'
            as is_committed,
        {{ flow_last_membership_change('membership_changes.changed_at <= sprints.ended_at') }} = 'added'
            as is_in_sprint_at_end
    from sprints
    inner join membership_changes
        on membership_changes.source_instance = sprints.source_instance
        and membership_changes.sprint_id = sprints.sprint_id
    group by sprints.source_instance, sprints.sprint_id, membership_changes.issue_id
),

member_states as (
    select
        members.*,
        items.work_item_id,
        items.team,
        items.story_points,
        -- the flow state the item was in when the sprint ended
        coalesce(intervals.flow_state = 'done', false) as is_done_at_end
    from members
    inner join sprints
        on sprints.source_instance = members.source_instance
        and sprints.sprint_id = members.sprint_id
    inner join {{ ref('work_items') }} as items
        on items.source_instance = members.source_instance
        and items.issue_id = members.issue_id
    left join {{ ref('work_item_state_intervals') }} as intervals
        on intervals.work_item_id = items.work_item_id
        and intervals.started_at <= sprints.ended_at
        and (intervals.ended_at is null or sprints.ended_at < intervals.ended_at)
),

counts as (
    select
        source_instance,
        sprint_id,
        count(*) filter (where is_committed) as committed_items,
        coalesce(sum(story_points) filter (where is_committed), 0) as committed_story_points,
        count(*) filter (where is_committed and is_done_at_end) as completed_committed_items,
        coalesce(sum(story_points) filter (where is_committed and is_done_at_end), 0)
            as completed_committed_story_points,
        count(*) filter (where is_committed and not coalesce(is_in_sprint_at_end, false)) as removed_items,
        count(*) filter (where not coalesce(is_committed, false) and is_in_sprint_at_end) as added_items,
        count(*) filter (where is_in_sprint_at_end and is_done_at_end) as completed_items,
        coalesce(sum(story_points) filter (where is_in_sprint_at_end and is_done_at_end), 0)
            as completed_story_points
    from member_states
    group by source_instance, sprint_id
),

sprint_teams as (
    -- the team most of the sprint's items belong to (ties: alphabetical)
    select distinct on (source_instance, sprint_id) source_instance, sprint_id, team
    from (
        select source_instance, sprint_id, team, count(*) as items
        from member_states
        where is_committed or is_in_sprint_at_end
        group by source_instance, sprint_id, team
    ) as team_counts
    order by source_instance, sprint_id, items desc, team
)

select
    sprints.source_instance || ':' || sprints.sprint_id as sprint_key,
    sprints.source_instance,
    sprints.sprint_id,
    sprints.sprint_name,
    sprints.sprint_state,
    sprints.origin_board_id as board_id,
    coalesce(sprint_teams.team, 'unassigned') as team,
    sprints.started_at,
    sprints.ended_at,
    sprints.is_closed,
    coalesce(counts.committed_items, 0) as committed_items,
    coalesce(counts.completed_committed_items, 0) as completed_committed_items,
    coalesce(counts.added_items, 0) as added_items,
    coalesce(counts.removed_items, 0) as removed_items,
    coalesce(counts.completed_items, 0) as completed_items,
    coalesce(counts.committed_story_points, 0)::float8 as committed_story_points,
    coalesce(counts.completed_committed_story_points, 0)::float8 as completed_committed_story_points,
    coalesce(counts.completed_story_points, 0)::float8 as completed_story_points,
    counts.completed_committed_items::float8 / nullif(counts.committed_items, 0) as predictability,
    counts.completed_committed_story_points::float8 / nullif(counts.committed_story_points, 0) as story_point_predictability
from sprints
left join counts
    on counts.source_instance = sprints.source_instance
    and counts.sprint_id = sprints.sprint_id
left join sprint_teams
    on sprint_teams.source_instance = sprints.source_instance
    and sprint_teams.sprint_id = sprints.sprint_id
