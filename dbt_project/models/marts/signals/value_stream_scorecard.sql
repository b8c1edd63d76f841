-- The value stream scorecard: per calendar month (UTC) and value stream, the flow, DORA, team and
-- realization layers side by side. Definitions: docs/METRICS.md#value-stream-scorecard.
-- Counts are added up over the value stream's teams and rates recomputed from the summed counts;
-- percentiles cannot be added up, so they are recomputed from the item, pull request, deployment and epic
-- rows of the marts (the same rows the flow and DORA marts count).

with team_streams as (
    select team, value_stream from {{ ref('team_value_streams') }}
),

-- flow -----------------------------------------------------------------------------------------------

flow_counts as (
    select
        month_start,
        value_stream,
        sum(flow_velocity) as flow_velocity,
        coalesce(sum(flow_velocity) filter (where flow_item_type = 'feature'), 0) as feature_items,
        coalesce(sum(flow_velocity) filter (where flow_item_type = 'defect'), 0) as defect_items,
        coalesce(sum(flow_velocity) filter (where flow_item_type = 'risk'), 0) as risk_items,
        coalesce(sum(flow_velocity) filter (where flow_item_type = 'debt'), 0) as debt_items
    from {{ ref('flow_metrics_monthly') }}
    -- the team and flow item type rows only: the rollup levels count the same items again
    where grouping_level = 'team_type'
    group by month_start, value_stream
),

flow_times as (
    {{ completed_flow_times('month', ['value_stream']) }}
),

flow_load as (
    select
        date_trunc('month', day::timestamp)::date as month_start,
        value_stream,
        avg(wip_items)::float8 as flow_load_avg
    from (
        select day, value_stream, sum(wip_items) as wip_items
        from {{ ref('flow_load_daily') }}
        group by day, value_stream
    ) as daily_load
    group by date_trunc('month', day::timestamp)::date, value_stream
),

-- DORA: the team rows of dora_metrics_monthly, each team in its value stream ----------------------------

dora_counts as (
    select
        dora.period_start as month_start,
        coalesce(team_streams.value_stream, 'unassigned') as value_stream,
        sum(dora.deployments) as deployments,
        sum(dora.deployment_attempts) as deployment_attempts,
        sum(dora.change_failures) as change_failures,
        sum(dora.rework_deployments) as rework_deployments
    from {{ ref('dora_metrics_monthly') }} as dora
    left join team_streams on team_streams.team = dora.team
    where dora.grouping_level = 'team'
    group by 1, 2
),

lead_times as (
    select
        date_trunc('month', changes.first_deployed_at)::date as month_start,
        coalesce(team_streams.value_stream, 'unassigned') as value_stream,
        {{ percentile_cont('changes.lead_time_hours', 0.5) }} as change_lead_time_p50_hours
    from {{ ref('pull_request_cycle_times') }} as changes
    left join team_streams on team_streams.team = changes.team
    where changes.first_deployed_at is not null and changes.lead_time_hours is not null
    group by 1, 2
),

recoveries as (
    select
        date_trunc('month', deployments.failure_started_at)::date as month_start,
        coalesce(team_streams.value_stream, 'unassigned') as value_stream,
        {{ percentile_cont('deployments.recovery_hours', 0.5) }} as recovery_time_p50_hours
    from {{ ref('deployments') }} as deployments
    left join team_streams on team_streams.team = deployments.team
    where deployments.is_change_failure and deployments.failure_started_at is not null
    group by 1, 2
),

-- team: survey scores on a 0..1 scale, weighted by respondents ----------------------------------------

surveys as (
    select
        date_trunc('month', surveys.surveyed_on)::date as month_start,
        coalesce(surveys.value_stream, team_streams.value_stream, 'unassigned') as value_stream,
        (surveys.score - surveys.scale_min) / nullif(surveys.scale_max - surveys.scale_min, 0) as normalized_score,
        -- a row that does not say how many answered weighs as one answer
        coalesce(surveys.respondents, 1) as weight,
        surveys.respondents
    from {{ ref('stg_outcomes__survey_results') }} as surveys
    left join team_streams on team_streams.team = surveys.team
),

survey_scores as (
    select
        month_start,
        value_stream,
        sum(normalized_score * weight) / nullif(sum(weight) filter (where normalized_score is not null), 0)
            as survey_score,
        sum(respondents) as survey_respondents
    from surveys
    group by month_start, value_stream
),

-- realization ----------------------------------------------------------------------------------------

shipped_epics as (
    select
        shipped_month as month_start,
        value_stream,
        count(*) as epics_shipped,
        {{ percentile_cont('time_to_market_hours', 0.5) }} as time_to_market_p50_hours
    from {{ ref('epics') }}
    where shipped_month is not null
    group by shipped_month, value_stream
),

