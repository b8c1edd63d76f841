-- GitLab incidents (issues of type incident) in the shape of int_incidents_unioned. The service is the
-- project's, through the source's deployment rules, so it matches the project's deployments.

with incidents as (
    select * from {{ ref('stg_gitlab__issues') }}
    where is_incident
)

select
    'gitlab' as source,
    incidents.source_instance,
    incidents.issue_id as incident_id,
    incidents.project_path || '#' || incidents.issue_iid as display_key,
    incidents.title,
    concat_ws(' ', incidents.title, incidents.description) as reference_text,
    incidents.url,
    {{ service_for_scope('incidents.source_instance', 'incidents.project_path') }} as service,
    -- GitLab keeps an incident's own severity out of the REST issue; teams label it (`severity::1`, `sev2`, `P1`).
    {{ array_filter('incidents.labels', regex_matches('element', "'^(sev|severity|p[0-4]\\b)'", 'i')) }}[1] as severity,
    incidents.created_at as started_at,
    case when incidents.state = 'closed' then incidents.closed_at end as resolved_at,
    incidents.source_instance as caused_by_source_instance,
    -- "Caused by deployment 123456" / "Root cause: 1a2b3c4" in the description, as for GitHub incidents
    nullif({{ regex_extract('incidents.description', "'(?i)caused by deployment\\D{0,5}(\\d+)'", 1) }}, '') as caused_by_deployment_id,
    lower(nullif({{ regex_extract('incidents.description', "'(?i)root[ -]?cause\\W{0,5}(?:commit\\W{0,3})?([0-9a-f]{7,40})\\b'", 1) }}, ''))
        as root_cause_sha,
    null::varchar as caused_by_issue_key,
    false as is_rollback
from incidents
