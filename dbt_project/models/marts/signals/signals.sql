-- Early-warning signals per complete week, team and value stream: each row is one rule of the seed
-- signal_rules that fired, with the value, the limit it crossed, the values behind it and a
-- recommendation. Rules and their limits: docs/METRICS.md#signals.

{#- The columns of a fired signal, in order: every rule's CTE selects them so (they are unioned by position). -#}
{%- set signal_columns = [
    'week_start', 'team', 'value_stream', 'rule', 'metric', 'status_name', 'direction', 'value', 'limit_value',
    'evidence', 'evidence_values', 'severity', 'recommendation',
] %}

with metrics as (
    select * from {{ ref('int_signal_metrics_weekly') }}
),

enabled_rules as (
    select * from {{ ref('int_signal_team_rules') }} where enabled
),

status_shares as (
    select * from {{ ref('int_signal_status_waits_weekly') }}
),

-- trailing statistics: each week's value against mean and sigma of the same series over the previous N
-- weeks (bottleneck / status_share here; control_limits reads its band from signal_control_limits_weekly)
trailing_stats as (
    select * from {{ ref('int_signal_trailing_stats') }}
),

-- control_limits: the week's value outside mean +- k sigma of its previous N weeks

control_limits as (
    select
        bands.week_start,
        bands.team,
        bands.value_stream,
        'control_limits' as rule,
        bands.metric,
        null::varchar as status_name,
        bands.crossed as direction,
        bands.value,
        case bands.crossed when 'above' then bands.upper_limit else bands.lower_limit end as limit_value,
        {{ float_text(round_half_away('bands.value', 2)) }} || ' is ' || bands.crossed || ' its control limits '
            || {{ float_text(round_half_away('bands.lower_limit', 2)) }} || '..'
            || {{ float_text(round_half_away('bands.upper_limit', 2)) }}
            || ' (mean ' || {{ float_text(round_half_away('bands.mean', 2)) }} || ' ± '
            || {{ float_text('bands.threshold') }}
            || ' × sigma ' || {{ float_text(round_half_away('bands.sigma', 2)) }}
            || ' of the previous ' || bands.samples::varchar || ' weeks: '
            || array_to_string(
                {{ array_map('bands.previous_values', float_text(round_half_away('element', 2))) }}, ', '
            ) || ')'
            as evidence,
        bands.previous_values as evidence_values,
        rules.severity,
        rules.recommendation
    from {{ ref('signal_control_limits_weekly') }} as bands
    inner join enabled_rules as rules
        on rules.rule = 'control_limits' and rules.team = bands.team and rules.metric = bands.metric
    where bands.crossed is not null
),

-- wip_limit: items in progress at the week's end above the configured limit

wip_limit as (
    select
        metrics.week_start,
        metrics.team,
        metrics.value_stream,
        'wip_limit' as rule,
        'wip_items' as metric,
        null::varchar as status_name,
        'above' as direction,
        metrics.wip_items::float8 as value,
        rules.threshold as limit_value,
        metrics.wip_items::varchar || ' items in progress at the end of the week, limit '
            || {{ float_text('rules.threshold') }} || '; at the end of each day: '
            || array_to_string({{ array_map('metrics.wip_daily', 'element::bigint::varchar') }}, ', ')
            as evidence,
        metrics.wip_daily as evidence_values,
        rules.severity,
        rules.recommendation
    from metrics
    inner join enabled_rules as rules
        on rules.rule = 'wip_limit' and rules.metric = 'wip_items' and rules.team = metrics.team
    where metrics.wip_items > rules.threshold
),

-- efficiency_falling: flow efficiency lower than the week before, N weeks in a row

efficiency_drops as (
    select
        week_start,
        team,
        value_stream,
        flow_efficiency,
        -- lower by more than the last digits of a ratio of float sums, which depend on the order the
        -- warehouse added the items in (1.0 may come out as 0.9999999999999999)
        coalesce(
            flow_efficiency < lag(flow_efficiency) over (partition by team, value_stream order by week_start) - 1e-9,
            false
        ) as is_drop
    from metrics
),

efficiency_runs as (
    -- a week that is not a drop (or has no efficiency) starts a new run
    select
        *,
        sum(case when is_drop then 0 else 1 end)
            over (partition by team, value_stream order by week_start) as run_id
    from efficiency_drops
),

efficiency_streaks as (
    select
        *,
        row_number() over (partition by team, value_stream, run_id order by week_start) - 1 as drops_in_a_row,
        {{ array_of('flow_efficiency') }} over (
            partition by team, value_stream, run_id order by week_start
        ) as run_values
    from efficiency_runs
),

efficiency_falling as (
    select
        streaks.week_start,
        streaks.team,
        streaks.value_stream,
        'efficiency_falling' as rule,
        'flow_efficiency' as metric,
        null::varchar as status_name,
        'below' as direction,
        streaks.flow_efficiency as value,
        -- the week before (the run holds drops_in_a_row + 1 weeks)
        streaks.run_values[streaks.drops_in_a_row::integer] as limit_value,
        'flow efficiency fell ' || streaks.drops_in_a_row::varchar || ' weeks in a row: '
            || array_to_string({{ array_map('streaks.run_values', float_text(round_half_away('element', 2))) }}, ' -> ')
            as evidence,
        streaks.run_values as evidence_values,
        rules.severity,
        rules.recommendation
    from efficiency_streaks as streaks
    inner join enabled_rules as rules
        on rules.rule = 'efficiency_falling' and rules.metric = 'flow_efficiency' and rules.team = streaks.team
    where streaks.drops_in_a_row >= rules.window_weeks
),

-- cfr_spike: the week's change fail rate at least `threshold` above the previous N weeks' rate

{%- set cfr_keys = [
    'current_week.week_start', 'current_week.team', 'current_week.value_stream', 'current_week.change_failures',
    'current_week.deployment_attempts', 'current_week.change_failure_rate', 'rules.threshold', 'rules.window_weeks',
    'rules.severity', 'rules.recommendation',
] %}

cfr_weeks as (
    select
        {{ cfr_keys | join(',\n        ') }},
        sum(previous.change_failures)::bigint as baseline_failures,
        sum(previous.deployment_attempts)::bigint as baseline_attempts
    from metrics as current_week
    inner join enabled_rules as rules
        on rules.rule = 'cfr_spike' and rules.metric = 'change_failure_rate' and rules.team = current_week.team
    inner join metrics as previous
        on previous.team = current_week.team
        and previous.value_stream = current_week.value_stream
        and previous.week_start >= current_week.week_start - rules.window_weeks * 7
        and previous.week_start < current_week.week_start
    where current_week.deployment_attempts >= rules.min_samples
    group by {{ cfr_keys | join(', ') }}
),

cfr_spike as (
    select
        week_start,
        team,
        value_stream,
        'cfr_spike' as rule,
        'change_failure_rate' as metric,
        null::varchar as status_name,
        'above' as direction,
        change_failure_rate as value,
        baseline_failures / baseline_attempts::float8 + threshold as limit_value,
        change_failures::varchar || ' of ' || deployment_attempts::varchar || ' deployments were change failures ('
            || {{ float_text(round_half_away('100 * change_failure_rate')) }} || '%) against '
            || baseline_failures::varchar || ' of ' || baseline_attempts::varchar || ' ('
            || {{ float_text(round_half_away('100 * baseline_failures / baseline_attempts::float8')) }}
            || '%) over the previous ' || window_weeks::varchar || ' weeks'
            as evidence,
        array[change_failures, deployment_attempts, baseline_failures, baseline_attempts]::float8[] as evidence_values,
        severity,
        recommendation
    from cfr_weeks
    -- no attempts before: no baseline to spike from
    where baseline_attempts > 0
        and change_failure_rate >= baseline_failures / baseline_attempts::float8 + threshold
),

-- bottleneck: where items wait longest. `waiting_share`: the waiting status (a queue) holding the largest
-- share of the week's in-progress time; `status_share`: the status (waiting or active, e.g. a review
-- status mapped to active) whose share rose furthest above its own control limit

