-- Each epic and initiative with the key results (and so the KPIs) it works towards, and the KPI before and
-- after it first shipped. A before/after difference is correlation, not proof: the caveat column says so,
-- and what else weakens it. Definitions: docs/METRICS.md#outcome-links.
{%- set window_days = var('realization_kpi_window_days') | int %}

with work as (
    select 'epic' as work_level, source_instance, epic_key as work_key, summary, team, value_stream,
        first_shipped_at
    from {{ ref('epics') }}
    union all
    select 'initiative', source_instance, initiative_key, summary, team, value_stream, first_shipped_at
    from {{ ref('initiatives') }}
),

linked_issues as (
    select * from {{ ref('int_key_result_work_items') }}
),

work_links as (
    -- an epic works towards a key result when it or one of its items is linked; an initiative when it, one
    -- of its epics or one of their items is
    select source_instance, 'epic' as work_level, epic_key as work_key, key_result_source_instance, key_result_id,
        link_kinds
    from linked_issues
    where epic_key is not null
    union all
    select source_instance, 'initiative', initiative_key, key_result_source_instance, key_result_id, link_kinds
    from linked_issues
    where initiative_key is not null
),

links as (
    select
        source_instance,
        work_level,
        work_key,
        key_result_source_instance,
        key_result_id,
        array_to_string({{ distinct_sorted_array_elements('link_kinds') }}, ', ') as link_kinds
    from work_links
    group by source_instance, work_level, work_key, key_result_source_instance, key_result_id
),

key_results as (
    select * from {{ ref('stg_outcomes__key_results') }}
),

series as (
    select * from {{ ref('int_key_result_kpi_series') }}
),

series_names as (
    select distinct key_result_source_instance, key_result_id, kpi_source_instance, kpi, kpi_value_stream,
        kpi_product
    from series
),

linked as materialized (
    select
        work.work_level,
        work.source_instance,
        work.work_key,
        work.summary,
        work.team,
        work.value_stream,
        key_results.objective_id,
        key_results.objective,
        links.key_result_source_instance,
        links.key_result_id,
        key_results.key_result,
        links.link_kinds,
        key_results.kpi,
        series_names.kpi_source_instance,
        series_names.kpi_value_stream,
        series_names.kpi_product,
        key_results.unit,
        work.first_shipped_at,
        work.first_shipped_at::date as shipped_on
    from links
    inner join work
        on work.source_instance = links.source_instance
        and work.work_level = links.work_level
        and work.work_key = links.work_key
    inner join key_results
        on key_results.source_instance = links.key_result_source_instance
        and key_results.key_result_id = links.key_result_id
    left join series_names
        on series_names.key_result_source_instance = links.key_result_source_instance
        and series_names.key_result_id = links.key_result_id
),

windows as (
    select
        linked.work_level,
        linked.source_instance,
        linked.work_key,
        linked.key_result_source_instance,
        linked.key_result_id,
        avg(series.value) filter (
            where series.observed_on >= linked.shipped_on - {{ window_days }} and series.observed_on < linked.shipped_on
        ) as kpi_before,
        avg(series.value) filter (
            where series.observed_on >= linked.shipped_on and series.observed_on < linked.shipped_on + {{ window_days }}
        ) as kpi_after,
        count(*) filter (
            where series.observed_on >= linked.shipped_on - {{ window_days }} and series.observed_on < linked.shipped_on
        ) as points_before,
        count(*) filter (
            where series.observed_on >= linked.shipped_on and series.observed_on < linked.shipped_on + {{ window_days }}
        ) as points_after,
        min(series.observed_on) as first_observed_on,
        max(series.observed_on) as last_observed_on
    from linked
    inner join series
        on series.key_result_source_instance = linked.key_result_source_instance
        and series.key_result_id = linked.key_result_id
    where linked.shipped_on is not null
    group by linked.work_level, linked.source_instance, linked.work_key, linked.key_result_source_instance,
        linked.key_result_id
),

shipped_series as (
    select distinct work_level, source_instance, work_key, kpi_source_instance, kpi, kpi_value_stream, kpi_product,
        shipped_on
    from linked
    where shipped_on is not null and kpi_source_instance is not null
),

concurrent as (
    -- other work of the same level, aimed at the same KPI series, that first shipped inside these windows
    -- (a window over the series' shipments, not a self-join: many epics may aim at one KPI)
    select
        *,
        count(*) over (
            partition by work_level, kpi_source_instance, kpi, kpi_value_stream, kpi_product
            order by shipped_on
            range between interval '{{ window_days }} days' preceding and interval '{{ window_days - 1 }} days' following
        ) - 1 as others_shipped_in_windows
    from shipped_series
),

measured as (
    select
        {%- for column in ['work_level', 'source_instance', 'work_key', 'summary', 'team', 'value_stream',
            'objective_id', 'objective', 'key_result_source_instance', 'key_result_id', 'key_result', 'link_kinds',
            'kpi', 'kpi_source_instance', 'kpi_value_stream', 'kpi_product', 'unit', 'first_shipped_at'] %}
        linked.{{ column }},
        {%- endfor %}
        {{ window_days }} as window_days,
        windows.kpi_before,
        windows.kpi_after,
        coalesce(windows.points_before, 0) as points_before,
        coalesce(windows.points_after, 0) as points_after,
        windows.kpi_after - windows.kpi_before as kpi_change,
        (windows.kpi_after - windows.kpi_before) / nullif(abs(windows.kpi_before), 0) as kpi_change_relative,
        -- complete: observations cover the first day of the before window and the last day of the after window
        coalesce(
            windows.first_observed_on <= linked.shipped_on - {{ window_days }}
            and windows.last_observed_on >= linked.shipped_on + {{ window_days - 1 }},
            false
        ) as is_window_complete,
        coalesce(concurrent.others_shipped_in_windows, 0) as others_shipped_in_windows,
        case when linked.first_shipped_at is not null then linked.shipped_on - {{ window_days }} end
            as before_window_start,
        case when linked.first_shipped_at is not null then linked.shipped_on + {{ window_days - 1 }} end
            as after_window_end
    from linked
    left join windows using (work_level, source_instance, work_key, key_result_source_instance, key_result_id)
    left join concurrent
        on concurrent.work_level = linked.work_level
        and concurrent.source_instance = linked.source_instance
        and concurrent.work_key = linked.work_key
        and concurrent.kpi_source_instance = linked.kpi_source_instance
        and concurrent.kpi = linked.kpi
        and concurrent.kpi_value_stream is not distinct from linked.kpi_value_stream
        and concurrent.kpi_product is not distinct from linked.kpi_product
)

select
    *,
    concat_ws('; ',
        'correlation, not proof',
        case
            when kpi is null then 'no KPI measures this key result'
            when kpi_source_instance is null then 'no KPI series for ' || kpi
            when first_shipped_at is null then 'not shipped yet'
            when not is_window_complete then 'window incomplete'
        end,
        case when others_shipped_in_windows > 0
            then others_shipped_in_windows || ' other ' || work_level || '(s) aimed at this KPI shipped in the windows'
        end
    ) as caveat
from measured
