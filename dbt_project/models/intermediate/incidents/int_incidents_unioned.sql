-- One row per incident from every incident source, in one shape (see the YAML for each column).
-- Attribution to a deployment happens downstream (int_incident_attributions), so a source only
-- reports what it knows: an explicit causing deployment, a root-cause commit, the text that may name one
-- (`reference_text`), or none of these.

{% set incident_models = [
    'int_jira__incidents',
    'int_github__incidents',
    'int_events__incidents',
    'int_gitlab__incidents',
    'int_opsgenie__incidents',
    'int_pagerduty__incidents',
] %}
{# <incident sources: add each int_<source>__incidents model to the list above> #}
{% set columns = [
    'source', 'source_instance', 'incident_id', 'display_key', 'title', 'reference_text', 'url', 'service', 'severity',
    'started_at', 'resolved_at', 'caused_by_source_instance', 'caused_by_deployment_id', 'root_cause_sha',
    'caused_by_issue_key', 'is_rollback',
] %}

with unioned as (
    {%- for model in incident_models %}
    select {{ columns | join(', ') }} from {{ ref(model) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    source_instance || ':' || incident_id as incident_key,
    source,
    source_instance,
    incident_id,
    display_key,
    title,
    reference_text,
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