longest_waits as (
    select week_start, team, value_stream, status_name, item_hours, items, in_progress_hours, share
    from (
        select
            *,
            -- ties: the status name decides, so a rebuild picks the same one
            row_number() over (
                partition by week_start, team, value_stream order by item_hours desc nulls last, status_name
            ) as longest
        from status_shares
        where flow_state = 'waiting' and items > 0
    ) as ranked_waits
    where longest = 1
),

waiting_share as (
    select
        waits.week_start,
        waits.team,
        waits.value_stream,
        'bottleneck' as rule,
        'waiting_share' as metric,
        waits.status_name,
        'above' as direction,
        waits.share as value,
        rules.threshold as limit_value,
        {{ float_text(round_half_away('waits.item_hours', 1)) }} || ' of '
            || {{ float_text(round_half_away('waits.in_progress_hours', 1)) }} || ' in-progress item-hours ('
            || {{ float_text(round_half_away('100 * waits.share')) }} || '%) were spent waiting in '
            || waits.status_name || ' (' || waits.items::varchar || ' items)'
            as evidence,
        array[waits.item_hours, waits.in_progress_hours, waits.items]::float8[] as evidence_values,
        rules.severity,
        replace(rules.recommendation, '{status}', waits.status_name) as recommendation
    from longest_waits as waits
    inner join enabled_rules as rules
        on rules.rule = 'bottleneck' and rules.metric = 'waiting_share' and rules.team = waits.team
    where waits.share >= rules.threshold and waits.items >= rules.min_samples
),

