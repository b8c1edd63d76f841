{#
  DuckDB tables: a run leaves a table whose SQL and inputs are what they were when it was built as it is.

  A nightly builds every model, but most of a warehouse's sources did not change since the last night (a
  source type not configured at all, a tracker without new reads): rebuilding their tables gives the same rows
  at dbt's cost per model (docs/OPERATIONS.md#what-a-nightly-run-rebuilds). Each table built here carries a
  fingerprint in its comment: an md5 of its compiled SQL, its hooks and its inputs' states, followed through
  the views it reads down to tables, seeds and sources:
  - a table built here: its own fingerprint (so a rebuilt input with other inputs changes every reader's);
  - a view: its definition's fingerprint (macros/unchanged_views.sql), and its own inputs';
  - a seed: the checksum of its file (every `dbt build` loads it again from that file);
  - a raw table: its row count and its earliest and latest read time (the connectors stamp every write with
    the time of its read, later than any before it, and replace or delete rows only in a write, so any change
    moves the count or the latest read; both come from DuckDB's statistics, ~1 ms for 10M histories, where
    hashing their keys took 1 s); the connectors' own tables (`raw._state`, ...) and any other source table:
    the count and the hash of every row.
  An input table or view without such a fingerprint (written by hand or restored, not built here) makes its
  readers rebuild. A table reading an incremental model (directly or through views) or a relation its SQL
  names outside its refs and sources (a model reading another's previous build) is always rebuilt, with a
  fingerprint of its own run, so the tables reading it are rebuilt too. --full-refresh rebuilds every table.
  PostgreSQL and Spark keep their adapters' materializations. Models are deterministic over their inputs (the
  flow marts' clock is the last read, flow_as_of(); none reads now()), which is what makes leaving a table
  correct.
#}
{% materialization table, adapter='duckdb', supported_languages=['sql'] -%}
    {%- set inputs = throughline.table_inputs() -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if not inputs.eligible -%}
        {%- set fingerprint = 'throughline table run ' ~ invocation_id -%}
    {%- else -%}
        {#- One query for every input's state and the table's own comment: each statement through dbt costs ~30 ms. -#}
        {%- call statement('main', fetch_result=True) -%}
            select
                (select comment from duckdb_tables()
                 where database_name = '{{ this.database }}' and schema_name = '{{ this.schema }}'
                   and table_name = '{{ this.identifier }}') as own_comment,
                {{ throughline.relation_comments_query(inputs.relations) }} as relations,
                {{ throughline.source_states_query(inputs.sources) }} as sources
        {%- endcall -%}
        {%- set row = load_result('main').table.rows[0] -%}
        {%- set fingerprinted = (row[1] or '0').split('/')[0] | int -%}
        {%- set fingerprint = throughline.fingerprint('table', [inputs.seeds | join(','), row[1] or '', row[2] or '']) -%}
        {%- if existing_relation is not none and existing_relation.is_table and not should_full_refresh()
               and row[0] == fingerprint and fingerprinted == inputs.relations | length -%}
            {{ return({'relations': [this.incorporate(type='table')]}) }}
        {%- endif -%}
    {%- endif -%}
    {%- set keys = enforced_constraint_types() | select('in', ['primary_key', 'unique', 'foreign_key'])
                   | list -%}
    {%- if existing_relation is not none and not existing_relation.is_table or (this | string) in sql
           or keys or config.get('partitioned_by') or config.get('sorted_by') -%}
        {%- set result = dbt.materialization_table_duckdb() -%}
        {%- do throughline.write_fingerprint(this.incorporate(type='table'), fingerprint) -%}
        {{ return(result) }}
    {%- endif -%}
    {{ return(throughline.replace_table(fingerprint)) }}
{%- endmaterialization %}

{#-
  A table (re)built in place: the old table is dropped and the new one created and fingerprinted in one
  statement, in the model's transaction, so a failed build rolls back to the old table. dbt-duckdb builds the
  new table under another name, renames the old one away and the new one in, drops the old one after the commit
  and writes the comment apart: 3.6 statements per table instead of 6.9, ~25 ms less of dbt's own work per table
  a nightly rebuilds (DuckDB's work is the same: dropping a table costs what it costs, inside or after). The
  swap exists for databases whose DDL is not transactional; DuckDB's is, and the warehouse has no readers while
  it builds (BI reads the published copy). DuckDB has no grants. A model reading its own previous build
  (`this`), a view being replaced by this table, a contract's key constraints (a table another's foreign key
  names cannot be dropped) or DuckLake's partitioning keep dbt-duckdb's materialization.
-#}
{% macro replace_table(fingerprint) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {%- call statement('main') -%}
        drop table if exists {{ target_relation }};
        {{ create_table_as(False, target_relation, sql) }}
        {{ throughline.fingerprint_comment(target_relation, fingerprint) }}
    {%- endcall -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- do create_indexes(target_relation) -%}
    {%- do persist_docs(target_relation, model) -%}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}

{#-
  What a table's fingerprint is made of (see above): `relations`, the (schema, name) of the tables and views
  whose comments count; `sources`, the (schema, name) of the source tables; `seeds`, their unique ids and
  checksums; `eligible`, false when the table must be rebuilt every run.
-#}
{% macro table_inputs() -%}
    {%- set inputs = {'eligible': true, 'relations': [], 'sources': [], 'seeds': []} -%}
    {%- set named = [] -%}
    {%- for unique_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
        {%- if node is not none -%}{%- do named.append(node.relation_name) -%}{%- endif -%}
    {%- endfor -%}
    {#- A relation the SQL names that is not one of its inputs: state the fingerprint cannot see. -#}
    {%- for name in modules.re.findall('"[^"]+"\\."[^"]+"\\."[^"]+"', sql) -%}
        {%- if name not in named -%}{%- do inputs.update({'eligible': false}) -%}{%- endif -%}
    {%- endfor -%}
    {%- set queue = model.depends_on.nodes | list -%}
    {%- set seen = [] -%}
    {#- Jinja has no while: walk the views breadth first, a bounded number of steps. -#}
    {%- for step in range(5000) if inputs.eligible and queue -%}
        {%- set unique_id = queue.pop(0) -%}
        {%- if unique_id not in seen -%}
            {%- do seen.append(unique_id) -%}
            {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
            {%- if node is none -%}
                {%- do inputs.update({'eligible': false}) -%}
            {%- elif node.resource_type == 'source' -%}
                {%- do inputs.sources.append((node.schema, node.identifier)) -%}
            {%- elif node.resource_type == 'seed' -%}
                {%- do inputs.seeds.append(unique_id ~ '=' ~ node.checksum.checksum) -%}
            {%- elif node.resource_type == 'model' and node.config.materialized == 'table' -%}
                {%- do inputs.relations.append((node.schema, node.alias)) -%}
            {%- elif node.resource_type == 'model' and node.config.materialized == 'view' -%}
                {%- do inputs.relations.append((node.schema, node.alias)) -%}
                {%- do queue.extend(node.depends_on.nodes) -%}
            {%- else -%}
                {%- do inputs.update({'eligible': false}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if queue -%}{%- do inputs.update({'eligible': false}) -%}{%- endif -%}
    {{- return(inputs) -}}
{%- endmacro %}

{#-
  The comments of `relations` ((schema, name) pairs), as one text: a scalar subquery. It starts with how many of
  them exist and carry a fingerprint of this project (`<n>/`): a table written by other means (by hand, by a
  restore) carries none, and its readers are rebuilt.
-#}
{% macro relation_comments_query(relations) -%}
    (select count(*) filter (where comment like 'throughline %') || '/'
        || coalesce(string_agg(schema_name || '.' || relation || '=' || coalesce(comment, '-'), ','
                               order by schema_name, relation), '')
     from (select database_name, schema_name, table_name as relation, comment from duckdb_tables()
           union all
           select database_name, schema_name, view_name, comment from duckdb_views()) as catalog
     where database_name = '{{ this.database }}'
       and (schema_name, relation) in ({{ throughline.relation_pairs(relations) }}))
{%- endmacro %}

{#- The states of the source tables `sources` ((schema, name) pairs), as one text: a scalar expression. The
    nightly reads the same states before dbt starts (operations/unchanged_nodes.py): change both together. -#}
{% macro source_states_query(sources) -%}
    {%- set states = [] -%}
    {%- for schema, name in sources | sort -%}
        {%- set relation = adapter.quote(schema) ~ '.' ~ adapter.quote(name) -%}
        {%- if schema == 'raw' and not name.startswith('_') -%}
            {%- set state = "coalesce(min(t.extracted_at)::varchar, '-') || ':'"
                            ~ " || coalesce(max(t.extracted_at)::varchar, '-')" -%}
        {%- else -%}
            {%- set state = "coalesce(sum(hash(t))::varchar, '-')" -%}
        {%- endif -%}
        {%- do states.append("(select '" ~ schema ~ "." ~ name ~ "=' || count(*) || ':' || " ~ state
                             ~ " from " ~ relation ~ " as t)") -%}
    {%- endfor -%}
    {{- (states | join(" || '|' || ")) if states else "''" -}}
{%- endmacro %}
