-- The Monte Carlo simulation of the delivery forecasts (docs/METRICS.md#delivery-forecasts): for each team and
-- each number of remaining items one of its forecasts needs, how many of the trials finish in each future week.
-- Trial t's week w takes the throughput of window week md5(seed|team|t|w) mod window length: the same sample
-- on DuckDB and PostgreSQL (md5_integer). A trial finishes in the first week its cumulative sampled throughput
-- reaches the remaining items; one that does not within the horizon has completion_week NULL.
-- Cost: teams x trials x horizon weeks sampled, never per item; subjects needing the same count share the result.
{%- set trials = var('forecast_trials') | int %}
{%- set horizon = var('forecast_horizon_weeks') | int %}
{%- set window_weeks = var('forecast_window_weeks') | int %}
{%- set seed = var('forecast_seed') | string %}
{%- if trials < 1 or horizon < 1 %}
    {{ exceptions.raise_compiler_error("vars forecast_trials and forecast_horizon_weeks must be at least 1 (dbt_project.yml), got " ~ trials ~ " and " ~ horizon) }}
{%- endif %}

with needs as (
    -- a subject with nothing left is done in week 0 without simulation (delivery_forecasts)
    select distinct team, remaining_items
    from {{ ref('int_forecast_subjects') }}
    where remaining_items > 0
),

team_needs as (
    select team, max(remaining_items) as most_remaining from needs group by team
),

trials as (
    select {{ integer_series_rows(1, trials) }} as trial
),

future_weeks as (
    select {{ integer_series_rows(1, horizon) }} as week
),

samples as (
    select
        team_needs.team,
        team_needs.most_remaining,
        trials.trial,
        future_weeks.week,
        {{ md5_integer("'" ~ seed | replace("'", "''") ~ "|' || team_needs.team || '|' || trials.trial::varchar || '|' || future_weeks.week::varchar") }}
            % {{ window_weeks }} as window_index
    from team_needs
    cross join trials
    cross join future_weeks
),

cumulative as (
    select
        samples.team,
        samples.most_remaining,
        samples.trial,
        samples.week,
        throughput.completed_items,
        sum(throughput.completed_items) over (
            partition by samples.team, samples.trial order by samples.week rows between unbounded preceding and current row
        ) as done_items
    from samples
    inner join {{ ref('int_forecast_throughput_weekly') }} as throughput
        on throughput.team = samples.team
        and throughput.window_index = samples.window_index
),

finishing_weeks as (
    -- only the weeks in which some forecast of the team can finish: those that begin short of its largest need
    select team, trial, week, done_items - completed_items as done_before, done_items
    from cumulative
    where done_items - completed_items < most_remaining and completed_items > 0
),

finished as (
    -- exactly one week per trial crosses each need: it began short of it and ended at or above it
    select needs.team, needs.remaining_items, finishing_weeks.trial, finishing_weeks.week as completion_week
    from needs
    inner join finishing_weeks
        on finishing_weeks.team = needs.team
        and finishing_weeks.done_before < needs.remaining_items
        and finishing_weeks.done_items >= needs.remaining_items
)

select
    needs.team,
    needs.remaining_items,
    finished.completion_week::integer as completion_week,
    count(*) as trials
from needs
cross join trials
left join finished
    on finished.team = needs.team
    and finished.remaining_items = needs.remaining_items
    and finished.trial = trials.trial
group by needs.team, needs.remaining_items, finished.completion_week
