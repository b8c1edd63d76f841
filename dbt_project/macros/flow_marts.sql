{#
  A status whose name says nobody can move the work on: its time is blocked time (with flagged time).
  A name only, not a flow state: "Blocked" is usually `waiting`, but a team may map it otherwise and the
  time is still blocked. See docs/METRICS.md#blocked-time.
#}
{% macro is_blocked_status(status_name) -%}
    {%- set blocked_words %}$$\b(blocked|impeded|impediment|on hold)\b$$ {% endset %}
    coalesce({{ regex_matches('lower(' ~ status_name ~ ')', blocked_words | trim) }}, false)
{%- endmacro %}

{#
  The time the flow marts are "as of": the last time any Jira issue was read. Open intervals are counted
  up to it, and the period axes end with it, so a rebuild over the same raw data gives the same marts
  (now() would not).
#}
{% macro flow_as_of() -%}
    (select max(extracted_at) from {{ ref('stg_jira__issues') }})
{%- endmacro %}

{#
  The time the flow marts' Jira data is complete to (docs/METRICS.md#source-coverage): the newest successful
  read of raw.jira__issues of the Jira source that is furthest behind; the as-of time when the run report holds
  no read (raw tables loaded by other means, as in tests).
#}
{% macro flow_data_complete_to() -%}
    {{ data_complete_to('jira__issues', flow_as_of()) }}
{%- endmacro %}

{#
  Flow efficiency of a group of work items (an aggregate): their active time over their flow time, summed
  in whole microseconds so the sums are exact and the ratio never exceeds 1 (each item's active time is at
  most its flow time). work_items' hours are whole microseconds / 3.6e9, so rounding them back is exact.
#}
{% macro flow_efficiency_of_items() -%}
    sum(round(active_time_hours * 3600000000)::bigint)::float8
        / nullif(sum(round(flow_time_hours * 3600000000)::bigint), 0)::float8
{%- endmacro %}

{#- The grouping sets of the flow period marts' levels, each with `column` (a period) when given. -#}
{% macro flow_grouping_sets(column=none) -%}
    {%- set lead = column ~ ', ' if column else '' -%}
    grouping sets (
        ({{ lead }}value_stream, team, flow_item_type),
        ({{ lead }}value_stream, team),
        ({{ lead }}value_stream),
        ({{ column or '' }})
    )
{%- endmacro %}

{#
  flow_metrics_weekly and flow_metrics_monthly: one query, the period ('week' or 'month') its only
  difference. Periods are calendar periods in UTC (weeks start Monday). Each period has a row per
  `grouping_level` (docs/METRICS.md#flow-metrics-per-period): 'team_type' (team, value stream, flow item
  type), 'team' (flow_item_type 'all'), 'value_stream' (team and type 'all') and 'overall' (all three 'all').
  The rolled-up rows are computed from the items, like the type rows (GROUPING SETS): percentiles and
  ratios cannot be added up from the type rows.
#}
{% macro flow_metrics_by_period(period) -%}
{%- set levels -%}
        case
            when grouping(flow_item_type) = 0 then 'team_type'
            when grouping(team) = 0 then 'team'
            when grouping(value_stream) = 0 then 'value_stream'
            else 'overall'
        end as grouping_level,
        case when grouping(team) = 0 then team else 'all' end as team,
        case when grouping(value_stream) = 0 then value_stream else 'all' end as value_stream,
        case when grouping(flow_item_type) = 0 then flow_item_type else 'all' end as flow_item_type
{%- endset -%}
{%- set group_keys = 'grouping_level, team, value_stream, flow_item_type' -%}
with as_of as (
    select {{ flow_as_of() }} as as_of_at, {{ flow_data_complete_to() }} as data_complete_to
),

items as (
    -- flow items only: containers and sub-tasks (docs/METRICS.md#flow-items) stay in work_items
    select
        *,
        date_trunc('{{ period }}', completed_at)::date as completed_period,
        date_trunc('{{ period }}', canceled_at)::date as canceled_period
    from {{ ref('work_items') }}
    where is_flow_item
),

axis as (
    -- every period from the first item of a group to the as-of period, so a period without completions
    -- is a zero row, not a missing one
    select
        {{ levels }},
        {{ timestamp_series_rows(
            "date_trunc('" ~ period ~ "', min(created_at))",
            "date_trunc('" ~ period ~ "', max(as_of.as_of_at))",
            "interval '1 " ~ period ~ "'"
        ) }}::date as period_start
    from items
    cross join as_of
    group by {{ flow_grouping_sets() }}
),

completions as (
    select
        completed_period as period_start,
        {{ levels }},
        count(*) as completed_items,
        sum(story_points) as completed_story_points,
        {{ percentile_cont('flow_time_hours', 0.5) }} as flow_time_p50_hours,
        {{ percentile_cont('flow_time_hours', 0.85) }} as flow_time_p85_hours,
        {{ percentile_cont('flow_time_hours', 0.95) }} as flow_time_p95_hours,
        {{ percentile_cont('lead_time_hours', 0.5) }} as lead_time_p50_hours,
        {{ flow_efficiency_of_items() }} as flow_efficiency
    from items
    where is_done
    group by {{ flow_grouping_sets('completed_period') }}
),

cancellations as (
    select
        canceled_period as period_start,
        {{ levels }},
        count(*) as canceled_items
    from items
    where is_canceled
    group by {{ flow_grouping_sets('canceled_period') }}
),

daily_load as (
    -- a group's load on a day is the sum over its team / value stream / type rows
    select
        day,
        {{ levels }},
        sum(wip_items) as wip_items
    from {{ ref('flow_load_daily') }}
    group by {{ flow_grouping_sets('day') }}
),

load as (
    select
        {{ group_keys }},
        date_trunc('{{ period }}', day)::date as period_start,
        avg(wip_items)::float8 as flow_load_avg,
        {{ arg_max('wip_items', 'day') }} as flow_load_end
    from daily_load
    group by {{ group_keys }}, date_trunc('{{ period }}', day)::date
),

metrics as (
    select
        axis.period_start,
        axis.grouping_level,
        axis.team,
        axis.value_stream,
        axis.flow_item_type,
        coalesce(completions.completed_items, 0) as flow_velocity,
        coalesce(completions.completed_story_points, 0)::float8 as completed_story_points,
        coalesce(cancellations.canceled_items, 0) as canceled_items,
        completions.flow_time_p50_hours,
        completions.flow_time_p85_hours,
        completions.flow_time_p95_hours,
        completions.lead_time_p50_hours,
        completions.flow_efficiency,
        coalesce(load.flow_load_avg, 0) as flow_load_avg,
        coalesce(load.flow_load_end, 0)::bigint as flow_load_end,
        as_of.data_complete_to,
        -- a period the Jira data does not cover to its end yet (the current one, or one after a failed
        -- load) may still gain completions: "no data yet" rather than "no work done"
        coalesce(
            {{ add_interval('axis.period_start::timestamp', 1, period) }} <= as_of.data_complete_to, false
        ) as is_period_complete
    from axis
    cross join as_of
    left join completions using (period_start, grouping_level, team, value_stream, flow_item_type)
    left join cancellations using (period_start, grouping_level, team, value_stream, flow_item_type)
    left join load using (period_start, grouping_level, team, value_stream, flow_item_type)
)

select
    period_start as {{ period }}_start,
    grouping_level,
    team,
    value_stream,
    flow_item_type,
    flow_velocity,
    completed_story_points,
    canceled_items,
    flow_time_p50_hours,
    flow_time_p85_hours,
    flow_time_p95_hours,
    lead_time_p50_hours,
    flow_efficiency,
    flow_load_avg,
    flow_load_end,
    -- a share of the flow item types: only a type row has one
    case when grouping_level = 'team_type'
        then flow_velocity::float8 / nullif(sum(flow_velocity) over team_period, 0)
    end as flow_distribution_completed,
    case when grouping_level = 'team_type'
        then flow_load_avg / nullif(sum(flow_load_avg) over team_period, 0)
    end as flow_distribution_load,
    data_complete_to,
    is_period_complete
from metrics
window team_period as (partition by period_start, grouping_level, team, value_stream)
{%- endmacro %}

{#
  Incremental flow models (docs/OPERATIONS.md#incremental-builds) rebuild the work items of
  int_work_items_to_rebuild. `work_items_to_rebuild_only(alias)`: the semi join that keeps only those
  items' rows of the relation `alias` (with source_instance and issue_id), in incremental runs; nothing
  otherwise.
#}
{% macro work_items_to_rebuild_only(alias) -%}
    {%- if is_incremental() %}
    {{ flow_rebuild_join(alias) }}
    {%- endif %}
{%- endmacro %}

{#
  Pre-hook of the incremental flow models: deletes the rows of every work item the run rebuilds (the model then
  appends the rows it computed for them). An item deleted or moved out of scope since has no new rows, so its
  old ones just go (a full build leaves it out through jira_live_issues()). One delete by the rebuilt items, not
  delete+insert by the new rows' keys and another delete for the vanished items: each is a scan of the whole
  table (10M intervals at 1M issues, ~0.2 s a scan in a nightly).
#}
{% macro delete_rebuilt_work_items() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where work_item_id in (select work_item_id from {{ ref('int_work_items_to_rebuild') }})
    {%- endif -%}
{%- endmacro %}

{#- The config of the incremental work-item models: the rows of the items of int_work_items_to_rebuild deleted
    (delete_rebuilt_work_items), then theirs appended (work_items_to_rebuild_only). Used as
    `config(**work_item_incremental())`. New columns are appended to a warehouse built before them, and
    int_work_items_to_rebuild then rebuilds every item, so an upgrade needs no full refresh (on PostgreSQL,
    'fail' would also take a contract's `character varying` for a change from the query's `text`); the enforced
    contracts of the marts check their columns on every run. -#}
{% macro work_item_incremental() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'append_new_columns',
        'pre_hook': '{{ delete_rebuilt_work_items() }}',
    }) }}
{%- endmacro %}

{# Flow time p85 and flow efficiency of the items completed per period and grouping, from work_items:
   percentiles and ratios cannot be added up from per-type rows, so the signals and the scorecard
   recompute them here at their own grain (the same definitions as flow_metrics_by_period). #}
{% macro completed_flow_times(period, dimensions) -%}
    select
        date_trunc('{{ period }}', completed_at)::date as {{ period }}_start,
        {{ dimensions | join(', ') }},
        {{ percentile_cont('flow_time_hours', 0.85) }} as flow_time_p85_hours,
        {{ flow_efficiency_of_items() }} as flow_efficiency
    from {{ ref('work_items') }}
    where is_done and is_flow_item
    group by date_trunc('{{ period }}', completed_at)::date, {{ dimensions | join(', ') }}
{%- endmacro %}

{# `values` (a list of strings) as the items of an SQL `in (...)` list of text literals; `null` (matching
   nothing) when empty. #}
{% macro sql_text_list(values) -%}
    {%- if values -%}
        {%- for value in values %}'{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor -%}
    {%- else -%}
        null
    {%- endif -%}
{%- endmacro %}

{#- The sprint membership changes of Jira sprints, Linear cycles and Azure DevOps iterations (a query), with the columns flow_last_membership_change orders them by. -#}
{% macro sprint_membership_changes() -%}
    select
        source_instance,
        issue_id,
        sprint_id,
        changed_at,
        change,
        {{ try_cast('history_id', 'bigint') }} as history_number,
        item_index
    from {{ ref('int_jira__issue_sprint_changes') }}
    union all
    -- Linear cycles are sprints; their history ids are not numbers, and a move orders by item_index
    select source_instance, issue_id, sprint_id, changed_at, change, cast(null as bigint), item_index
    from {{ ref('int_linear__issue_cycle_changes') }}
    union all
    -- Azure DevOps iterations are sprints; an update is one revision, at its own time
    select source_instance, issue_id, sprint_id, changed_at, change, cast(null as bigint), item_index
    from {{ ref('int_azure_devops__work_item_iteration_changes') }}
{%- endmacro %}
