{#
  An issue is an incident when one of its labels is in the var `github_incident_labels` (default
  ["incident"]), compared case-insensitively. Set it in dbt_project.yml or per run with --vars.
#}
{%- set incident_labels = var('github_incident_labels', ['incident']) -%}
{%- if incident_labels is string -%}{%- set incident_labels = [incident_labels] -%}{%- endif -%}
{%- set incident_label_array -%}
    array[
    {%- for name in incident_labels -%}
        '{{ name | lower | replace("'", "''") }}'{{ "," if not loop.last }}
    {%- endfor -%}
    ]::varchar[]
{%- endset %}

with source as (
    select * from {{ source('raw', 'github__issues') }}
),

labelled as (
    select
        *,
        coalesce(
            {{ array_map(json_wildcard_texts('payload', 'labels', 'name'), 'lower(element)') }},
            array[]::varchar[]
        ) as label_names_lower,
        coalesce({{ json_wildcard_texts('payload', 'labels', 'name') }}, array[]::varchar[]) as label_names
    from source
)

select
    record_key as issue_id,
    source_instance,
    coalesce(scope, {{ regex_extract(json_text('payload', 'repository_url'), "'/repos/([^/]+/[^/]+)$'", 1) }}) as repo,
    ({{ json_text('payload', 'number') }})::integer as issue_number,
    {{ json_text('payload', 'title') }} as title,
    {{ json_text('payload', 'body') }} as body,
    {{ json_text('payload', 'html_url') }} as url,
    {{ json_text('payload', 'state') }} as state,
    {{ json_text('payload', 'state_reason') }} as state_reason,
    {{ json_text('payload', 'user.login') }} as author,
    label_names as labels,
    {{ arrays_overlap('label_names_lower', incident_label_array) }} as is_incident,
    {{ to_utc_timestamp(json_text('payload', 'created_at')) }} as created_at,
    {{ to_utc_timestamp(json_text('payload', 'updated_at')) }} as updated_at,
    {{ to_utc_timestamp(json_text('payload', 'closed_at')) }} as closed_at,
    extracted_at
from labelled
