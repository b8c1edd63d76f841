-- Opsgenie incidents (and alerts of `options.alert_priorities`) in the shape of int_incidents_unioned. The
-- service goes through the source's deployment rules (`services`), so an incident names its service as the
-- deployments do: for an incident, the first impacted service's name (its id when the services list lacks
-- it); for an alert, its `service:<name>` tag. The incident object has no resolve time: it is the first log
-- entry that resolved or closed it after its last reopening, else (a log not read yet) the last update of an
-- incident that is resolved or closed. An alert is resolved when it was closed.

with logs as (
    select * from {{ ref('stg_opsgenie__incident_logs') }}
),

reopened as (
    select source_instance, incident_id, max(logged_at) as reopened_at
    from logs
    where {{ regex_matches('log', "'\\breopen'", 'i') }}
    group by source_instance, incident_id
),

resolves as (
    select logs.source_instance, logs.incident_id, min(logs.logged_at) as resolved_at
    from logs
    left join reopened using (source_instance, incident_id)
    where {{ regex_matches('logs.log', "'\\b(resolved|closed)\\b'", 'i') }}
        and not {{ regex_matches('logs.log', "'\\breopen'", 'i') }}
        and (reopened.reopened_at is null or logs.logged_at > reopened.reopened_at)
    group by logs.source_instance, logs.incident_id
),

incidents as (
    select
        incidents.source_instance,
        incidents.incident_id,
        '#' || incidents.tiny_id as display_key,
        incidents.message as title,
        concat_ws(' ', incidents.message, incidents.description) as reference_text,
        incidents.url,
        coalesce(services.service_name, incidents.service_ids[1]) as opsgenie_service,
        incidents.priority as severity,
        incidents.created_at as started_at,
        case
            when incidents.status in ('resolved', 'closed') then coalesce(resolves.resolved_at, incidents.updated_at)
        end as resolved_at
    from {{ ref('stg_opsgenie__incidents') }} as incidents
    left join {{ ref('stg_opsgenie__services') }} as services
        on services.source_instance = incidents.source_instance
        and services.service_id = incidents.service_ids[1]
    left join resolves
        on resolves.source_instance = incidents.source_instance
        and resolves.incident_id = incidents.incident_id
),

alerts as (
    select
        source_instance,
        alert_id as incident_id,
        'alert #' || tiny_id as display_key,
        message as title,
        message as reference_text,
        null::varchar as url,  -- the alert list answer has no web link
        service_tag as opsgenie_service,
        priority as severity,
        created_at as started_at,
        case when status = 'closed' then coalesce(closed_at, updated_at) end as resolved_at
    from {{ ref('stg_opsgenie__alerts') }}
),

unioned as (
    select source_instance, incident_id, display_key, title, reference_text, url, opsgenie_service, severity, started_at, resolved_at
    from incidents
    union all
    select source_instance, incident_id, display_key, title, reference_text, url, opsgenie_service, severity, started_at, resolved_at
    from alerts
)

select
    'opsgenie' as source,
    source_instance,
    incident_id,
    display_key,
    title,
    reference_text,
    url,
    {{ service_for_scope('unioned.source_instance', 'unioned.opsgenie_service') }} as service,
    severity,
    started_at,
    resolved_at,
    -- Opsgenie does not link deployments: a deployment its text names, else the window rule, attributes them
    null::varchar as caused_by_source_instance,
    null::varchar as caused_by_deployment_id,
    null::varchar as root_cause_sha,
    null::varchar as caused_by_issue_key,
    false as is_rollback
from unioned
