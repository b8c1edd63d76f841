-- Each forecast team's completed flow items per week over the sampling window (docs/METRICS.md#delivery-forecasts):
-- the last `forecast_window_weeks` complete calendar weeks (Monday to Sunday, UTC) before the as-of date's week,
-- a row for every week (0 when nothing was completed) and every team that owns a forecast or completed work.
-- Aggregated per team and week here, so the simulation never touches an item.
{%- set window_weeks = var('forecast_window_weeks') | int %}
{%- if window_weeks < 1 %}
    {{ exceptions.raise_compiler_error("var forecast_window_weeks must be at least 1 (dbt_project.yml), got " ~ window_weeks) }}
{%- endif %}

with as_of as (
    select
        as_of_date,
        date_trunc('week', as_of_date)::date - {{ window_weeks * 7 }} as window_start,
        date_trunc('week', as_of_date)::date as window_end
    from (select {{ forecast_as_of_date() }} as as_of_date) as pinned
),

completions as (
    select
        items.team,
        date_trunc('week', items.completed_at)::date as week_start,
        count(*) as completed_items
    from {{ ref('work_items') }} as items
    cross join as_of
    where items.is_flow_item
        and items.completed_at >= as_of.window_start
        and items.completed_at < as_of.window_end
    group by items.team, date_trunc('week', items.completed_at)::date
),

teams as (
    select team from {{ ref('int_forecast_subjects') }}
    union
    select team from completions
),

weeks as (
    select
        window_index,
        (as_of.window_start + 7 * window_index::integer)::date as week_start,
        as_of.as_of_date
    from (select {{ integer_series_rows(0, window_weeks - 1) }} as window_index) as indexes
    cross join as_of
)

select
    teams.team,
    weeks.window_index,
    weeks.week_start,
    coalesce(completions.completed_items, 0)::bigint as completed_items,
    weeks.as_of_date
from teams
cross join weeks
left join completions
    on completions.team = teams.team
    and completions.week_start = weeks.week_start
