{#- Staging tables incremental by read (docs/OPERATIONS.md#incremental-builds): a staging model that several
    models read every night, over a raw stream that only grows by what each nightly reads, parses only the rows
    read since the previous build (less `incremental_lookback_hours`: a shard merged late, a build skipped)
    and replaces their rows by its unique key. Each row keeps `staging_version`, a hash of the model's own SQL:
    after the model changes (an upgrade, a new column), the next run parses every row again instead of
    leaving the old rows without the new column. -#}

{#- The model's `config(...)`: one place for the strategy, so every such staging table behaves alike. -#}
{% macro staging_increment_config(unique_key) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=unique_key,
        on_schema_change='sync_all_columns',
    ) }}
{%- endmacro %}

{% macro staging_version() -%}
    '{{ local_md5(model.raw_code) }}'
{%- endmacro %}

{#- The start of the read window as a timestamp literal (a literal lets the scan skip older row groups), or
    none when every row is to be parsed: a first or full-refresh build, or a table parsed by another version
    of the model. -#}
{% macro staging_read_since() -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if 'staging_version' not in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set row = run_query(
        'select max(extracted_at) - ' ~ flow_hours_interval(var('incremental_lookback_hours'))
        ~ ', count(*) filter (where staging_version <> ' ~ staging_version() ~ ') from ' ~ this
    ).rows[0] -%}
    {%- if row[1] > 0 or row[0] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(row[0]) }}
{%- endmacro %}

{#- The raw rows to parse. `by_parent`: a child stream whose rows the connector replaces per parent (a pull
    request's commits after a force-push): every row of each parent with a row in the window, so that the
    unique key (the parent's) deletes the rows the connector replaced. -#}
{% macro staging_rows(relation, by_parent=false) -%}
    {%- set since = staging_read_since() -%}
    select * from {{ relation }}
    {%- if since is not none and by_parent %}
    where parent_key in (
        select parent_key from {{ relation }} where extracted_at >= cast('{{ since }}' as timestamp)
    )
    {%- elif since is not none %}
    where extracted_at >= cast('{{ since }}' as timestamp)
    {%- endif %}
{%- endmacro %}