status_share as (
    select {{ signal_columns | join(', ') }}
    from (
        select
            week_start,
            team,
            value_stream,
            'bottleneck' as rule,
            'status_share' as metric,
            status_name,
            'above' as direction,
            value,
            mean + threshold * sigma as limit_value,
            {{ float_text(round_half_away('100 * value')) }} || '% of the in-progress item-hours were in '
                || status_name || ' (' || items::varchar || ' items); its control limit is '
                || {{ float_text(round_half_away('100 * (mean + threshold * sigma)')) }} || '% (mean '
                || {{ float_text(round_half_away('100 * mean')) }} || '% ± ' || {{ float_text('threshold') }}
                || ' × sigma ' || {{ float_text(round_half_away('100 * sigma')) }} || '% of the previous '
                || samples::varchar || ' weeks: '
                || array_to_string(
                    {{ array_map('history', float_text(round_half_away('100 * element')) ~ " || '%'") }}, ', '
                )
                || ')' as evidence,
            history as evidence_values,
            severity,
            replace(recommendation, '{status}', status_name) as recommendation,
            -- one status per week: the one furthest above its limit
            row_number() over (
                partition by week_start, team, value_stream
                order by value - (mean + threshold * sigma) desc nulls last, status_name
            ) as furthest
        from trailing_stats
        -- a status needs half the window of history, and enough items in it this week to be more than one stuck item
        where rule = 'bottleneck'
            and samples * 2 >= window_weeks
            and items >= min_samples
            and value > mean + threshold * sigma
    ) as ranked_statuses
    where furthest = 1
),

-- forecast_slip: a team's delivery forecasts whose p85 completion date lies past their target, in the as-of
-- date's week; a p85 beyond the horizon counts from the horizon's end (docs/METRICS.md#delivery-forecasts)

forecast_slips as (
    select
        forecasts.*,
        ({{ days_between_dates('forecasts.target_date', "coalesce(forecasts.p85_completion_date, forecasts.as_of_date + 7 * "
            ~ (var('forecast_horizon_weeks') | int) ~ ")") }})::float8 as days_late
    from {{ ref('delivery_forecasts') }} as forecasts
    -- a subject with nothing left has nothing to slip, even when it is closed after its target
    where forecasts.is_p85_past_target and forecasts.remaining_items > 0
),

forecast_slip as (
    select
        date_trunc('week', max(slips.as_of_date))::date as week_start,
        slips.team,
        slips.value_stream,
        'forecast_slip' as rule,
        'p85_days_past_target' as metric,
        null::varchar as status_name,
        'above' as direction,
        max(slips.days_late) as value,
        max(rules.threshold) as limit_value,
        'forecasts past their target at p85 (' || count(*)::varchar || '): ' || string_agg(
            -- an issue key names it; an opaque id (Linear's uuids, longer than any issue key) does not: its name does
            case
                when length(slips.subject_key) <= 16 or slips.subject_name is null then slips.subject_key
                else '"' || slips.subject_name || '"'
            end || ' (' || slips.subject_type || ') p85 '
                || coalesce(slips.p85_completion_date::varchar, 'beyond the horizon') || ', target '
                || slips.target_date::varchar || ', '
                || ({{ round_half_away('100 * slips.target_probability') }})::bigint::varchar || '% by then',
            '; ' order by slips.days_late desc, slips.subject_id
        ) as evidence,
        {{ array_of('slips.days_late', 'slips.days_late desc, slips.subject_id') }} as evidence_values,
        max(rules.severity) as severity,
        max(rules.recommendation) as recommendation
    from forecast_slips as slips
    inner join enabled_rules as rules
        on rules.rule = 'forecast_slip' and rules.metric = 'p85_days_past_target' and rules.team = slips.team
    where slips.days_late > rules.threshold
    group by slips.team, slips.value_stream
)

select
    {%- for column in signal_columns %}
    {{ column }}{{ ' as "limit"' if column == 'limit_value' }}{{ ',' if not loop.last }}
    {%- endfor %}
from (
    -- every rule's CTE has the same columns in the same order (signal_columns)
    select * from control_limits
    union all select * from wip_limit
    union all select * from efficiency_falling
    union all select * from cfr_spike
    union all select * from waiting_share
    union all select * from status_share
    union all select * from forecast_slip
) as fired
