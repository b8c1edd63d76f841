-- The first successful production deployment that shipped each Jira issue's work: a deployment shipped
-- an issue when one of the commits it shipped (int_deployment_changes) came from a merged pull request
-- whose title or head branch names the issue key, or has a message headline naming it. Keys are read
-- case-insensitively ("feature/shop-42-search" names SHOP-42) and whole ("SHOP-4" is not "SHOP-42").
-- Definitions: docs/METRICS.md#epics-and-initiatives.
{%- set issue_key_pattern = "'(?:^|[^A-Z0-9])([A-Z][A-Z0-9_]*-[0-9]+)'" %}

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

pull_request_keys as (
    select distinct
        source_instance || ':' || pull_request_id as pull_request_key,
        {{ regex_extract_all_rows("upper(concat_ws(' ', title, head_ref))", issue_key_pattern, 1) }} as issue_key
    from {{ ref('stg_github__pull_requests') }}
    where merged_at is not null
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
    select source_instance, issue_id, issue_key
    from {{ ref('stg_jira__issues') }}
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
inner join mentions on mentions.issue_key = upper(issues.issue_key)
-- a pull request before a bare commit mention of the same deployment
order by issues.source_instance, issues.issue_id, mentions.finished_at, mentions.deployment_key,
    mentions.shipped_via desc
