{#
  Jira issues that are incidents: issue type in the var `jira_incident_issue_types` (default Incident) or
  a label in `jira_incident_labels` (default incident), both case-insensitive; the nightly run sets them
  from `options.incidents` of the Jira sources.
  Incremental by issue (macros/keyed_increments.sql): a run reads only the issues stg_jira__issues parsed
  again (int_jira__changed_issues, the same window); the pre-hook first deletes those issues' rows, so an issue
  deleted, or no longer an incident, loses its row. A change of the vars rebuilds every issue.
#}
{%- set issue_types = var('jira_incident_issue_types', ['Incident']) -%}
{%- set labels = var('jira_incident_labels', ['incident']) -%}
{%- set cause_link = var('jira_incident_cause_link_pattern', 'caused by') -%}
{%- set partial = keyed_increment_is_partial() -%}
{{ keyed_increment_config(['source_instance', 'incident_id'],
    pre_hook="{{ keyed_increment_delete('int_jira__changed_issues', key='incident_id') }}") }}
-- depends_on: {{ ref('int_jira__changed_issues') }}

with incident_issues as (
    select issues.*
    from {{ ref('stg_jira__issues') }} as issues
    {%- if partial %}
    inner join {{ ref('int_jira__changed_issues') }} as changed
        on changed.source_instance = issues.source_instance
        and changed.issue_id = issues.issue_id
    {%- endif %}
    where ({{ array_has_value(_sql_text_list(issue_types | map('lower') | list), 'lower(issues.issue_type)') }}
        or {{ arrays_overlap(_sql_text_list(labels | map('lower') | list), array_map('issues.labels', 'lower(element)')) }})
),

cause_links as (
    -- "OPS-7 is caused by SHOP-12": the issue whose change broke production; its pull request's first
    -- production deployment is the cause (int_incident_attributions).
    select
        source_instance,
        issue_id,
        min(other_issue_key) as caused_by_issue_key
    from {{ ref('stg_jira__issue_links') }}
    where {{ regex_matches('relationship', _sql_text(cause_link), 'i') }}
        and issue_id in (select issue_id from incident_issues)
    group by source_instance, issue_id
)

select
    'jira' as source,
    incident_issues.source_instance,
    incident_issues.issue_id as incident_id,
    incident_issues.issue_key as display_key,
    incident_issues.summary as title,
    incident_issues.summary as reference_text,
    incident_issues.url,
    coalesce(
        incident_issues.service_field,
        -- a `service:<name>` label, else the first component
        nullif({{ regex_extract(array_to_text('incident_issues.labels', "' '"), "'service:(\\S+)'", 1) }}, ''),
        incident_issues.components[1]
    ) as service,
    coalesce(incident_issues.severity_field, incident_issues.priority) as severity,
    incident_issues.created_at as started_at,
    incident_issues.resolved_at,
    -- `<source>:<id>` names the deployment's source instance; a bare id is looked up in every source
    case when incident_issues.caused_by_deployment_field like '%:%'
        then split_part(incident_issues.caused_by_deployment_field, ':', 1) end as caused_by_source_instance,
    case when incident_issues.caused_by_deployment_field like '%:%'
        then split_part(incident_issues.caused_by_deployment_field, ':', 2)
        else incident_issues.caused_by_deployment_field end as caused_by_deployment_id,
    incident_issues.root_cause_sha_field as root_cause_sha,
    cause_links.caused_by_issue_key,
    false as is_rollback,
    {{ keyed_increment_settings() }} as build_settings
from incident_issues
left join cause_links
    on cause_links.source_instance = incident_issues.source_instance
    and cause_links.issue_id = incident_issues.issue_id

