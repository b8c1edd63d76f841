-- The first successful production deployment that shipped each work item's work (Jira issues, Linear issues,
-- Azure Boards work items): a deployment shipped an item when one of the commits it shipped
-- (int_deployment_changes) came from a merged pull request whose title or source branch names the item's
-- key, or has a message headline naming it. Keys are read case-insensitively ("feature/shop-42-search" and
-- Linear's "ann/mob-12-offline" name SHOP-42 and MOB-12) and whole ("SHOP-4" is not "SHOP-42"); an Azure
-- Boards work item is named `AB#<id>`, the mention Azure Boards links commits and pull requests by.
-- Definitions: docs/METRICS.md#epics-and-initiatives.
{%- set issue_key_pattern = "'(?:^|[^A-Z0-9])([A-Z][A-Z0-9_]*-[0-9]+|AB#[0-9]+)'" %}

with shipped_changes as (
    select
        changes.deployment_key,
        deployments.deployment_id,
        changes.service,
        changes.message_headline,
        changes.pull_request_key,
        deployments.finished_at
    from {{ ref('int_deployment_changes') }} as changes
    inner join {{ ref('int_deployments_unioned') }} as deployments
        on deployments.deployment_key = changes.deployment_key
    where deployments.status = 'success'
),

merged_pull_requests as (
    -- the code hosts whose pull requests int_deployment_changes links to shipped commits, keyed as it keys them
    select source_instance || ':' || pull_request_id as pull_request_key, title, head_ref as branch
    from {{ ref('stg_github__pull_requests') }}
    where merged_at is not null
    union all
    select pull_request_key, title, source_branch
    from {{ ref('int_bitbucket__merged_pull_requests') }}
),

pull_request_keys as (
    select distinct
        pull_request_key,
        {{ regex_extract_all_rows("upper(concat_ws(' ', title, branch))", issue_key_pattern, 1) }} as issue_key
    from merged_pull_requests
),

mentions as (
    select pull_request_keys.issue_key, shipped_changes.deployment_key, shipped_changes.deployment_id,
        shipped_changes.service,
        shipped_changes.finished_at, 'pull_request' as shipped_via
    from shipped_changes
    inner join pull_request_keys on pull_request_keys.pull_request_key = shipped_changes.pull_request_key
    union all
    select {{ regex_extract_all_rows('upper(message_headline)', issue_key_pattern, 1) }}, deployment_key,
        deployment_id, service,
        finished_at, 'commit'
    from shipped_changes
),

issues as (
    -- an Azure Boards work item's key is its number: it is mentioned as AB#<number>
    select
        source_instance,
        issue_id,
        issue_key,
        case when {{ regex_matches('issue_key', "'^[0-9]+$'") }} then 'AB#' || issue_key else upper(issue_key) end
            as mention_key
    from {{ ref('int_tracker_issues_unioned') }}
)

select distinct on (issues.source_instance, issues.issue_id)
    issues.source_instance || ':' || issues.issue_id as work_item_id,
    issues.source_instance,
    issues.issue_id,
    issues.issue_key,
    mentions.finished_at as first_shipped_at,
    mentions.deployment_id as first_shipped_deployment_id,
    mentions.deployment_key as first_shipped_deployment_key,
    mentions.service as first_shipped_service,
    mentions.shipped_via
from issues
inner join mentions on mentions.issue_key = issues.mention_key
-- a pull request before a bare commit mention of the same deployment
order by issues.source_instance, issues.issue_id, mentions.finished_at, mentions.deployment_key,
    mentions.shipped_via desc
