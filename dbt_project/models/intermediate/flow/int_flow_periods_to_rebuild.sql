-- The days and weeks an incremental build recomputes in full in the period-partitioned flow models
-- (docs/OPERATIONS.md#incremental-builds): int_flow_load_daily deletes and recomputes the days listed here,
-- int_signal_status_weeks the weeks. A period is listed when it is at or after the last period the previous
-- build holds: the as-of time moved, so open intervals reach further and weeks become complete, which touches
-- items that were not rebuilt. Every earlier period is updated by the rebuilt items' contributions only
-- (macros/flow_periods.sql): an interval counts in an earlier period the same at any later as-of time.
-- The consumers are read without ref(): it is their previous build's last period that is wanted. A full
-- build does not read this model.

{%- set period_models = flow_period_models() %}
{%- set built_days = period_models['built']['day'] %}
{%- set built_weeks = period_models['built']['week_start'] %}
{#- an empty previous build (no work in progress, or no complete week yet) recomputes every period from the
    first step into waiting or active on #}
{%- set before_any_work %}(
    select min(started_at)::date from {{ ref('work_item_state_intervals') }} where flow_state in ('waiting', 'active')
){% endset %}
{#- The fallback scans every state interval (0.4 s at 1M issues): compiled in only for a consumer whose previous
    build holds no period, as the database would compute both arguments of a coalesce anyway. #}
{%- set last_periods = {} %}
{%- for relation, column in [(built_days, 'day'), (built_weeks, 'week_start')] if relation %}
    {%- set holds_none = execute and run_query(
        'select count(*) from (select 1 from ' ~ relation ~ ' where ' ~ column ~ ' is not null limit 1) as any_period'
    ).columns[0].values()[0] == 0 %}
    {%- do last_periods.update({column: before_any_work if holds_none
        else '(select max(' ~ column ~ ') from ' ~ relation ~ ')'}) %}
{%- endfor %}

with as_of as (
    select {{ flow_as_of() }} as as_of_at
),

days as (
    {%- if built_days %}
    select {{ timestamp_series_rows(
        last_periods['day'],
        'as_of_at::date',
        "interval '1 day'"
    ) }}::date as period_start
    from as_of
    {%- else %}
    select cast(null as date) as period_start where false
    {%- endif %}
),

weeks as (
    {%- if built_weeks %}
    select {{ timestamp_series_rows(
        "date_trunc('week', " ~ last_periods['week_start'] ~ "::timestamp)",
        "date_trunc('week', as_of_at)",
        "interval '1 week'"
    ) }}::date as period_start
    from as_of
    {%- else %}
    select cast(null as date) as period_start where false
    {%- endif %}
)

{#- a first or full build of the consumers reads nothing here: list nothing rather than every period #}
select distinct 'day' as grain, period_start from days{% if not period_models['incremental'] %} where false{% endif %}
union all
select distinct 'week' as grain, period_start from weeks{% if not period_models['incremental'] %} where false{% endif %}
