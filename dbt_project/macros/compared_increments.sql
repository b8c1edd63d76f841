{#- Models incremental by comparison with their own rows (docs/OPERATIONS.md#models-incremental-by-comparison).
    Their rows are a function of other models' rows per group (a deployment's change set, a change request), so a
    run compares, per group, a digest of the group's rows in the table (a sum of row hashes and a count) with the
    same columns computed now, deletes the rows of the groups that differ or are gone (pre-hook), and writes the
    rows the table then lacks. It reads nothing of what the models before it rebuilt: a night that left the model
    out, or failed in it, is made good by the next run, and a change anywhere in its inputs (a status read late, a
    seed edited) is seen as any other. Such a model's config is `compared_increment_config(...)`; its rows now
    are a CTE filtered by `not_in_built(...)`. On Spark they are rebuilt in full.

    `columns`: the table's compared columns as (name, expression over the model's inputs), the group key first;
    `inputs`: the FROM clause (with its joins) those expressions read; `replaced`: the columns, as (name,
    expression) pairs, whose every row goes with a changed group (default: the group key): a changed deployment
    takes with it every row of the commits it lists, as built or now. -#}

{% macro compared_increment_config(columns, inputs, replaced=none) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'append',
        'on_schema_change': 'append_new_columns',
        'pre_hook': '{{ delete_changed_groups(' ~ columns ~ ', ' ~ inputs ~ ', ' ~ (replaced or 'none') ~ ') }}',
    }) }}
{%- endmacro %}

{#- The groups whose rows in the table differ from their rows now, or that have rows on one side only;
    `built_filter`: a condition on the table's rows, for a table that holds more than the compared rows. -#}
{% macro changed_groups(columns, inputs, built_filter=none) -%}
    {%- set key_name, key_expression = columns[0] %}
    {%- set compared = columns[1:] %}
    select coalesce(now.group_key, built.group_key) as group_key
    from (
        select {{ key_expression }} as group_key, count(*) as row_count,
            {{ rows_digest(compared | map(attribute=1) | list) }} as digest
        {{ inputs }}
        group by {{ key_expression }}
    ) as now
    full outer join (
        select {{ key_name }} as group_key, count(*) as row_count,
            {{ rows_digest(compared | map(attribute=0) | list) }} as digest
        from {{ this }}
        {%- if built_filter %}
        where {{ built_filter }}
        {%- endif %}
        group by {{ key_name }}
    ) as built on built.group_key = now.group_key
    where now.digest is distinct from built.digest or now.row_count is distinct from built.row_count
{%- endmacro %}

{#- The pre-hook: the rows of the changed groups go, with every row of the `replaced` values they hold as built
    or now. -#}
{% macro delete_changed_groups(columns, inputs, replaced=none) -%}
    {%- if is_incremental() -%}
    {%- set key_name, key_expression = columns[0] -%}
    {%- set replaced = replaced or [columns[0]] -%}
    delete from {{ this }} as built
    using (
        select distinct {{ replaced | map(attribute=0) | join(', ') }}
        from (
            select {{ key_name }} as group_key, {{ replaced | map(attribute=0) | join(', ') }} from {{ this }}
            union all
            select {{ key_expression }}, {% for name, expression in replaced %}{{ expression }} as {{ name }}
                {{- ', ' if not loop.last }}{% endfor %}
            {{ inputs }}
        ) as held
        inner join ({{ changed_groups(columns, inputs) }}) as changed on changed.group_key = held.group_key
    ) as gone
    where {% for name, _ in replaced %}built.{{ name }} is not distinct from gone.{{ name }}
        {{- ' and ' if not loop.last }}{% endfor %}
    {%- endif -%}
{%- endmacro %}

{#- The filter of the rows now (`replaced` as for the pre-hook): those whose replaced values the table does not
    hold, i.e. of the groups the pre-hook deleted and of new ones. -#}
{% macro not_in_built(columns, replaced=none) -%}
    {%- set replaced = replaced or [columns[0]] -%}
    not exists (
        select 1 from {{ this }} as built
        where {% for name, expression in replaced %}built.{{ name }} is not distinct from {{ expression }}
            {{- ' and ' if not loop.last }}{% endfor %}
    )
{%- endmacro %}

{#- The select list of `columns`: each expression as its name. -#}
{% macro compared_columns_select(columns) -%}
    {%- for name, expression in columns %}
        {{ expression }} as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
