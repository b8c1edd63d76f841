-- Incidents of the generic events sources in the shape of int_incidents_unioned. The service goes through
-- the source's deployment rules (`services`), so an incident names its service as the deployments do.

select
    'events' as source,
    incidents.source_instance,
    incidents.incident_id,
    incidents.incident_id as display_key,
    incidents.title,
    incidents.title as reference_text,
    incidents.url,
    {{ service_for_scope('incidents.source_instance', 'incidents.service') }} as service,
    incidents.severity,
    incidents.started_at,
    incidents.resolved_at,
    incidents.caused_by_source_instance,
    incidents.caused_by_deployment_id,
    incidents.root_cause_sha,
    null::varchar as caused_by_issue_key,
    coalesce(incidents.is_rollback, false) as is_rollback
from {{ ref('stg_events__incidents') }} as incidents
