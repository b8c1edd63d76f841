-- Each monthly DORA metric rated against every report year of the seed dora_benchmarks.
-- Definitions: docs/METRICS.md#performance-tiers.

with metric_values as (
    unpivot (
        select
            period_start, grouping_level, team, service,
            deployments_per_day as deployment_frequency,
            lead_time_p50_hours as change_lead_time,
            change_failure_rate,
            recovery_time_p50_hours as failed_deployment_recovery_time
        from {{ ref('dora_metrics_monthly') }}
    )
    on deployment_frequency, change_lead_time, change_failure_rate, failed_deployment_recovery_time
    into name metric value value
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
        metric_values.value >= coalesce(benchmarks.lower_bound, '-infinity'::double)
            and metric_values.value <= coalesce(benchmarks.upper_bound, 'infinity'::double) as is_within_range,
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
