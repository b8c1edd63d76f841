{#
  The flow chain's dialect-specific parts. The chain was tuned for DuckDB at 1M issues / 10M changelog rows
  (benchmarks/RESULTS.md, P3 and P4): each duckdb__ body below is that tuned SQL unchanged (semi and anti
  joins, AS OF joins, QUALIFY, structs), and the postgres__ body computes the same rows with what PostgreSQL has.
#}

{# The interval of `hours` (a number, may be fractional), as int_jira__changed_issues subtracts it. #}
{% macro flow_hours_interval(hours) -%}
    {{ return(adapter.dispatch('flow_hours_interval', 'throughline')(hours)) }}
{%- endmacro %}
{% macro default__flow_hours_interval(hours) -%}{{ throughline.not_ported('flow_hours_interval') }}{%- endmacro %}
{% macro duckdb__flow_hours_interval(hours) -%}
    to_microseconds(({{ hours }} * 3600000000)::bigint)
{%- endmacro %}
{% macro postgres__flow_hours_interval(hours) -%}
    (({{ hours }} * 3600000000)::bigint * interval '1 microsecond')
{%- endmacro %}

{#
  The statuses the changelog names (both ends of every change of `changes`), one row per status: its latest
  name and when it was last seen. The third sighting of int_jira__status_mapping, columns in its order.
#}
{% macro flow_changelog_status_sightings(changes) -%}
    {{ return(adapter.dispatch('flow_changelog_status_sightings', 'throughline')(changes)) }}
{%- endmacro %}
{% macro default__flow_changelog_status_sightings(changes) -%}{{ throughline.not_ported('flow_changelog_status_sightings') }}{%- endmacro %}
{% macro duckdb__flow_changelog_status_sightings(changes) -%}
    select source_instance, status.id, max_by(status.name, changed_at), null, null,
        null, 3, max(changed_at)
    from (
        select
            source_instance,
            changed_at,
            unnest([
                {'id': from_status_id, 'name': from_status_name},
                {'id': to_status_id, 'name': to_status_name}
            ]) as status
        from {{ changes }}
    ) as changed_statuses
    group by source_instance, status.id
{%- endmacro %}
{% macro postgres__flow_changelog_status_sightings(changes) -%}
    select source_instance, status_id, {{ throughline.arg_max('status_name', 'changed_at') }}, null, null,
        null, 3, max(changed_at)
    from (
        select source_instance, changed_at, from_status_id as status_id, from_status_name as status_name
        from {{ changes }}
        union all
        select source_instance, changed_at, to_status_id, to_status_name
        from {{ changes }}
    ) as changed_statuses
    group by source_instance, status_id
{%- endmacro %}

{#
  The team and value stream of each issue: of its matching rule (`issue_team_keys` x `team_rules`, CTEs of
  int_work_items_classified) with the lowest precedence, ties to the alphabetically first team. Columns
  source_instance, issue_id, team, value_stream.
#}
{% macro flow_team_rules_chosen() -%}
    {{ return(adapter.dispatch('flow_team_rules_chosen', 'throughline')()) }}
{%- endmacro %}
{% macro default__flow_team_rules_chosen() -%}{{ throughline.not_ported('flow_team_rules_chosen') }}{%- endmacro %}
{% macro duckdb__flow_team_rules_chosen() -%}
    select source_instance, issue_id, rule.team as team, rule.value_stream as value_stream
    from (
        select
            issue_team_keys.source_instance,
            issue_team_keys.issue_id,
            arg_min(
                {'team': team_rules.team, 'value_stream': team_rules.value_stream},
                (team_rules.precedence, team_rules.team)
            ) as rule
        from issue_team_keys
        inner join team_rules
            on team_rules.match_on = issue_team_keys.match_on
            and team_rules.match_key = issue_team_keys.match_key
            and team_rules.source_instance in (issue_team_keys.source_instance, '*')
        group by issue_team_keys.source_instance, issue_team_keys.issue_id
    ) as chosen
{%- endmacro %}
{% macro postgres__flow_team_rules_chosen() -%}
    select distinct on (issue_team_keys.source_instance, issue_team_keys.issue_id)
        issue_team_keys.source_instance,
        issue_team_keys.issue_id,
        team_rules.team,
        team_rules.value_stream
    from issue_team_keys
    inner join team_rules
        on team_rules.match_on = issue_team_keys.match_on
        and team_rules.match_key = issue_team_keys.match_key
        and team_rules.source_instance in (issue_team_keys.source_instance, '*')
    order by issue_team_keys.source_instance, issue_team_keys.issue_id, team_rules.precedence, team_rules.team
{%- endmacro %}

{#
  Sprint membership at a moment: the `change` ('added' / 'removed') of the last membership change for which
  `condition` holds, in (changed_at, history_number, item_index) order, an unknown history number or item
  index counting as the latest (as DuckDB orders a struct's NULL fields). An aggregate of sprint_predictability.
#}
{% macro flow_last_membership_change(condition) -%}
    {{ return(adapter.dispatch('flow_last_membership_change', 'throughline')(condition)) }}
{%- endmacro %}
{% macro default__flow_last_membership_change(condition) -%}{{ throughline.not_ported('flow_last_membership_change') }}{%- endmacro %}
{% macro duckdb__flow_last_membership_change(condition) -%}
    arg_max(
            membership_changes.change,
            (membership_changes.changed_at, membership_changes.history_number, membership_changes.item_index)
        ) filter (where {{ condition }})
{%- endmacro %}
{% macro postgres__flow_last_membership_change(condition) -%}
    (array_agg(membership_changes.change order by
            membership_changes.changed_at desc, membership_changes.history_number desc, membership_changes.item_index desc
        ) filter (where ({{ condition }}) and membership_changes.change is not null
            and membership_changes.changed_at is not null))[1]
{%- endmacro %}

{# The join that keeps only the rows of `alias` whose work item int_work_items_to_rebuild lists (distinct). #}
{% macro flow_rebuild_join(alias) -%}
    {{ return(adapter.dispatch('flow_rebuild_join', 'throughline')(alias)) }}
{%- endmacro %}
{% macro default__flow_rebuild_join(alias) -%}{{ throughline.not_ported('flow_rebuild_join') }}{%- endmacro %}
{% macro duckdb__flow_rebuild_join(alias) -%}
    semi join {{ ref('int_work_items_to_rebuild') }} as to_rebuild
        on to_rebuild.source_instance = {{ alias }}.source_instance
        and to_rebuild.issue_id = {{ alias }}.issue_id
{%- endmacro %}
{% macro postgres__flow_rebuild_join(alias) -%}
    {#- an inner join keeps each row once, as the model lists each item once; its columns renamed so
        the query's unqualified names stay unambiguous, as after a semi join -#}
    inner join (
        select source_instance as rebuild_source_instance, issue_id as rebuild_issue_id
        from {{ ref('int_work_items_to_rebuild') }}
    ) as to_rebuild
        on to_rebuild.rebuild_source_instance = {{ alias }}.source_instance
        and to_rebuild.rebuild_issue_id = {{ alias }}.issue_id
{%- endmacro %}

{#
  work_item_state_intervals' CTEs from the flag changes to `state_intervals` (every state interval, the
  columns of `status_intervals` plus is_flagged, state_interval_index and ended_at). `flag_source`: the
  relation or subquery the flag changes are read from; `status_intervals` is a CTE before these. One body:
  DuckDB gets its tuned SQL (QUALIFY, SEMI/ANTI and ASOF joins, `* exclude`, `union all by name`), PostgreSQL
  the equivalents through the small macros below.
#}
{% macro flow_state_interval_ctes(flag_source) -%}
{%- set columns = ['work_item_id', 'source_instance', 'issue_id', 'issue_key', 'project_key', 'status_interval_index',
    'status_id', 'status_name', 'status_category_key', 'flow_state', 'is_blocked_status'] -%}
flag_changes as (
    {{ throughline.flow_last_flag_changes(flag_source) }}
),

cut_items as (
    select distinct work_item_id from flag_changes
    union
    -- an interval that ends before it starts (or starts at an unknown time) is out of time order
    select work_item_id from status_intervals
    where ended_at is not null and not coalesce(ended_at >= started_at, false)
),

uncut_intervals as (
    select
        status_intervals.*,
        false as is_flagged,
        status_intervals.status_interval_index as state_interval_index
    from status_intervals
    {{ throughline.flow_cut_items_filter('anti', 'status_intervals') }}
),

cut_status_intervals as (
    select status_intervals.*
    from status_intervals
    {{ throughline.flow_cut_items_filter('semi', 'status_intervals') }}
),

inner_flag_cuts as (
    -- a flag change strictly inside a status interval starts a new piece of it; one at the interval's
    -- start only sets that interval's flag (read below), so no empty pieces appear
    select
        {{ throughline.flow_star_or_columns('cut_status_intervals', columns + ['ended_at'], exclude=['started_at']) }},
        flag_changes.changed_at as started_at
    from flag_changes
    {{ throughline.latest_at_or_before_join('cut_status_intervals', 'cut_status_intervals',
        'cut_status_intervals.work_item_id = flag_changes.work_item_id', 'started_at', 'flag_changes.changed_at',
        kind='inner') }}
    where flag_changes.changed_at > cut_status_intervals.started_at
        and (cut_status_intervals.ended_at is null or flag_changes.changed_at < cut_status_intervals.ended_at)
),

pieces as (
    select {{ throughline.flow_star_or_columns(none, columns + ['started_at'], exclude=['ended_at']) }} from cut_status_intervals
    {{ throughline.flow_union_all_by_name() }}
    select {{ throughline.flow_star_or_columns(none, columns + ['started_at'], exclude=['ended_at']) }} from inner_flag_cuts
),

flagged_pieces as (
    select
        pieces.*,
        coalesce(flag_changes.is_flagged, false) as is_flagged
    from pieces
    {{ throughline.latest_at_or_before_join('flag_changes', 'flag_changes',
        'flag_changes.work_item_id = pieces.work_item_id', 'changed_at', 'pieces.started_at') }}
),

state_intervals as (
    select
        {{ throughline.flow_star_or_columns(none, columns + ['started_at', 'is_flagged']) }},
        row_number() over item_pieces - 1 as state_interval_index,
        lead(started_at) over item_pieces as ended_at
    from flagged_pieces
    window item_pieces as (partition by work_item_id order by started_at, status_interval_index)

    {{ throughline.flow_union_all_by_name() }}

    select {{ throughline.flow_star_or_columns(none, columns + ['started_at', 'is_flagged', 'state_interval_index', 'ended_at']) }}
    from uncut_intervals
)
{%- endmacro %}

{# The flag changes, one per item and instant: of several flag items at one instant the last one written. #}
{% macro flow_last_flag_changes(flag_source) -%}
    {{ return(adapter.dispatch('flow_last_flag_changes', 'throughline')(flag_source)) }}
{%- endmacro %}
{% macro default__flow_last_flag_changes(flag_source) -%}{{ throughline.not_ported('flow_last_flag_changes') }}{%- endmacro %}
{% macro duckdb__flow_last_flag_changes(flag_source) -%}
    select
        source_instance || ':' || issue_id as work_item_id,
        changed_at,
        is_flagged
    from {{ flag_source }}
    qualify row_number() over (
        partition by source_instance, issue_id, changed_at
        order by try_cast(history_id as bigint) desc, history_id desc, item_index desc
    ) = 1
{%- endmacro %}
{% macro postgres__flow_last_flag_changes(flag_source) -%}
    {#- `nulls last`: DuckDB's default, where PostgreSQL puts NULLs first when descending -#}
    select work_item_id, changed_at, is_flagged
    from (
        select
            source_instance || ':' || issue_id as work_item_id,
            changed_at,
            is_flagged,
            row_number() over (
                partition by source_instance, issue_id, changed_at
                order by {{ throughline.try_cast('history_id', 'bigint') }} desc nulls last, history_id desc nulls last,
                    item_index desc nulls last
            ) as change_rank
        from {{ flag_source }}
    ) as ranked_flag_changes
    where change_rank = 1
{%- endmacro %}

{# Keeps the rows of `alias` whose item is (`semi`) or is not (`anti`) in the CTE `cut_items`. #}
{% macro flow_cut_items_filter(kind, alias) -%}
    {{ return(adapter.dispatch('flow_cut_items_filter', 'throughline')(kind, alias)) }}
{%- endmacro %}
{% macro default__flow_cut_items_filter(kind, alias) -%}{{ throughline.not_ported('flow_cut_items_filter') }}{%- endmacro %}
{% macro duckdb__flow_cut_items_filter(kind, alias) -%}
    {{ kind }} join cut_items on cut_items.work_item_id = {{ alias }}.work_item_id
{%- endmacro %}
{% macro postgres__flow_cut_items_filter(kind, alias) -%}
    where {{ "not " if kind == 'anti' }}exists (select 1 from cut_items where cut_items.work_item_id = {{ alias }}.work_item_id)
{%- endmacro %}

{#
  A select list: DuckDB's `*` (of `relation` when given) less `exclude`; in PostgreSQL the `columns` named
  (qualified by `relation`), in that order, so that the branches of a `union all` line up by position.
#}
{% macro flow_star_or_columns(relation, columns, exclude=[]) -%}
    {{ return(adapter.dispatch('flow_star_or_columns', 'throughline')(relation, columns, exclude)) }}
{%- endmacro %}
{% macro default__flow_star_or_columns(relation, columns, exclude) -%}{{ throughline.not_ported('flow_star_or_columns') }}{%- endmacro %}
{% macro duckdb__flow_star_or_columns(relation, columns, exclude) -%}
    {{ relation ~ "." if relation }}*{{ " exclude (" ~ exclude | join(", ") ~ ")" if exclude }}
{%- endmacro %}
{% macro postgres__flow_star_or_columns(relation, columns, exclude) -%}
    {%- for column in columns -%}{{ relation ~ "." if relation }}{{ column }}{{ ", " if not loop.last }}{%- endfor -%}
{%- endmacro %}

{% macro flow_union_all_by_name() -%}
    {{ return(adapter.dispatch('flow_union_all_by_name', 'throughline')()) }}
{%- endmacro %}
{% macro default__flow_union_all_by_name() -%}{{ throughline.not_ported('flow_union_all_by_name') }}{%- endmacro %}
{% macro duckdb__flow_union_all_by_name() -%}union all by name{%- endmacro %}
{% macro postgres__flow_union_all_by_name() -%}union all{%- endmacro %}
