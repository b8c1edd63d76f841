{#
  Settings of the DORA models, each a dbt var with the default below (override in dbt_project.yml or
  with --vars). Kept in one macro so a model, its YAML and docs/METRICS.md name one default.
#}
{% macro dora_setting(name) -%}
    {%- set defaults = {
        'deployment_duplicate_window_minutes': 30,
        'incident_attribution_window_hours': 24,
        'remediation_window_hours': 24,
        'rework_deployment_kinds': ['rollback', 'hotfix'],
    } -%}
    {%- if name not in defaults -%}
        {{ exceptions.raise_compiler_error("dora_setting: unknown setting '" ~ name ~ "'") }}
    {%- endif -%}
    {{- return(var(name, defaults[name])) -}}
{%- endmacro %}

{#- A Jinja list of strings as a varchar[] literal (`array[...]`, which DuckDB and PostgreSQL both read). -#}
{% macro dora_text_list(values) -%}
    {%- if values is string -%}{%- set values = [values] -%}{%- endif -%}
    array[{%- for value in values -%}'{{ value | string | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}]::varchar[]
{%- endmacro %}

{#- A Jira field as text: plain text or number, an option `{value}`, a `{name}` object or the first of a list.
    Read from the paths jira_field_paths(field_id) adds to jira_parsed_paths (`at`/`json_at`: their refs), so
    the issue's JSON is parsed once for every field. -#}
{% macro jira_field_paths(field_id) -%}
    {%- set field = 'fields.' ~ field_id -%}
    {{ return({'text': [field ~ '.value', field ~ '.name', field ~ '[0].value', field ~ '[0]', field],
               'json': [field]}) }}
{%- endmacro %}

{% macro jira_field_text(field_id, at, json_at) -%}
    {%- if field_id -%}
    {%- set field = 'fields.' ~ field_id -%}
    coalesce(
        {{ at[field ~ '.value'] }},
        {{ at[field ~ '.name'] }},
        {{ at[field ~ '[0].value'] }},
        {{ at[field ~ '[0]'] }},
        case when {{ json_kind(json_at[field]) }} in ('string', 'number') then {{ at[field] }} end
    )
    {%- else -%}
    null::varchar
    {%- endif -%}
{%- endmacro %}

{#
  dora_metrics_weekly / dora_metrics_monthly: the same SQL at two grains ('week' or 'month'). Each
  metric is counted in the period of its own event: a deployment when it finished, a lead time when the
  pull request first ran in production, a recovery when the failure started, an incident when it
  started. Rows per service, per team and overall (GROUPING SETS), every period from a group's first
  event to the last period with any event, so quiet periods read 0 rather than being missing.
#}
{% macro dora_metrics(grain) -%}
{%- set period = "date_trunc('" ~ grain ~ "', {})::date" -%}
with teams as (
    select * from {{ ref('int_service_teams') }}
),

deployment_facts as (
    select
        {{ period.format('outcomes.finished_at') }} as period_start,
        coalesce(teams.team, 'unassigned') as team,
        outcomes.service,
        outcomes.deployment_key,
        outcomes.status,
        outcomes.finished_at::date as finished_on,
        outcomes.is_change_failure,
        outcomes.is_rework
    from {{ ref('int_deployment_outcomes') }} as outcomes
    left join teams on teams.service = outcomes.service
    where outcomes.is_attempt
),

lead_time_facts as (
    select
        {{ period.format('first_deployed_at') }} as period_start,
        team,
        service,
        lead_time_hours
    from {{ ref('pull_request_cycle_times') }}
    where first_deployed_at is not null and lead_time_hours is not null
),

recovery_facts as (
    select
        {{ period.format('outcomes.failure_started_at') }} as period_start,
        coalesce(teams.team, 'unassigned') as team,
        outcomes.service,
        {{ hours_between('outcomes.failure_started_at', 'outcomes.recovered_at') }} as recovery_hours
    from {{ ref('int_deployment_outcomes') }} as outcomes
    left join teams on teams.service = outcomes.service
    where outcomes.is_change_failure and outcomes.failure_started_at is not null
),

incident_facts as (
    select
        {{ period.format('started_at') }} as period_start,
        team,
        coalesce(service, '(unknown)') as service,
        is_attributed
    from {{ ref('incidents') }}
),

{%- set levels -%}
        case when grouping(service) = 0 then 'service' when grouping(team) = 0 then 'team' else 'overall' end
            as grouping_level,
        case when grouping(team) = 0 then team else 'all' end as team,
        case when grouping(service) = 0 then service else 'all' end as service
{%- endset -%}
{%- set grouping_sets = "grouping sets ((period_start, team, service), (period_start, team), (period_start))" %}

deployment_counts as (
    select
        period_start,
        {{ levels }},
        count(*) filter (where status = 'success') as deployments,
        count(distinct finished_on) filter (where status = 'success') as deployment_days,
        count(*) as deployment_attempts,
        count(distinct deployment_key) filter (where is_change_failure) as change_failures,
        count(*) filter (where is_rework) as rework_deployments
    from deployment_facts
    group by {{ grouping_sets }}
),

lead_times as (
    select
        period_start,
        {{ levels }},
        count(*) as lead_time_changes,
        {{ percentile_cont('lead_time_hours', 0.5) }} as lead_time_p50_hours,
        {{ percentile_cont('lead_time_hours', 0.85) }} as lead_time_p85_hours
    from lead_time_facts
    group by {{ grouping_sets }}
),

recoveries as (
    select
        period_start,
        {{ levels }},
        count(recovery_hours) as recoveries,
        {{ percentile_cont('recovery_hours', 0.5) }} as recovery_time_p50_hours
    from recovery_facts
    group by {{ grouping_sets }}
),

incident_counts as (
    select
        period_start,
        {{ levels }},
        count(*) as incidents,
        count(*) filter (where not is_attributed) as unattributed_incidents
    from incident_facts
    group by {{ grouping_sets }}
),

active_periods as (
    select period_start, grouping_level, team, service from deployment_counts
    union select period_start, grouping_level, team, service from lead_times
    union select period_start, grouping_level, team, service from recoveries
    union select period_start, grouping_level, team, service from incident_counts
),

spine as (
    select
        grouping_level,
        team,
        service,
        ({{ timestamp_series_rows(
            'min(period_start)',
            '(select max(period_start) from active_periods)',
            "interval '1 " ~ grain ~ "'"
        ) }})::date as period_start
    from active_periods
    group by grouping_level, team, service
)

{%- if grain == 'week' %}
{%- set days_in_period = '7' %}
{%- else %}
{%- set days_in_period = "(((spine.period_start + interval '1 month')::date - spine.period_start)::integer)" %}
{%- endif %}

select
    spine.period_start,
    {{ days_in_period }} as days_in_period,
    spine.grouping_level,
    spine.team,
    spine.service,
    coalesce(deployment_counts.deployments, 0) as deployments,
    coalesce(deployment_counts.deployment_days, 0) as deployment_days,
    coalesce(deployment_counts.deployments, 0) / ({{ days_in_period }})::float8 as deployments_per_day,
    coalesce(deployment_counts.deployment_days, 0) * 7 / ({{ days_in_period }})::float8 as deployment_days_per_week,
    coalesce(lead_times.lead_time_changes, 0) as lead_time_changes,
    lead_times.lead_time_p50_hours,
    lead_times.lead_time_p85_hours,
    coalesce(deployment_counts.deployment_attempts, 0) as deployment_attempts,
    coalesce(deployment_counts.change_failures, 0) as change_failures,
    deployment_counts.change_failures / nullif(deployment_counts.deployment_attempts, 0)::float8 as change_failure_rate,
    coalesce(recoveries.recoveries, 0) as recoveries,
    recoveries.recovery_time_p50_hours,
    coalesce(deployment_counts.rework_deployments, 0) as rework_deployments,
    deployment_counts.rework_deployments / nullif(deployment_counts.deployment_attempts, 0)::float8 as rework_rate,
    coalesce(incident_counts.incidents, 0) as incidents,
    coalesce(incident_counts.unattributed_incidents, 0) as unattributed_incidents
from spine
{%- for name in ['deployment_counts', 'lead_times', 'recoveries', 'incident_counts'] %}
left join {{ name }}
    on {{ name }}.period_start = spine.period_start
    and {{ name }}.grouping_level = spine.grouping_level
    and {{ name }}.team = spine.team
    and {{ name }}.service = spine.service
{%- endfor %}
{%- endmacro %}
