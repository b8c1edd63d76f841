-- Each watched weekly series against its own previous N weeks (docs/METRICS.md#signals): for the rules
-- `control_limits` (the metrics of int_signal_metrics_weekly) and `bottleneck` / `status_share` (each
-- status's share of the week's in-progress time), the week's value with the mean, sample sigma and count of
-- the same series' values in the N weeks before it (weeks without a value do not count).

with metrics as (
    select * from {{ ref('int_signal_metrics_weekly') }}
),

series as (
    -- one row per week and metric with a value
    {%- for metric in ['flow_velocity', 'flow_time_p85_hours', 'flow_efficiency', 'wip_items',
                       'change_lead_time_p50_hours', 'deployments', 'change_failure_rate'] %}
    {% if not loop.first %}union all {% endif -%}
    select week_start, team, value_stream, '{{ metric }}'::varchar as metric, {{ metric }}::float8 as value
    from metrics
    where {{ metric }} is not null
    {%- endfor %}
),

all_series as (
    select week_start, team, value_stream, metric, null::varchar as status_name, value, null::bigint as items
    from series
    union all
    select week_start, team, value_stream, 'status_share', status_name, sum(share), sum(items)::bigint
    from {{ ref('int_signal_status_waits_weekly') }}
    group by week_start, team, value_stream, status_name
)

{#- the week and rule a trailing window is grouped by (selected and grouped alike) -#}
{%- set trailing_keys = [
    'current_week.week_start', 'current_week.team', 'current_week.value_stream', 'current_week.metric',
    'current_week.status_name', 'current_week.value', 'current_week.items', 'rules.rule', 'rules.threshold',
    'rules.window_weeks', 'rules.min_samples', 'rules.direction', 'rules.severity', 'rules.recommendation',
] %}

select
    {{ trailing_keys | join(',\n    ') }},
    -- in week order: the same weeks give the same last digits on every build
    {{ ordered_aggregate('avg', 'previous.value', 'previous.week_start') }} as mean,
    {{ ordered_aggregate('stddev_samp', 'previous.value', 'previous.week_start') }} as sigma,
    count(previous.value) as samples,
    {{ array_of('previous.value', 'previous.week_start') }} as history
from all_series as current_week
inner join {{ ref('int_signal_team_rules') }} as rules
    on rules.enabled
    and rules.rule in ('control_limits', 'bottleneck')
    and rules.team = current_week.team
    and rules.metric = current_week.metric
inner join all_series as previous
    on previous.team = current_week.team
    and previous.value_stream = current_week.value_stream
    and previous.metric = current_week.metric
    and previous.status_name is not distinct from current_week.status_name
    and previous.week_start >= current_week.week_start - rules.window_weeks * 7
    and previous.week_start < current_week.week_start
group by {{ trailing_keys | join(', ') }}
