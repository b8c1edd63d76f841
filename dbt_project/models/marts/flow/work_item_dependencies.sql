-- Blocking links between work items, with the teams on both ends and how long the blocked item waited.
-- Definitions: docs/METRICS.md#dependencies.

{%- set block_word %}'\bblock'{% endset %}

with as_of as (
    select {{ flow_as_of() }} as as_of_at
),

blocking_links as (
    -- A link between two loaded issues is listed from both ends; keep one row per link, read as
    -- "blocker blocks blocked" whichever end it came from.
    select distinct on (source_instance, link_id)
        source_instance,
        link_id,
        link_type,
        case when direction = 'outward' then issue_id else other_issue_id end as blocking_issue_id,
        case when direction = 'outward' then issue_key else other_issue_key end as blocking_issue_key,
        case when direction = 'outward' then other_issue_id else issue_id end as blocked_issue_id,
        case when direction = 'outward' then other_issue_key else issue_key end as blocked_issue_key
    from {{ ref('stg_jira__issue_links') }}
    -- Jira's "Blocks" type (outward "blocks", inward "is blocked by"), under whatever name the instance uses
    where {{ regex_matches('lower(link_type)', block_word) }}
        or {{ regex_matches('lower(relationship)', block_word) }}
    order by source_instance, link_id, direction desc nulls last
),

items as (
    select
        work_item_id,
        source_instance,
        issue_id,
        team,
        value_stream,
        created_at,
        coalesce(completed_at, canceled_at) as resolved_at
    from {{ ref('work_items') }}
),

dependencies as (
    select
        blocking_links.*,
        blocking.work_item_id as blocking_work_item_id,
        blocked.work_item_id as blocked_work_item_id,
        blocking.team as blocking_team,
        blocking.value_stream as blocking_value_stream,
        blocked.team as blocked_team,
        blocked.value_stream as blocked_value_stream,
        blocking.resolved_at as blocking_resolved_at,
        -- the dependency exists once both items do; the wait ends when the blocker is done or canceled,
        -- or earlier if the blocked item itself was finished; while open it runs to the as-of time
        greatest(blocking.created_at, blocked.created_at) as wait_started_at,
        least(
            coalesce(blocking.resolved_at, as_of.as_of_at),
            coalesce(blocked.resolved_at, as_of.as_of_at)
        ) as wait_ended_at
    from blocking_links
    cross join as_of
    left join items as blocking
        on blocking.source_instance = blocking_links.source_instance
        and blocking.issue_id = blocking_links.blocking_issue_id
    left join items as blocked
        on blocked.source_instance = blocking_links.source_instance
        and blocked.issue_id = blocking_links.blocked_issue_id
)

select
    source_instance || ':' || link_id as dependency_id,
    source_instance,
    link_id,
    link_type,
    blocking_work_item_id,
    blocking_issue_key,
    blocking_team,
    blocking_value_stream,
    blocked_work_item_id,
    blocked_issue_key,
    blocked_team,
    blocked_value_stream,
    blocking_team is distinct from blocked_team as is_cross_team,
    blocking_value_stream is distinct from blocked_value_stream as is_cross_value_stream,
    blocking_resolved_at,
    blocking_resolved_at is not null as is_resolved,
    case when blocking_work_item_id is not null and blocked_work_item_id is not null
        then greatest({{ hours_between('wait_started_at', 'wait_ended_at') }}, 0)
    end as blocked_wait_hours
from dependencies
