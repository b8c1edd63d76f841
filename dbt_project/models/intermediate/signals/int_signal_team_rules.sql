-- The signal rules each team is judged by (docs/METRICS.md#signals): every rule and metric of the seed
-- signal_rules once per team of the weekly series, the team's own row where it has one, else the `*` row.

select team, rule, metric, enabled, threshold, window_weeks, min_samples, direction, severity, recommendation
from (
    select
        teams.team,
        rules.rule,
        rules.metric,
        rules.enabled,
        rules.threshold,
        rules.window_weeks,
        rules.min_samples,
        rules.direction,
        rules.severity,
        rules.recommendation,
        row_number() over (
            partition by teams.team, rules.rule, rules.metric order by rules.team = '*'
        ) as preference
    from (select distinct team from {{ ref('int_signal_metrics_weekly') }}) as teams
    inner join {{ ref('signal_rules') }} as rules on rules.team in (teams.team, '*')
) as ranked_rules
where preference = 1
