-- PagerDuty incidents in the shape of int_incidents_unioned. PagerDuty says nothing of the deployment that
-- caused an incident, so attribution is by a deployment its title names, else the window rule's
-- (int_incident_attributions), on the service:
-- the PagerDuty service's name through the source's deployment rules (`services`), so that it names the
-- service as the deployments do.

with incidents as (
    select * from {{ ref('stg_pagerduty__incidents') }}
),

resolutions as (
    -- The incident's own `resolved_at` when the API gives it; else its last resolve log entry.
    select
        source_instance,
        incident_id,
        max(created_at) as resolved_at
    from {{ ref('stg_pagerduty__log_entries') }}
    where entry_kind = 'resolve'
    group by source_instance, incident_id
),

services as (
    select * from {{ ref('stg_pagerduty__services') }}
)

select
    'pagerduty' as source,
    incidents.source_instance,
    incidents.incident_id,
    '#' || incidents.incident_number as display_key,
    incidents.title,
    incidents.title as reference_text,
    incidents.url,
    -- the service's current name (a renamed service keeps its mapping), else the name the incident carried
    {{ service_for_scope('incidents.source_instance', 'coalesce(services.service_name, incidents.service_name)') }}
        as service,
    -- the priority (`P1`...) when the account uses priorities, else the urgency (`high`/`low`)
    coalesce(incidents.priority, incidents.urgency) as severity,
    incidents.created_at as started_at,
    case when incidents.status = 'resolved'
        then coalesce(incidents.resolved_at, resolutions.resolved_at, incidents.last_status_change_at)
    end as resolved_at,
    null::varchar as caused_by_source_instance,
    null::varchar as caused_by_deployment_id,
    null::varchar as root_cause_sha,
    null::varchar as caused_by_issue_key,
    false as is_rollback
from incidents
left join resolutions
    on resolutions.source_instance = incidents.source_instance
    and resolutions.incident_id = incidents.incident_id
left join services
    on services.source_instance = incidents.source_instance
    and services.service_id = incidents.service_id
