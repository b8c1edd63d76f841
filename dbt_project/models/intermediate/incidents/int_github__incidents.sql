-- GitHub issues labelled as incidents (var github_incident_labels, applied in stg_github__issues). The
-- service is the repository's, through the source's deployment rules, so it matches its deployments.

with incident_issues as (
    select * from {{ ref('stg_github__issues') }}
    where is_incident
)

select
    'github' as source,
    incident_issues.source_instance,
    incident_issues.issue_id as incident_id,
    incident_issues.repo || '#' || incident_issues.issue_number as display_key,
    incident_issues.title,
    concat_ws(' ', incident_issues.title, incident_issues.body) as reference_text,
    incident_issues.url,
    {{ service_for_scope('incident_issues.source_instance', 'incident_issues.repo') }} as service,
    -- a label such as `sev1`, `sev-2`, `severity:high` or `P1`
    {{ array_filter('incident_issues.labels', regex_matches('element', "'^(sev|severity|p[0-4]\\b)'", 'i')) }}[1]
        as severity,
    incident_issues.created_at as started_at,
    incident_issues.closed_at as resolved_at,
    incident_issues.source_instance as caused_by_source_instance,
    -- "Caused by deployment 123456" / "Root cause: 1a2b3c4" in the issue text
    nullif({{ regex_extract('incident_issues.body', "'(?i)caused by deployment\\D{0,5}(\\d+)'", 1) }}, '') as caused_by_deployment_id,
    lower(nullif({{ regex_extract('incident_issues.body', "'(?i)root[ -]?cause\\W{0,5}(?:commit\\W{0,3})?([0-9a-f]{7,40})\\b'", 1) }}, ''))
        as root_cause_sha,
    null::varchar as caused_by_issue_key,
    false as is_rollback
from incident_issues
