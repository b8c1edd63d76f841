-- One row per initiative: its epics rolled up (items, effort, start, completion, first shipment) and its
-- time to market. Definitions: docs/METRICS.md#epics-and-initiatives.
{%- set flow_item_types = ['feature', 'defect', 'risk', 'debt'] %}
{%- set summed = ['items', 'items_done', 'items_canceled', 'story_points', 'story_points_done', 'flow_time_hours'] %}
{%- for flow_item_type in flow_item_types %}
    {%- do summed.extend([flow_item_type ~ '_items', flow_item_type ~ '_story_points', flow_item_type ~ '_flow_time_hours']) %}
{%- endfor %}

with initiative_issues as (
    select
        work_items.*,
        hierarchy.summary,
        shipped.first_shipped_at,
        shipped.first_shipped_deployment_id,
        shipped.first_shipped_deployment_key
    from {{ ref('work_items') }} as work_items
    inner join {{ ref('int_work_items_hierarchy') }} as hierarchy
        on hierarchy.work_item_id = work_items.work_item_id
    left join {{ ref('int_work_items_shipped') }} as shipped on shipped.work_item_id = work_items.work_item_id
    where hierarchy.hierarchy_level = 'initiative'
),

epics as (
    select * from {{ ref('epics') }} where initiative_key is not null
),

initiative_keys as (
    -- an initiative its epics name but that is not loaded still gets a row
    select source_instance, issue_key as initiative_key from initiative_issues
    union
    select source_instance, initiative_key from epics
),

named_initiatives as (
    -- a Linear initiative is no work item: its name is the hierarchy's, its completion its projects'
    select source_instance, issue_key as initiative_key, summary
    from {{ ref('int_work_items_hierarchy') }}
    where hierarchy_level = 'initiative'
),

rolled_up as (
    select
        source_instance,
        initiative_key,
        count(*) as epics,
        count(completed_at) as epics_completed,
        count(first_shipped_at) as epics_shipped,
        {%- for column in summed %}
        sum({{ column }})::{{ 'bigint' if column.endswith('items') or column.startswith('items') else 'float8' }}
            as {{ column }},
        {%- endfor %}
        min(first_started_at) as first_started_at,
        max(completed_at) as last_epic_completed_at,
        min(first_shipped_at) as first_shipped_at,
        -- a shipped epic always has both, an epic's team and value stream are never NULL (epics)
        {{ min_by_keys('first_shipped_deployment_id', ['first_shipped_at', 'first_shipped_deployment_key'],
            'first_shipped_at is not null') }} as first_shipped_deployment_id,
        {{ min_by_keys('first_shipped_deployment_key', ['first_shipped_at', 'first_shipped_deployment_key'],
            'first_shipped_at is not null') }} as first_shipped_deployment_key,
        -- the owner of most of its epics, then alphabetically
        {{ min_by_keys('team', ['-team_epics', 'team', 'value_stream']) }} as epics_owner_team,
        {{ min_by_keys('value_stream', ['-team_epics', 'team', 'value_stream']) }} as epics_owner_value_stream
    from (
        select *, count(*) over (partition by source_instance, initiative_key, team, value_stream) as team_epics
        from epics
    ) as epics
    group by source_instance, initiative_key
),

initiatives as (
    select
        initiative_keys.source_instance,
        initiative_keys.initiative_key,
        initiative_issues.issue_id as initiative_issue_id,
        initiative_issues.issue_id is not null as is_initiative_loaded,
        coalesce(initiative_issues.summary, named_initiatives.summary) as summary,
        -- its own team, else its epics' owner, else unassigned: team and value stream as a pair
        {{ owner_team_and_value_stream('initiative_issues', 'rolled_up.initiative_key is not null',
                                       'rolled_up.epics_owner_team', 'rolled_up.epics_owner_value_stream') }},
        initiative_issues.status_name,
        initiative_issues.flow_state,
        coalesce(rolled_up.epics, 0) as epics,
        coalesce(rolled_up.epics_completed, 0) as epics_completed,
        coalesce(rolled_up.epics_shipped, 0) as epics_shipped,
        {%- for column in summed %}
        coalesce(rolled_up.{{ column }}, 0) as {{ column }},
        {%- endfor %}
        initiative_issues.created_at,
        -- the initiative itself moving to active, or any of its epics starting, starts it
        least(initiative_issues.first_active_at, rolled_up.first_started_at) as first_started_at,
        case
            when initiative_issues.issue_id is not null then initiative_issues.completed_at
            when rolled_up.epics_completed = rolled_up.epics then rolled_up.last_epic_completed_at
        end as completed_at,
        -- the initiative's own key named by shipped code counts like its epics' work: the earlier shipment,
        -- its time, deployment id and key taken together
        {%- for field in ['first_shipped_at', 'first_shipped_deployment_id', 'first_shipped_deployment_key'] %}
        case
            when initiative_issues.first_shipped_at <= rolled_up.first_shipped_at or rolled_up.first_shipped_at is null
                then initiative_issues.{{ field }}
            else rolled_up.{{ field }}
        end as {{ field }}{{ ',' if not loop.last }}
        {%- endfor %}
    from initiative_keys
    left join initiative_issues
        on initiative_issues.source_instance = initiative_keys.source_instance
        and initiative_issues.issue_key = initiative_keys.initiative_key
    left join rolled_up
        on rolled_up.source_instance = initiative_keys.source_instance
        and rolled_up.initiative_key = initiative_keys.initiative_key
    left join named_initiatives
        on named_initiatives.source_instance = initiative_keys.source_instance
        and named_initiatives.initiative_key = initiative_keys.initiative_key
)

select
    *,
    {{ shipping_times() }}
from initiatives
