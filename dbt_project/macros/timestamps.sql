{#
  API timestamps carry their own offset: Jira writes `2026-01-05T09:00:00.000+0000` (or the user's
  zone, e.g. `+0800`), GitHub writes `2026-01-05T09:00:00Z`. A plain cast to TIMESTAMP would drop
  the offset and keep the local wall-clock time, so parse as TIMESTAMPTZ first and take the UTC
  wall-clock time of that instant. Unparseable text becomes NULL; the not_null tests on the
  staging models catch it instead of one bad row failing the whole view.
#}
{% macro to_utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('to_utc_timestamp', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__to_utc_timestamp(expression) -%}{{ throughline.not_ported('to_utc_timestamp') }}{%- endmacro %}
{% macro duckdb__to_utc_timestamp(expression) -%}
    timezone('UTC', try_cast({{ expression }} as timestamptz))
{%- endmacro %}
{% macro postgres__to_utc_timestamp(expression) -%}
    ({{ throughline.try_cast(expression, 'timestamptz') }} at time zone 'UTC')
{%- endmacro %}

{#
  Durations are kept in whole microseconds (microseconds_between, macros/portable/signals.sql) while they are
  summed and compared, and turned into hours only at the end: sums of fractional hours drift by a few
  ulps, which made an efficiency of 1.0000000000000002 and a waiting time of -1e-14
  (docs/METRICS.md#active-and-waiting-time).
#}
{# Fractional hours of a whole number of microseconds. #}
{% macro microseconds_to_hours(expression) -%}
    (({{ expression }}) / 3600000000.0)::float8
{%- endmacro %}

{# Fractional hours between two timestamps, NULL when either end is NULL. #}
{% macro hours_between(start_expression, end_expression) -%}
    {{ microseconds_to_hours(microseconds_between(start_expression, end_expression)) }}
{%- endmacro %}

{#- Hours from start to end when they are in order; NULL when either is unknown or they are out of order
    (docs/METRICS.md: a stage whose ends are out of order is NULL, never negative). -#}
{% macro ordered_hours_between(start_expression, end_expression) -%}
    case when {{ end_expression }} >= {{ start_expression }}
        then {{ hours_between(start_expression, end_expression) }}
    end
{%- endmacro %}

{#
  How far each stream's data is complete (docs/METRICS.md#source-coverage): a select of source_type,
  source_instance, stream, data_complete_to from the run report. A read that succeeded has every change made
  before it started (later ones wait for the next run), so a scope of a stream is complete to the start of
  its newest successful read; the stream to the oldest of those over the scopes of its latest round (scopes
  read within a day of its newest read: a scope dropped from the config no longer holds it back), NULL while
  one of them never succeeded. A failed read moves nothing; history loads (run ids `history-...`) read one
  window at a time and count only once a regular run has read the stream.
#}
{% macro stream_data_complete_to() -%}
select
    source_type,
    source_instance,
    stream,
    case when count(scope_complete_to) = count(*) then min(scope_complete_to) end as data_complete_to
from (
    select
        source_type,
        source_instance,
        stream,
        coalesce(scope, '') as scope,
        max(started_at) filter (where status = 'success') as scope_complete_to,
        max(started_at) as scope_read_at,
        max(max(started_at)) over (partition by source_instance, stream) as stream_read_at
    from {{ ref('stg_ops__stream_runs') }}
    where stream <> '*' and run_id not like 'history-%'
    group by source_type, source_instance, stream, coalesce(scope, '')
) as scopes
where scope_read_at >= stream_read_at - interval '1 day'
group by source_type, source_instance, stream
{%- endmacro %}

{#
  The time the data of `stream` (a raw table, e.g. 'jira__issues') is complete to over all its source
  instances: the earliest instance's (stream_data_complete_to), NULL while an instance has never read it
  successfully; `fallback` (SQL) when the run report has no read of it at all (raw tables loaded by other
  means). A scalar subquery.
#}
{% macro data_complete_to(stream, fallback) -%}
    (select
        case
            when count(*) = 0 then {{ fallback }}
            when count(data_complete_to) = count(*) then min(data_complete_to)
        end
    from ({{ stream_data_complete_to() }}) as streams
    where streams.stream = '{{ stream }}')
{%- endmacro %}
