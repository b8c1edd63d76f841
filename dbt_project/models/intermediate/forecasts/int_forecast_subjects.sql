-- What the delivery forecasts forecast (docs/METRICS.md#delivery-forecasts): every open epic and initiative,
-- every active sprint and every key result with a deadline, each with the team whose throughput drives it,
-- the flow items it still needs and the date it should be done by.
{%- set unsplit = var('forecast_unsplit_epic_items') | int %}

with items as materialized (
    -- flow items only: the throughput they are forecast with counts flow items
    select
        work_items.work_item_id,
        work_items.source_instance,
        work_items.issue_id,
        work_items.team,
        work_items.value_stream,
        hierarchy.epic_key,
        not work_items.is_done and not work_items.is_canceled and work_items.flow_state <> 'ignore' as is_open
    from {{ ref('work_items') }} as work_items
    -- a tracker the hierarchy does not place (one only int_tracker_issues_unioned lists) still has sprint items
    left join {{ ref('int_work_items_hierarchy') }} as hierarchy on hierarchy.work_item_id = work_items.work_item_id
    where work_items.is_flow_item and coalesce(hierarchy.hierarchy_level, 'item') = 'item'
),

epic_items as (
    select source_instance, epic_key, count(*) as items, count(*) filter (where is_open) as open_items
    from items
    where epic_key is not null
    group by source_instance, epic_key
),

open_epics as (
    -- an epic no item was split from yet still has work: it counts the configured default
    select
        epics.source_instance,
        epics.epic_key,
        epics.epic_issue_id,
        epics.initiative_key,
        epics.summary,
        epics.team,
        epics.value_stream,
        coalesce(epic_items.items, 0) = 0 as is_unsplit,
        case when coalesce(epic_items.items, 0) = 0 then {{ unsplit }} else epic_items.open_items end
            as remaining_items
    from {{ ref('epics') }} as epics
    left join epic_items
        on epic_items.source_instance = epics.source_instance
        and epic_items.epic_key = epics.epic_key
    where epics.completed_at is null
        and (epics.flow_state is null or epics.flow_state in ('new', 'waiting', 'active'))
),

initiative_epics as (
    select
        source_instance,
        initiative_key,
        sum(remaining_items) as remaining_items,
        bool_or(is_unsplit) as has_unsplit_epics
    from open_epics
    where initiative_key is not null
    group by source_instance, initiative_key
),

open_initiatives as (
    -- its open epics' remaining items; one with no epic yet counts as one unsplit epic
    select
        initiatives.source_instance,
        initiatives.initiative_key,
        initiatives.initiative_issue_id,
        initiatives.summary,
        initiatives.team,
        initiatives.value_stream,
        initiatives.epics = 0 or coalesce(initiative_epics.has_unsplit_epics, false) as has_default_items,
        case
            when initiatives.epics = 0 then {{ unsplit }}
            else coalesce(initiative_epics.remaining_items, 0)
        end as remaining_items
    from {{ ref('initiatives') }} as initiatives
    left join initiative_epics
        on initiative_epics.source_instance = initiatives.source_instance
        and initiative_epics.initiative_key = initiatives.initiative_key
    where initiatives.completed_at is null
        and (initiatives.flow_state is null or initiatives.flow_state in ('new', 'waiting', 'active'))
),

container_issues as (
    select source_instance, epic_issue_id as issue_id from open_epics where epic_issue_id is not null
    union
    select source_instance, initiative_issue_id from open_initiatives where initiative_issue_id is not null
),

container_payloads as (
    -- Due dates and fix versions' release dates are read from the raw payload of the open containers only:
    -- a few hundred issues, where staging would parse them for every issue.
    select distinct on (raw_issues.source_instance, raw_issues.record_key)
        raw_issues.source_instance,
        raw_issues.record_key as issue_id,
        raw_issues.payload
    from ({{ jira_live_issues(only='container_issues') }}) as raw_issues
    order by raw_issues.source_instance, raw_issues.record_key, raw_issues.extracted_at desc
),

release_dates as (
    select source_instance, issue_id, min({{ try_cast(json_text('version', 'releaseDate'), 'date') }}) as released_on
    from (
        select source_instance, issue_id, {{ json_array_rows(json_get('payload', 'fields.fixVersions')) }} as version
        from container_payloads
    ) as versions
    group by source_instance, issue_id
),

container_targets as (
    -- the due date, else the earliest release date of its fix versions
    select
        payloads.source_instance,
        payloads.issue_id,
        coalesce({{ try_cast(json_text('payloads.payload', 'fields.duedate'), 'date') }}, release_dates.released_on)
            as target_date,
        case
            when {{ try_cast(json_text('payloads.payload', 'fields.duedate'), 'date') }} is not null then 'due_date'
            when release_dates.released_on is not null then 'fix_version_release'
        end as target_kind
    from container_payloads as payloads
    left join release_dates
        on release_dates.source_instance = payloads.source_instance
        and release_dates.issue_id = payloads.issue_id
    union all
    -- a Linear project (an epic) is planned to be done by its target date
    select source_instance, project_id, target_date, 'project_target_date'
    from {{ ref('stg_linear__projects') }}
    where target_date is not null
    union all
    -- an Azure Boards Feature or Epic by its Target Date (Microsoft.VSTS.Scheduling.TargetDate)
    select source_instance, work_item_id, target_date, 'work_item_target_date'
    from {{ ref('stg_azure_devops__work_items') }}
    where target_date is not null
),

sprint_membership as (
    -- an item is in a sprint now when its last membership change for it added it
    select
        membership_changes.source_instance,
        membership_changes.sprint_id,
        membership_changes.issue_id
    from ({{ sprint_membership_changes() }}) as membership_changes
    group by membership_changes.source_instance, membership_changes.sprint_id, membership_changes.issue_id
    having {{ flow_last_membership_change('true') }} = 'added'
),

sprint_items as (
    select
        sprints.sprint_key,
        sprints.source_instance,
        sprints.sprint_name,
        sprints.team,
        sprints.ended_at,
        items.work_item_id,
        items.value_stream,
        items.is_open,
        count(items.work_item_id) over (partition by sprints.sprint_key, items.value_stream) as stream_items
    from {{ ref('sprint_predictability') }} as sprints
    left join sprint_membership
        on sprint_membership.source_instance = sprints.source_instance
        and sprint_membership.sprint_id = sprints.sprint_id
    left join items
        on items.source_instance = sprint_membership.source_instance
        and items.issue_id = sprint_membership.issue_id
    where sprints.sprint_state = 'active'
),

active_sprints as (
    select
        sprint_key,
        source_instance,
        sprint_name,
        team,
        ended_at::date as target_date,
        count(*) filter (where is_open) as remaining_items,
        -- the value stream most of its items belong to, then alphabetically
        {{ min_by_keys('value_stream', ['-stream_items', 'value_stream']) }} as items_value_stream
    from sprint_items
    group by sprint_key, source_instance, sprint_name, team, ended_at
),

key_result_items as (
    select distinct
        links.key_result_source_instance,
        links.key_result_id,
        items.work_item_id,
        items.team,
        items.value_stream,
        items.is_open
    from {{ ref('int_key_result_work_items') }} as links
    inner join items on items.work_item_id = links.work_item_id
),

key_results as (
    -- a key result with a deadline and at least one linked flow item; its own team, else its items' owner
    select
        key_results.source_instance,
        key_results.key_result_id,
        key_results.key_result,
        coalesce(key_results.team, {{ min_by_keys('linked.team', ['-team_items', 'linked.team']) }}) as team,
        coalesce(key_results.value_stream, {{ min_by_keys('linked.value_stream', ['-team_items', 'linked.team']) }})
            as value_stream,
        key_results.due_on as target_date,
        count(*) filter (where linked.is_open) as remaining_items
    from {{ ref('stg_outcomes__key_results') }} as key_results
    inner join (
        select *, count(*) over (partition by key_result_source_instance, key_result_id, team) as team_items
        from key_result_items
    ) as linked
        on linked.key_result_source_instance = key_results.source_instance
        and linked.key_result_id = key_results.key_result_id
    where key_results.due_on is not null
    group by key_results.source_instance, key_results.key_result_id, key_results.key_result, key_results.team,
        key_results.value_stream, key_results.due_on
)

select
    'epic' as subject_type,
    'epic:' || open_epics.source_instance || ':' || open_epics.epic_key as subject_id,
    open_epics.epic_key as subject_key,
    open_epics.summary as subject_name,
    open_epics.initiative_key,
    open_epics.team,
    open_epics.value_stream,
    open_epics.remaining_items::bigint as remaining_items,
    open_epics.is_unsplit as has_default_items,
    targets.target_date,
    targets.target_kind
from open_epics
left join container_targets as targets
    on targets.source_instance = open_epics.source_instance
    and targets.issue_id = open_epics.epic_issue_id

union all

select
    'initiative',
    'initiative:' || open_initiatives.source_instance || ':' || open_initiatives.initiative_key,
    open_initiatives.initiative_key,
    open_initiatives.summary,
    open_initiatives.initiative_key,
    open_initiatives.team,
    open_initiatives.value_stream,
    open_initiatives.remaining_items::bigint,
    open_initiatives.has_default_items,
    targets.target_date,
    targets.target_kind
from open_initiatives
left join container_targets as targets
    on targets.source_instance = open_initiatives.source_instance
    and targets.issue_id = open_initiatives.initiative_issue_id

union all

select
    'sprint',
    'sprint:' || sprint_key,
    sprint_key,
    sprint_name,
    null::varchar,
    team,
    coalesce(items_value_stream, 'unassigned'),
    remaining_items::bigint,
    false,
    target_date,
    case when target_date is not null then 'sprint_end' end
from active_sprints

union all

select
    'key_result',
    'key_result:' || source_instance || ':' || key_result_id,
    key_result_id,
    key_result,
    null::varchar,
    team,
    coalesce(value_stream, 'unassigned'),
    remaining_items::bigint,
    false,
    target_date,
    'key_result_deadline'
from key_results
