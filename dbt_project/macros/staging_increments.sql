{#- Staging tables incremental by read (docs/OPERATIONS.md#incremental-builds): a staging model that several
    models read every night parses only the raw rows it has not parsed yet (new, or read again since: matched
    on the raw key and read time) and replaces their rows by its unique key. Each row keeps `staging_version`,
    a hash of the model's own SQL: after the model changes (an upgrade, a new column), the next run parses
    every row again instead of leaving the old rows without the new column. -#}

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

{#- The start of the read window as a timestamp literal (a literal lets the scan skip older row groups): the
    oldest read among the raw rows this table has not parsed, matched on the raw key and read time, so a row
    is parsed however late it arrives or however long the builds paused (a window of "the newest parsed read
    less a lookback" would miss a row written later with an older read time, and parse a whole backfill again
    on the first nightly after it). None when every row is to be parsed: a first or full-refresh build, or a
    table parsed by another version of the model. A time after every read when nothing is new. -#}
{% macro staging_read_since(relation, key_column) -%}
    {%- if not (execute and is_incremental()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if 'staging_version' not in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set row = run_query(
        'select (select count(*) from ' ~ this ~ ' where staging_version <> ' ~ staging_version() ~ '), '
        ~ '(select min(raw.extracted_at) from ' ~ relation ~ ' as raw where not exists ('
        ~ 'select 1 from ' ~ this ~ ' as parsed where parsed.source_instance = raw.source_instance'
        ~ ' and parsed.' ~ key_column ~ ' = raw.record_key and parsed.extracted_at = raw.extracted_at))'
    ).rows[0] -%}
    {%- if row[0] > 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(row[1] if row[1] is not none else '9999-12-31 00:00:00') }}
{%- endmacro %}

{#- The raw rows to parse. `key_column`: the model's column holding the raw `record_key`. `by_parent`: a
    child stream whose rows the connector replaces per parent (a pull request's commits after a force-push):
    every row of each parent with a row in the window, so that the unique key (the parent's) deletes the rows
    the connector replaced. -#}
{% macro staging_rows(relation, key_column, by_parent=false) -%}
    {%- set since = staging_read_since(relation, key_column) -%}
    select * from {{ relation }}
    {%- if since is not none and by_parent %}
    where parent_key in (
        select parent_key from {{ relation }} where extracted_at >= cast('{{ since }}' as timestamp)
    )
    {%- elif since is not none %}
    where extracted_at >= cast('{{ since }}' as timestamp)
    {%- endif %}
{%- endmacro %}
