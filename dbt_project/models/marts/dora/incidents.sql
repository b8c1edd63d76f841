-- One row per incident with the deployment that caused it (or none). Definitions: docs/METRICS.md#incidents.

select
    incidents.incident_key,
    incidents.source,
    incidents.source_instance,
    incidents.incident_id,
    incidents.display_key,
    incidents.title,
    incidents.url,
    incidents.service,
    coalesce(teams.team, 'unassigned') as team,
    incidents.severity,
    incidents.started_at,
    incidents.resolved_at,
    {{ hours_between('incidents.started_at', 'incidents.resolved_at') }} as restore_hours,
    attributions.caused_by_deployment_key,
    attributions.attribution,
    attributions.matched_reference as attribution_reference,
    attributions.caused_by_deployment_key is not null as is_attributed,
    deployments.environment as caused_by_environment,
    deployments.finished_at as caused_by_deployed_at,
    incidents.is_rollback
from {{ ref('int_incidents_unioned') }} as incidents
inner join {{ ref('int_incident_attributions') }} as attributions
    on attributions.incident_key = incidents.incident_key
left join {{ ref('int_deployments_unioned') }} as deployments
    on deployments.deployment_key = attributions.caused_by_deployment_key
left join {{ ref('int_service_teams') }} as teams on teams.service = incidents.service
