{#
  Every table of the dbt source `raw` exists before a model reads it: a source type added since the last
  load (`make new-source`), or one whose extraction has never run, has its table empty rather than failing
  every view over it, in `dbt build` run by hand or against PostgreSQL as in the nightly (where each extract
  step creates its tables first). Same columns and key as connectors/core/raw.py's table, so the connector's
  upserts work on it later; a table that exists is left as it is.
#}
{% macro create_missing_raw_tables() -%}
    {%- if execute -%}
    {%- set schemas = [] -%}
    {%- for source in graph.sources.values() if source.source_name == 'raw' -%}
        {%- if source.schema not in schemas -%}
            {%- do schemas.append(source.schema) %}
    create schema if not exists {{ source.schema }};
        {%- endif %}
    create table if not exists {{ source.schema }}.{{ source.identifier }} (
        source_instance varchar not null,
        record_key varchar not null,
        parent_key varchar,
        scope varchar,
        cursor_value varchar,
        payload {{ 'jsonb' if target.type == 'postgres' else 'json' }} not null,
        extracted_at timestamp not null,
        primary key (source_instance, record_key)
    );
    {%- endfor %}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
