-- Each key result week by week: where it stands against its target (latest check-in, else its KPI), where a
-- straight line from start to due says it should be, and the work delivered towards it so far.
-- Definitions: docs/METRICS.md#okr-progress.

with key_results as (
    select * from {{ ref('stg_outcomes__key_results') }}
),

check_ins as (
    select source_instance, key_result_id, observed_on, value
    from {{ ref('stg_outcomes__key_result_values') }}
),

series as (
    select key_result_source_instance as source_instance, key_result_id, observed_on, value
    from {{ ref('int_key_result_kpi_series') }}
),

as_of as (
    -- the last day anything was known: a check-in, a KPI observation or a Jira load (not the clock, so a
    -- rebuild over the same data changes nothing)
    select greatest(
        (select max(observed_on) from check_ins),
        (select max(observed_on) from series),
        {{ flow_as_of() }}::date
    ) as as_of_on
),

check_in_spans as (
    select source_instance, key_result_id, min(observed_on) as first_check_in_on, max(observed_on) as last_check_in_on
    from check_ins
    group by source_instance, key_result_id
),

bounds as (
    select
        key_results.source_instance,
        key_results.key_result_id,
        coalesce(key_results.start_on, check_in_spans.first_check_in_on, key_results.due_on) as first_on,
        -- through the due date, or the last check-in after it; never past the as-of day
        least(greatest(key_results.due_on, check_in_spans.last_check_in_on), as_of.as_of_on) as last_on
    from key_results
    left join check_in_spans
        on check_in_spans.source_instance = key_results.source_instance
        and check_in_spans.key_result_id = key_results.key_result_id
    cross join as_of
),

weeks as (
    select
        source_instance,
        key_result_id,
        {{ timestamp_series_rows("date_trunc('week', first_on::timestamp)", "date_trunc('week', last_on::timestamp)",
            "interval '1 week'") }}::date as week_start
    from bounds
    where first_on <= last_on
),

week_ends as (
    select *, week_start + 6 as week_end from weeks
),

observations as (
    select source_instance, key_result_id, 'check_in' as actual_source, observed_on, value from check_ins
    union all
    select source_instance, key_result_id, 'kpi', observed_on, value from series
),

latest_observations as (
    -- the latest observation of each kind by the week's Sunday
    select week_ends.source_instance, week_ends.key_result_id, week_ends.week_start, kinds.actual_source,
        observations.value, observations.observed_on
    from week_ends
    cross join (values ('check_in'), ('kpi')) as kinds (actual_source)
    {{ latest_at_or_before_join(
        'observations', 'observations',
        'observations.source_instance = week_ends.source_instance
        and observations.key_result_id = week_ends.key_result_id
        and observations.actual_source = kinds.actual_source',
        'observed_on', 'week_ends.week_end') }}
),

actuals as (
    -- a check-in is the key result's own measure: it wins over the KPI series, however recent that is
    select
        source_instance,
        key_result_id,
        week_start,
        -- an observation found has its day and kind: the three come from the same row
        {%- for column in ['value', 'observed_on', 'actual_source'] %}
        {{ min_by_keys(column, ["actual_source <> 'check_in'"], 'value is not null') }} as actual_{{ column }}
            {{- ',' if not loop.last }}
        {%- endfor %}
    from latest_observations
    group by source_instance, key_result_id, week_start
),

linked_issues as (
    select * from {{ ref('int_key_result_work_items') }}
),

items_done as (
    select
        linked_issues.key_result_source_instance as source_instance,
        linked_issues.key_result_id,
        work_items.completed_at::date as done_on,
        work_items.story_points
    from linked_issues
    inner join {{ ref('work_items') }} as work_items on work_items.work_item_id = linked_issues.work_item_id
    where linked_issues.hierarchy_level = 'item' and work_items.is_done
),

epics_shipped as (
    -- an epic counts when it or one of its items is linked (as in outcome_links)
    select distinct
        linked_issues.key_result_source_instance as source_instance,
        linked_issues.key_result_id,
        epics.source_instance || ':' || epics.epic_key as epic_id,
        epics.first_shipped_at::date as shipped_on
    from linked_issues
    inner join {{ ref('epics') }} as epics
        on epics.source_instance = linked_issues.source_instance
        and epics.epic_key = linked_issues.epic_key
    where epics.first_shipped_at is not null
),

delivered as (
    select
        week_ends.source_instance,
        week_ends.key_result_id,
        week_ends.week_start,
        (select count(*) from items_done
         where items_done.source_instance = week_ends.source_instance
            and items_done.key_result_id = week_ends.key_result_id
            and items_done.done_on <= week_ends.week_end) as items_done_towards,
        (select coalesce(sum(story_points), 0) from items_done
         where items_done.source_instance = week_ends.source_instance
            and items_done.key_result_id = week_ends.key_result_id
            and items_done.done_on <= week_ends.week_end)::float8 as story_points_done_towards,
        (select count(*) from epics_shipped
         where epics_shipped.source_instance = week_ends.source_instance
            and epics_shipped.key_result_id = week_ends.key_result_id
            and epics_shipped.shipped_on <= week_ends.week_end) as epics_shipped_towards
    from week_ends
)

select
    week_ends.week_start,
    key_results.source_instance,
    key_results.objective_id,
    key_results.objective,
    key_results.key_result_id,
    key_results.key_result,
    key_results.team,
    key_results.value_stream,
    key_results.kpi,
    key_results.unit,
    key_results.baseline,
    key_results.target,
    key_results.start_on,
    key_results.due_on,
    actuals.actual_value as actual,
    actuals.actual_observed_on,
    actuals.actual_actual_source as actual_source,
    delivered.items_done_towards,
    delivered.story_points_done_towards,
    delivered.epics_shipped_towards,
    (actuals.actual_value - key_results.baseline) / nullif(key_results.target - key_results.baseline, 0) as attainment,
    case when key_results.start_on is not null and key_results.due_on > key_results.start_on then
        least(greatest(
            ({{ days_between_dates('key_results.start_on', 'week_ends.week_end') }})::float8
                / {{ days_between_dates('key_results.start_on', 'key_results.due_on') }}, 0
        ), 1)::float8
    end as expected_attainment
from week_ends
inner join actuals using (source_instance, key_result_id, week_start)
inner join delivered using (source_instance, key_result_id, week_start)
inner join key_results
    on key_results.source_instance = week_ends.source_instance
    and key_results.key_result_id = week_ends.key_result_id