kpi_movements as (
    -- epics only: an initiative's row repeats its epics' shipments
    select
        date_trunc('month', links.first_shipped_at)::date as month_start,
        links.value_stream,
        count(*) as kpi_links_measured,
        avg(
            case when sign(links.kpi_change) = sign(key_results.target - key_results.baseline) then 1.0 else 0.0 end
        )::float8 as kpi_towards_target_share
    from {{ ref('outcome_links') }} as links
    inner join {{ ref('stg_outcomes__key_results') }} as key_results
        on key_results.source_instance = links.key_result_source_instance
        and key_results.key_result_id = links.key_result_id
    where links.work_level = 'epic' and links.kpi_change is not null
    group by 1, 2
),

key_result_months as (
    -- each key result as it stood in the last week starting in the month
    select month_start, value_stream, attainment, expected_attainment
    from (
        select
            date_trunc('month', progress.week_start::timestamp)::date as month_start,
            coalesce(progress.value_stream, team_streams.value_stream, 'unassigned') as value_stream,
            progress.attainment,
            progress.expected_attainment,
            row_number() over (
                partition by progress.source_instance, progress.key_result_id,
                    date_trunc('month', progress.week_start::timestamp)
                order by progress.week_start desc nulls last
            ) as latest
        from {{ ref('okr_progress') }} as progress
        left join team_streams on team_streams.team = progress.team
    ) as ranked_progress
    where latest = 1
),

key_result_attainment as (
    select
        month_start,
        value_stream,
        count(attainment) as key_results_measured,
        avg(attainment) as key_result_attainment_avg,
        count(*) filter (where attainment < expected_attainment) as key_results_behind_plan
    from key_result_months
    group by month_start, value_stream
),

axis as (
    select month_start, value_stream from flow_counts
    union select month_start, value_stream from dora_counts
    union select month_start, value_stream from lead_times
    union select month_start, value_stream from recoveries
    union select month_start, value_stream from survey_scores
    union select month_start, value_stream from shipped_epics
    union select month_start, value_stream from kpi_movements
    union select month_start, value_stream from key_result_attainment
)

select
    axis.month_start,
    axis.value_stream,
    coalesce(flow_counts.flow_velocity, 0)::bigint as flow_velocity,
    flow_times.flow_time_p85_hours,
    flow_times.flow_efficiency,
    coalesce(flow_load.flow_load_avg, 0) as flow_load_avg,
    flow_counts.feature_items / nullif(flow_counts.flow_velocity, 0)::float8 as feature_share,
    flow_counts.defect_items / nullif(flow_counts.flow_velocity, 0)::float8 as defect_share,
    flow_counts.risk_items / nullif(flow_counts.flow_velocity, 0)::float8 as risk_share,
    flow_counts.debt_items / nullif(flow_counts.flow_velocity, 0)::float8 as debt_share,
    coalesce(dora_counts.deployments, 0)::bigint as deployments,
    coalesce(dora_counts.deployments, 0)
        / ({{ days_between_dates('axis.month_start', "(axis.month_start + interval '1 month')::date") }})::float8
        as deployments_per_day,
    lead_times.change_lead_time_p50_hours,
    coalesce(dora_counts.deployment_attempts, 0)::bigint as deployment_attempts,
    dora_counts.change_failures / nullif(dora_counts.deployment_attempts, 0)::float8 as change_failure_rate,
    recoveries.recovery_time_p50_hours,
    dora_counts.rework_deployments / nullif(dora_counts.deployment_attempts, 0)::float8 as rework_rate,
    survey_scores.survey_score,
    survey_scores.survey_respondents::bigint as survey_respondents,
    coalesce(shipped_epics.epics_shipped, 0)::bigint as epics_shipped,
    shipped_epics.time_to_market_p50_hours,
    coalesce(kpi_movements.kpi_links_measured, 0)::bigint as kpi_links_measured,
    kpi_movements.kpi_towards_target_share,
    coalesce(key_result_attainment.key_results_measured, 0)::bigint as key_results_measured,
    key_result_attainment.key_result_attainment_avg,
    coalesce(key_result_attainment.key_results_behind_plan, 0)::bigint as key_results_behind_plan
from axis
left join flow_counts using (month_start, value_stream)
left join flow_times using (month_start, value_stream)
left join flow_load using (month_start, value_stream)
left join dora_counts using (month_start, value_stream)
left join lead_times using (month_start, value_stream)
left join recoveries using (month_start, value_stream)
left join survey_scores using (month_start, value_stream)
left join shipped_epics using (month_start, value_stream)
left join kpi_movements using (month_start, value_stream)
left join key_result_attainment using (month_start, value_stream)
