{#
  Every table of the dbt source `raw` exists before a model reads it: a source type added since the last
  load (`make new-source`), or one whose extraction has never run, has its table empty rather than failing
  every view over it, in `dbt build` run by hand or against PostgreSQL as in the nightly (where each extract
  step creates its tables first). Same columns and key as connectors/core/raw.py's table, so the connector's
  upserts work on it later; a table that exists is left as it is.
#}
{% macro create_missing_raw_tables() -%}
    {%- if execute and target.type == 'spark' -%}
    {{ throughline.spark_register_sources() }}
    {%- elif execute -%}
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

{#
  Spark: every dbt source table is the Parquet directory `throughline copy-raw --target spark` wrote
  (operations/spark_copy.py), registered once: Spark lists a table's files when a query reads it, so each
  run reads the latest copy. A raw table that gained a column since it was registered: `drop table raw.<t>`
  (its files stay) and the next run registers it again. A source the copy did not write (its type never
  loaded into the DuckDB warehouse) fails here with Spark's "Unable to infer schema" naming the directory.
  Spark runs one statement per call: each is run here, and the hook itself is a no-op.
#}
{% macro spark_dir() -%}
    {{- env_var('THROUGHLINE_SPARK_DIR', env_var('THROUGHLINE_WAREHOUSE', '') ~ '.spark') -}}
{%- endmacro %}

{% macro spark_register_sources() -%}
    {%- set schemas = [] -%}
    {%- set registered = [] -%}
    {%- for source in graph.sources.values() -%}
        {%- if source.schema not in schemas -%}
            {%- do schemas.append(source.schema) -%}
            {%- do run_query('create schema if not exists ' ~ source.schema) -%}
            {%- for row in run_query('show tables in ' ~ source.schema) -%}
                {%- do registered.append(source.schema ~ '.' ~ row['tableName']) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set name = source.schema ~ '.' ~ source.identifier -%}
        {%- if name not in registered -%}
            {%- do run_query('create table ' ~ name ~ " using parquet location '" ~ throughline.spark_dir()
                ~ '/sources/' ~ source.schema ~ '/' ~ source.identifier ~ "'") -%}
        {%- endif -%}
    {%- endfor %}
    select 1
{%- endmacro %}
