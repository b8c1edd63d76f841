-- One row per epic: its items, the effort they took, when it started, completed and first shipped, and its
-- time to market. Definitions: docs/METRICS.md#epics-and-initiatives.
{%- set flow_item_types = ['feature', 'defect', 'risk', 'debt'] %}

with hierarchy as (
    select * from {{ ref('int_work_items_hierarchy') }}
),

work_items as materialized (
    select
        work_items.*,
        hierarchy.hierarchy_level,
        hierarchy.summary,
        hierarchy.epic_key as rollup_epic_key,
        hierarchy.initiative_key as rollup_initiative_key,
        shipped.first_shipped_at,
        shipped.first_shipped_deployment_id,
        shipped.first_shipped_deployment_key
    from {{ ref('work_items') }} as work_items
    inner join hierarchy on hierarchy.work_item_id = work_items.work_item_id
    left join {{ ref('int_work_items_shipped') }} as shipped on shipped.work_item_id = work_items.work_item_id
),

epic_issues as (
    select source_instance, issue_id, issue_key, summary, rollup_initiative_key, team, value_stream, status_name,
        flow_state, created_at, completed_at
    from work_items
    where hierarchy_level = 'epic'
    union all
    -- a Linear project is an epic but no work item
    select source_instance, issue_id, issue_key, summary, initiative_key, team, value_stream, status_name,
        flow_state, created_at, completed_at
    from {{ ref('int_linear__project_epics') }}
),

epic_keys as (
    -- an epic items name but that is not loaded (another project) still gets a row, as a Linear project
    -- without issues does
    select source_instance, rollup_epic_key as epic_key
    from work_items
    where rollup_epic_key is not null
    union
    select source_instance, issue_key from {{ ref('int_linear__project_epics') }}
),

items as (
    select * from work_items where hierarchy_level = 'item' and rollup_epic_key is not null
),

effort as (
    select
        source_instance,
        rollup_epic_key as epic_key,
        count(*) as items,
        count(*) filter (where is_done) as items_done,
        count(*) filter (where is_canceled) as items_canceled,
        coalesce(sum(story_points) filter (where not is_canceled), 0)::float8 as story_points,
        coalesce(sum(story_points) filter (where is_done), 0)::float8 as story_points_done,
        coalesce(sum(flow_time_hours), 0)::float8 as flow_time_hours,
        {%- for flow_item_type in flow_item_types %}
        count(*) filter (where flow_item_type = '{{ flow_item_type }}') as {{ flow_item_type }}_items,
        coalesce(sum(story_points) filter (where flow_item_type = '{{ flow_item_type }}' and not is_canceled), 0)::float8
            as {{ flow_item_type }}_story_points,
        coalesce(sum(flow_time_hours) filter (where flow_item_type = '{{ flow_item_type }}'), 0)::float8
            as {{ flow_item_type }}_flow_time_hours,
        {%- endfor %}
        max(completed_at) as last_item_completed_at,
        -- the team (and value stream) most of its items belong to, then alphabetically: the epic's owner
        -- when the epic itself is not loaded or not mapped (both never NULL in work_items)
        {{ min_by_keys('team', ['-team_items', 'team', 'value_stream']) }} as items_owner_team,
        {{ min_by_keys('value_stream', ['-team_items', 'team', 'value_stream']) }} as items_owner_value_stream
    from (
        select *, count(*) over (partition by source_instance, rollup_epic_key, team, value_stream) as team_items
        from items
    ) as items
    group by source_instance, rollup_epic_key
),

members as (
    -- the epic itself and its items: any of them starting or shipping starts or ships the epic
    select source_instance, rollup_epic_key as epic_key, first_active_at, first_shipped_at,
        first_shipped_deployment_id, first_shipped_deployment_key
    from work_items
    where hierarchy_level in ('epic', 'item') and rollup_epic_key is not null
    union all
    select source_instance, issue_key, first_active_at, null, null, null
    from {{ ref('int_linear__project_epics') }}
),

milestones as (
    select
        source_instance,
        epic_key,
        min(first_active_at) as first_started_at,
        min(first_shipped_at) as first_shipped_at,
        -- a shipped work item always has both (int_work_items_shipped)
        {{ min_by_keys('first_shipped_deployment_id', ['first_shipped_at', 'first_shipped_deployment_key'],
            'first_shipped_at is not null') }} as first_shipped_deployment_id,
        {{ min_by_keys('first_shipped_deployment_key', ['first_shipped_at', 'first_shipped_deployment_key'],
            'first_shipped_at is not null') }} as first_shipped_deployment_key
    from members
    group by source_instance, epic_key
),

epics as (
    select
        epic_keys.source_instance,
        epic_keys.epic_key,
        epic_issues.issue_id as epic_issue_id,
        epic_issues.issue_id is not null as is_epic_loaded,
        epic_issues.summary,
        epic_issues.rollup_initiative_key as initiative_key,
        -- the epic's own team, else its items' owner, else unassigned: team and value stream as a pair
        {{ owner_team_and_value_stream('epic_issues', 'effort.epic_key is not null', 'effort.items_owner_team',
                                       'effort.items_owner_value_stream') }},
        epic_issues.status_name,
        epic_issues.flow_state,
        coalesce(effort.items, 0) as items,
        coalesce(effort.items_done, 0) as items_done,
        coalesce(effort.items_canceled, 0) as items_canceled,
        coalesce(effort.story_points, 0)::float8 as story_points,
        coalesce(effort.story_points_done, 0)::float8 as story_points_done,
        coalesce(effort.flow_time_hours, 0)::float8 as flow_time_hours,
        {%- for flow_item_type in flow_item_types %}
        coalesce(effort.{{ flow_item_type }}_items, 0) as {{ flow_item_type }}_items,
        coalesce(effort.{{ flow_item_type }}_story_points, 0)::float8 as {{ flow_item_type }}_story_points,
        coalesce(effort.{{ flow_item_type }}_flow_time_hours, 0)::float8 as {{ flow_item_type }}_flow_time_hours,
        {%- endfor %}
        epic_issues.created_at,
        milestones.first_started_at,
        case
            when epic_issues.issue_id is not null then epic_issues.completed_at
            -- an epic that is not loaded is complete when every item is done or canceled, one at least done
            when effort.items_done > 0 and effort.items_done + effort.items_canceled = effort.items
                then effort.last_item_completed_at
        end as completed_at,
        milestones.first_shipped_at,
        milestones.first_shipped_deployment_id,
        milestones.first_shipped_deployment_key
    from epic_keys
    left join epic_issues
        on epic_issues.source_instance = epic_keys.source_instance
        and epic_issues.issue_key = epic_keys.epic_key
    left join effort
        on effort.source_instance = epic_keys.source_instance
        and effort.epic_key = epic_keys.epic_key
    left join milestones
        on milestones.source_instance = epic_keys.source_instance
        and milestones.epic_key = epic_keys.epic_key
)

select
    *,
    {{ shipping_times() }}
from epics
