{#-
    The invariants every mart keeps whatever history it is built from (tests/invariants/): a duration is
    never negative, a ratio lies in [0, 1]. Columns are recognised by name (as the built table has them), so a new column that follows
    the naming of docs/METRICS.md is checked without a change here; a new mart must be added to
    `invariant_marts` (the test says so when one is missing), because dbt learns a test's parents from the
    ref() calls it makes while parsing. A build of a few models (`dbt build --select staging.github`) still
    runs every test one of whose parents it selected, so a test checks only the marts that exist.
-#}

{#- Whether every relation has been built; false while parsing (nothing is queried then). -#}
{% macro invariant_parents_built(relations) %}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- for relation in relations -%}
        {%- if load_relation(relation) is none -%}{{ return(false) }}{%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{% endmacro %}

{#- The empty answer of a test with nothing to check. -#}
{% macro invariant_nothing_to_check(columns) %}
    select {% for column in columns %}cast(null as varchar) as {{ column }}{{ ', ' if not loop.last }}{% endfor %}
    where 1 = 0
{% endmacro %}

{% macro invariant_marts() %}
    {{ return([
        'deployment_changes', 'deployment_frequency_weekly', 'deployments', 'dora_metrics_monthly',
        'dora_metrics_weekly', 'dora_performance', 'incidents', 'pull_request_cycle_times',
        'flow_load_daily', 'flow_metrics_monthly', 'flow_metrics_weekly', 'sprint_predictability',
        'work_item_dependencies', 'work_item_state_intervals', 'work_items',
        'pipeline_runs',
        'epics', 'initiatives', 'investment_distribution', 'okr_progress', 'outcome_links',
        'signal_control_limits_weekly', 'signals', 'value_stream_scorecard',
        'delivery_forecasts', 'forecast_history',
    ]) }}
{% endmacro %}

{#- kind: 'duration' (*_hours, *_minutes, *_seconds, *_days, seconds) must be >= 0; 'ratio' (*_rate,
    *efficiency, *_share, share_of_*) must lie in [0, 1]. Attainment is not a ratio: a key result can be
    over-achieved. -#}
{% macro invariant_column_pattern(kind) %}
    {%- if kind == 'duration' -%}
        {{ return('^(seconds|.*_(hours|minutes|seconds|days))$') }}
    {%- elif kind == 'ratio' -%}
        {{ return('^(.*_rate|.*efficiency|.*_share|share_of_.*)$') }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("invariant kind '" ~ kind ~ "' is not one of duration, ratio") }}
    {%- endif -%}
{% endmacro %}

{#- One row per (mart, column) holding values that break the rule, with how many and the worst one. -#}
{% macro mart_invariant_violations(kind) %}
    {%- set pattern = invariant_column_pattern(kind) -%}
    {%- set marts = invariant_marts() -%}
    {%- set relations = {} -%}
    {%- for name in marts -%}
        {%- do relations.update({name: ref(name)}) -%}
    {%- endfor -%}
    {%- set checks = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.package_name == project_name
                and 'marts' in node.fqn and node.name not in marts -%}
            {{ exceptions.raise_compiler_error(
                "mart '" ~ node.name ~ "' is not in invariant_marts() (macros/invariants.sql): add it there") }}
        {%- endfor -%}
        {%- for name in marts if invariant_parents_built([relations[name]]) -%}
            {#- the columns the built table has (a test may build a mart of its own making) -#}
            {%- set columns = adapter.get_columns_in_relation(relations[name]) | map(attribute='name') | list -%}
            {%- for column in columns if modules.re.match(pattern, column) -%}
                {%- set bad = column ~ ' < 0' if kind == 'duration' else column ~ ' < 0 or ' ~ column ~ ' > 1' -%}
                {%- do checks.append(
                    "select '" ~ name ~ "' as mart, '" ~ column ~ "' as column_name, count(*) as violations, "
                    ~ "min(" ~ column ~ ") as lowest, max(" ~ column ~ ") as highest "
                    ~ "from " ~ relations[name] ~ " where " ~ bad ~ " having count(*) > 0") -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if checks -%}
        {{ checks | join('\nunion all\n') }}
    {%- else -%}
        {{ invariant_nothing_to_check(['mart', 'column_name', 'violations', 'lowest', 'highest']) }}
    {%- endif -%}
{% endmacro %}
