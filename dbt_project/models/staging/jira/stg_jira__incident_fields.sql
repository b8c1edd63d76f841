{#
  The Jira fields incidents are read from, one row per live issue. Which custom fields hold an incident's
  service, severity, causing deployment and root-cause commit differs per instance, so their ids come
  from the var `jira_incident_fields` (throughline.yml `options.incidents.fields` of the Jira sources);
  a field not configured reads NULL. A field may hold text, a number, an option `{value}` or a list of
  options (the first is taken).
#}
{%- set fields = var('jira_incident_fields', {}) or {} -%}



with source as (
    {{ jira_live_issues() }}
)

select
    record_key as issue_id,
    {{ json_text('payload', 'key') }} as issue_key,
    source_instance,
    -- The browse page, from the issue's API URL (https://site/rest/api/3/issue/10001).
    {{ regex_replace(json_text('payload', 'self'), "'/rest/api/[0-9]+/issue/.*$'", "''", flags='') }} || '/browse/' || ({{ json_text('payload', 'key') }})
        as url,
    nullif(trim({{ jira_field_text(fields.get('service')) }}), '') as service_field,
    nullif(trim({{ jira_field_text(fields.get('severity')) }}), '') as severity_field,
    nullif(trim({{ jira_field_text(fields.get('caused_by_deployment')) }}), '') as caused_by_deployment_field,
    lower(nullif(trim({{ jira_field_text(fields.get('root_cause_sha')) }}), '')) as root_cause_sha_field
from source
