{#- Intermediate models incremental by key (docs/OPERATIONS.md#incremental-builds): a run rebuilds the keys its
    changes touch (the issues read in the window, and what hangs off them) and replaces their rows, so its cost
    follows the change, not the history. Their rows also depend on inputs that are not split by key: seeds,
    small lookup tables (boards, sprints) and vars. Every row keeps `build_settings`, a hash of the model's SQL,
    those vars and those tables' contents: when it differs from the run's, the run rebuilds every key (a seed
    edit, a var changed, an upgrade), with no --full-refresh needed. On Spark, incremental models are rebuilt in
    full (macros/portable/spark.sql), so the tables are not hashed there. -#}

{#- The model's `config(...)`: delete+insert by `unique_key`; its hook (keyed_increment_delete) deletes the rows
    of the keys it rebuilt that have no row any more. -#}
{% macro keyed_increment_config(unique_key, pre_hook=[], post_hook=[]) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=unique_key,
        on_schema_change='sync_all_columns',
        pre_hook=pre_hook,
        post_hook=post_hook,
    ) }}
{%- endmacro %}

{#- The run's `build_settings` value (a quoted SQL literal), from each model's inputs below: the vars it reads,
    and the seeds and small tables whose every row it reads (hashed as their rows' text, sorted). One
    list, because the model's SQL and its hooks (rendered apart from it) must compute the same value. -#}
{% macro keyed_increment_settings() -%}
    {%- if model.resource_type == 'unit_test' -%}
    {#- a dbt unit test of the model: its refs are fixtures, and nothing it builds is kept -#}
    {{ return("'unit test'") }}
    {%- endif -%}
    {%- set inputs = {
        'int_jira__incidents': {'vars': [
            var('jira_incident_issue_types', ['Incident']), var('jira_incident_labels', ['incident']),
            var('jira_incident_cause_link_pattern', 'caused by'), var('jira_incident_fields', {})],
            'relations': []},
        'int_work_items_hierarchy': {'vars': [
            var('realization_epic_issue_types'), var('realization_initiative_issue_types')], 'relations': []},
        'int_work_items_classified': {'vars': [
            var('realization_epic_issue_types'), var('realization_initiative_issue_types'),
            var('flow_item_hierarchy_levels')],
            'relations': [ref('flow_item_type_mapping'), ref('work_item_team_mapping'), ref('team_value_streams'),
                '(select distinct on (source_instance, board_id) source_instance, board_id, board_name'
                ~ ' from ' ~ ref('stg_jira__boards') ~ ' order by source_instance, board_id, extracted_at desc'
                ~ ' nulls last)',
                '(select source_instance, project_key, board_id, count(*) as board_rows from ' ~ ref('stg_jira__boards')
                ~ ' group by source_instance, project_key, board_id)',
                '(select distinct source_instance, sprint_id, origin_board_id from ' ~ ref('stg_jira__sprints') ~ ')']},
    }[model.name] -%}
    {%- set parts = [model.raw_code, inputs.vars | tojson] -%}
    {#- only when building: `dbt compile` and `dbt docs` run before the tables exist, and build nothing -#}
    {%- if execute and target.type != 'spark' and flags.WHICH in ['run', 'build', 'retry'] -%}
    {%- for relation in inputs.relations -%}
    {#- each row as text here, not in SQL, and sorted here: the same value on DuckDB and PostgreSQL -#}
    {%- set texts = [] -%}
    {%- for row in run_query('select * from ' ~ relation ~ ' as t').rows -%}
    {%- do texts.append(row | map('string') | join('|')) -%}
    {%- endfor -%}
    {%- do parts.append(texts | sort | join('\n')) -%}
    {%- endfor -%}
    {%- endif -%}
    {{ return("'" ~ local_md5(parts | join('\n')) ~ "'") }}
{%- endmacro %}

{#- Whether this incremental run rebuilds only the keys its changes touch: false on a first or full build, and
    when a row of the previous build holds other settings or none (built before the column existed): then every
    key is rebuilt, and keyed_increment_delete deletes the rows left over. -#}
{% macro keyed_increment_is_partial() -%}
    {#- a dbt unit test has no table of its own (`this`), and tests the model's full build -#}
    {%- if not execute or model.resource_type == 'unit_test' or not is_incremental() -%}
    {{ return(false) }}
    {%- endif -%}
    {%- if keyed_increment_built_before_settings() -%}
    {{ return(false) }}
    {%- endif -%}
    {%- set other = run_query('select count(*) from (select 1 from ' ~ this ~ ' where build_settings <> '
                              ~ keyed_increment_settings() ~ ' limit 1) as other') -%}
    {{ return(other.columns[0].values()[0] == 0) }}
{%- endmacro %}

{#- The hook deleting from this model (`built`) the rows of another build's settings, and the rows of the issues
    in `changed` (a model of source_instance, issue_id; the model's column `key` holds the issue id): all of
    them as a pre-hook, or as a post-hook, with `live`, those whose issue has no row in that model any more.
    Nothing on a first or full build. -#}
{% macro keyed_increment_delete(changed, key='issue_id', live=none) -%}
    {%- if is_incremental() and keyed_increment_built_before_settings() -%}
    -- built before the column existed (a pre-hook runs before it is added): every key is rebuilt
    delete from {{ this }}
    {%- elif is_incremental() -%}
    delete from {{ this }} as built
    where built.build_settings is distinct from {{ keyed_increment_settings() }}
        or exists (
            select 1 from {{ ref(changed) }} as changed
            where changed.source_instance = built.source_instance and changed.issue_id = built.{{ key }}
        ){% if live %}
        and not exists (
            select 1 from {{ ref(live) }} as live
            where live.source_instance = built.source_instance and live.issue_id = built.{{ key }}
        ){% endif %}
    {%- endif -%}
{%- endmacro %}

{#- The pre-hook deleting from this model (`built`) the rows matching `condition`, which the run writes whole
    again; every row when the table was built before build_settings (then every key is rebuilt). -#}
{% macro keyed_increment_delete_whole(condition) -%}
    {%- if is_incremental() and keyed_increment_built_before_settings() -%}
    delete from {{ this }}
    {%- elif is_incremental() -%}
    delete from {{ this }} as built where {{ condition }}
    {%- endif -%}
{%- endmacro %}

{#- Whether this model's table was built before it kept build_settings (an upgrade): every key is rebuilt. -#}
{% macro keyed_increment_built_before_settings() -%}
    {{ return('build_settings' not in (adapter.get_columns_in_relation(this) | map(attribute='name') | list)) }}
{%- endmacro %}

{#- The keys of the issues in `changed` (source_instance, issue_id), as `issues` has them now and as this model
    built them: a moved issue changes its key, and the rows that name it may name either. -#}
{% macro keys_now_and_as_built(issues, changed) -%}
    {%- for relation in [issues, this] %}
    {%- if not loop.first %}
    union
    {%- endif %}
    select keyed.source_instance, keyed.issue_key
    from {{ relation }} as keyed
    inner join {{ changed }} as changed
        on changed.source_instance = keyed.source_instance
        and changed.issue_id = keyed.issue_id
    {%- endfor %}
{%- endmacro %}
