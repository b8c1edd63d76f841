-- One row per incident from every incident source, in one shape (see the YAML for each column).
-- Attribution to a deployment happens downstream (int_incident_attributions), so a source only
-- reports what it knows: an explicit causing deployment, a root-cause commit, or neither.

with unioned as (
    select * from {{ ref('int_jira__incidents') }}
    union all by name select * from {{ ref('int_github__incidents') }}
    union all by name select * from {{ ref('int_events__incidents') }}
    union all by name select * from {{ ref('int_gitlab__incidents') }}
    union all by name select * from {{ ref('int_opsgenie__incidents') }}
    union all by name select * from {{ ref('int_pagerduty__incidents') }}
    -- <incident sources: add a "union all by name" of each int_<source>__incidents model above this line>
)

select
    source_instance || ':' || incident_id as incident_key,
    source,
    source_instance,
    incident_id,
    display_key,
    title,
    url,
    service,
    severity,
    started_at,
    resolved_at,
    caused_by_source_instance,
    caused_by_deployment_id,
    lower(root_cause_sha) as root_cause_sha,
    caused_by_issue_key,
    coalesce(is_rollback, false) as is_rollback
from unioned
