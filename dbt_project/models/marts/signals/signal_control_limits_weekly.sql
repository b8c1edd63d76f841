-- The control limits of every watched weekly metric, week by week (docs/METRICS.md#signals, rule
-- control_limits): what the signals' trend charts draw as a band. A week the value lies outside on a
-- watched side is a `control_limits` signal in marts.signals, which reads its rows from here.

with bounds as (
    select
        week_start,
        team,
        value_stream,
        metric,
        value,
        mean,
        sigma,
        samples::bigint as samples,
        threshold,
        -- every watched metric is a count, a duration or a share, none of which can fall below 0: a lower
        -- limit under 0 would be a limit no week can cross, so it is clamped at 0
        greatest(mean - threshold * sigma, 0) as lower_limit,
        mean + threshold * sigma as upper_limit,
        direction as watched_direction,
        history as previous_values
    from {{ ref('int_signal_trailing_stats') }}
    where rule = 'control_limits' and samples >= min_samples
)

select
    *,
    case
        when watched_direction in ('above', 'both') and value > upper_limit then 'above'
        when watched_direction in ('below', 'both') and value < lower_limit then 'below'
    end as crossed
from bounds
