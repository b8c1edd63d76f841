-- Each monthly DORA metric rated against every report year of the seed dora_benchmarks.
-- Definitions: docs/METRICS.md#performance-tiers.

{%- set metric_columns = {
    'deployment_frequency': 'deployments_per_day',
    'change_lead_time': 'lead_time_p50_hours',
    'change_failure_rate': 'change_failure_rate',
    'failed_deployment_recovery_time': 'recovery_time_p50_hours',
} %}

with metric_values as (
    -- one row per metric with a value (an unpivot)
    {%- for metric, column in metric_columns.items() %}
    select period_start, grouping_level, team, service, '{{ metric }}' as metric, {{ column }} as value
    from {{ ref('dora_metrics_monthly') }}
    where {{ column }} is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

distances as (
    select
        metric_values.*,
        benchmarks.report_year,
        benchmarks.unit,
        benchmarks.tier,
        benchmarks.tier_rank,
        benchmarks.benchmark,
        benchmarks.benchmark_kind,
        benchmarks.benchmark_source,
        metric_values.value >= coalesce(benchmarks.lower_bound, '-infinity'::float8)
            and metric_values.value <= coalesce(benchmarks.upper_bound, 'infinity'::float8) as is_within_range,
        case
            when metric_values.value < benchmarks.lower_bound then
                case when benchmarks.unit = 'ratio' then benchmarks.lower_bound - metric_values.value
                    -- times and frequencies span orders of magnitude: compare ratios, not differences
                    else ln(greatest(benchmarks.lower_bound, 1e-6) / greatest(metric_values.value, 1e-6)) end
            when metric_values.value > benchmarks.upper_bound then
                case when benchmarks.unit = 'ratio' then metric_values.value - benchmarks.upper_bound
                    else ln(greatest(metric_values.value, 1e-6) / greatest(benchmarks.upper_bound, 1e-6)) end
            else 0.0
        end as distance
    from metric_values
    inner join {{ ref('dora_benchmarks') }} as benchmarks
        on benchmarks.metric = metric_values.metric
    where metric_values.value is not null
)

select distinct on (period_start, grouping_level, team, service, report_year, metric)
    period_start,
    grouping_level,
    team,
    service,
    report_year,
    metric,
    value,
    unit,
    tier,
    tier_rank,
    is_within_range,
    benchmark,
    benchmark_kind,
    benchmark_source
from distances
order by period_start, grouping_level, team, service, report_year, metric, distance, tier_rank
