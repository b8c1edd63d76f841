-- Today's delivery forecasts (docs/METRICS.md#delivery-forecasts): per open epic and initiative, active sprint and
-- key result with a deadline, when it finishes at p50 / p85 / p95 of the Monte Carlo trials over its team's
-- recent throughput, and the chance it finishes by its target date. A percentile beyond the horizon has no date.
{%- set trials = var('forecast_trials') | int %}
{%- set window_weeks = var('forecast_window_weeks') | int %}
{%- set percentiles = [50, 85, 95] %}

with as_of as (
    select max(as_of_date) as as_of_date from {{ ref('int_forecast_throughput_weekly') }}
),

windows as (
    select team, sum(completed_items) as window_completed_items
    from {{ ref('int_forecast_throughput_weekly') }}
    group by team
),

subjects as (
    select subjects.*, as_of.as_of_date
    from {{ ref('int_forecast_subjects') }} as subjects
    cross join as_of
),

distribution as (
    -- each week's finished trials and those finished by its end; completion_week NULL: beyond the horizon
    select
        team,
        remaining_items,
        completion_week,
        trials,
        sum(trials) over (
            partition by team, remaining_items order by completion_week rows between unbounded preceding and current row
        ) as trials_done
    from {{ ref('int_forecast_completion_weeks') }}
    where completion_week is not null
),

simulated as (
    select
        subjects.subject_id,
        {%- for p in percentiles %}
        -- the first week by which p% of the trials finished (the discrete percentile)
        min(distribution.completion_week) filter (where distribution.trials_done * 100 >= {{ p }} * {{ trials }})
            as p{{ p }}_weeks,
        {%- endfor %}
        coalesce(sum(distribution.trials), 0) as trials_within_horizon,
        coalesce(sum(distribution.trials) filter (
            where subjects.as_of_date + 7 * distribution.completion_week <= subjects.target_date
        ), 0) as trials_by_target
    from subjects
    left join distribution
        on distribution.team = subjects.team
        and distribution.remaining_items = subjects.remaining_items
    where subjects.remaining_items > 0
    group by subjects.subject_id
),

forecasts as (
    -- nothing left: done this week in every trial
    select
        subjects.*,
        {%- for p in percentiles %}
        case when subjects.remaining_items = 0 then 0 else simulated.p{{ p }}_weeks end as p{{ p }}_weeks,
        {%- endfor %}
        case when subjects.remaining_items = 0 then {{ trials }} else simulated.trials_within_horizon end
            as trials_within_horizon,
        case
            when subjects.remaining_items = 0 then case when subjects.as_of_date <= subjects.target_date then {{ trials }} else 0 end
            else simulated.trials_by_target
        end as trials_by_target
    from subjects
    left join simulated on simulated.subject_id = subjects.subject_id
)

select
    forecasts.as_of_date,
    forecasts.subject_type,
    forecasts.subject_id,
    forecasts.subject_key,
    forecasts.subject_name,
    forecasts.initiative_key,
    forecasts.team,
    forecasts.value_stream,
    forecasts.remaining_items,
    forecasts.has_default_items,
    forecasts.target_date,
    forecasts.target_kind,
    {{ trials }}::integer as trials,
    {{ window_weeks }}::integer as window_weeks,
    coalesce(windows.window_completed_items, 0)::bigint as window_completed_items,
    {%- for p in percentiles %}
    forecasts.p{{ p }}_weeks::integer as p{{ p }}_weeks,
    (forecasts.as_of_date + 7 * forecasts.p{{ p }}_weeks::integer)::date as p{{ p }}_completion_date,
    {%- endfor %}
    forecasts.trials_within_horizon::float8 / {{ trials }} as within_horizon_probability,
    case when forecasts.target_date is not null then forecasts.trials_by_target::float8 / {{ trials }} end
        as target_probability,
    -- past the target also when p85 lies beyond the horizon
    case
        when forecasts.target_date is not null
            then coalesce(forecasts.as_of_date + 7 * forecasts.p85_weeks::integer > forecasts.target_date, true)
    end as is_p85_past_target
from forecasts
left join windows on windows.team = forecasts.team
