{#
  Spark SQL (the `spark` target, docs/DEPLOY.md#the-marts-on-apache-spark). In one file rather than beside the
  duckdb__/postgres__ bodies, so the other dialects' files stay as they were; operations/spark_copy.py
  NOT_PORTED names the models the Spark build leaves out.

  Spark has no JSON type: the raw payloads are text (operations/spark_copy.py), and so is every JSON value a
  macro returns (json_get: the value's JSON text, strings quoted). Paths are read with get_json_object and the
  VARIANT functions (parse_json, variant_get). The models' portable type names (varchar, float8, text,
  `array[...]`) are rewritten to Spark's by spark_dialect below, applied to every model and test before Spark
  parses it, so the models stay written once. String literals keep their backslashes as in DuckDB
  (spark.sql.parser.escapedStringLiterals, profiles.yml), so the regexes are written once too.
#}

{#- The models' DuckDB/PostgreSQL SQL as Spark SQL: type names, array literals, functions and clauses Spark
    names or writes otherwise (README.md beside this file lists them). -#}
{% macro spark_dialect(sql) -%}
    {%- set re = modules.re -%}
    {%- set sql = re.sub('(?i)::\\s*(varchar|text)\\[\\]', '::array<string>', sql) -%}
    {%- set sql = re.sub('(?i)::\\s*float8\\[\\]', '::array<double>', sql) -%}
    {%- set sql = re.sub('(?i)::\\s*bigint\\[\\]', '::array<bigint>', sql) -%}
    {%- set sql = re.sub('(?i)\\bas\\s+(varchar|text)\\[\\]\\s*\\)', 'as array<string>)', sql) -%}
    {%- set sql = re.sub('(?i)::\\s*(varchar|text|json)\\b(?!\\s*\\()', '::string', sql) -%}
    {%- set sql = re.sub('(?i)\\bas\\s+(varchar|text|json)\\s*\\)', 'as string)', sql) -%}
    {%- set sql = re.sub('(?i)\\bas\\s+float8\\[\\]\\s*\\)', 'as array<double>)', sql) -%}
    {%- set sql = re.sub('(?i)\\bfloat8\\b', 'double', sql) -%}
    {#- array[a, b] -> array(a, b), innermost first (no brackets inside); a namespace, as a loop's `set` stays
        inside the loop. -#}
    {%- set state = namespace(sql=sql) -%}
    {%- for _ in range(4) -%}
        {%- set state.sql = re.sub('(?i)\\barray\\[([^\\[\\]]*)\\]', 'array(\\1)', state.sql) -%}
    {%- endfor -%}
    {#- Arrays are indexed from 1 in DuckDB and PostgreSQL, from 0 in Spark (a JSON path's `[n]'`, inside its
        quotes, is left alone). -#}
    {%- for n in range(1, 10) -%}
        {%- set state.sql = re.sub('(?<=[\\w)\\]])\\[' ~ n ~ '\\](?![\'.])', '[' ~ (n - 1) ~ ']', state.sql) -%}
    {%- endfor -%}
    {#- unnest(array) in a select list; functions Spark names otherwise -#}
    {%- set sql = re.sub('(?i)\\bunnest\\(', 'explode(', state.sql) -%}
    {%- set sql = re.sub('(?i)\\bstarts_with\\(', 'startswith(', sql) -%}
    {%- set sql = re.sub('(?i)\\barray_cat\\(', 'concat(', sql) -%}
    {%- set sql = re.sub('(?i)\\bstrpos\\(', 'instr(', sql) -%}
    {%- set sql = re.sub('(?i)\\barray_to_string\\(', 'array_join(', sql) -%}
    {#- a function of the listed elements, `lower(trim(unnest(labels)))`: the function inside, on each element -#}
    {%- set sql = re.sub('(?i)\\blower\\(trim\\(explode\\(([\\w.]+)\\)\\)\\)',
        'explode(transform(\\1, element -> lower(trim(element))))', sql) -%}
    {#- `x = any(array(...))`, an array literal's membership -#}
    {%- set sql = re.sub('(?i)([\\w.]+)\\s*=\\s*any\\((array\\([^()]*\\)(::array<\\w+>)?)\\)', 'array_contains(\\2, \\1)', sql) -%}
    {#- a column alias in double quotes (signals' "limit"); elsewhere double quotes are text in Spark -#}
    {%- set sql = re.sub('(?i)\\bas\\s+"(\\w+)"', 'as `\\1`', sql) -%}
    {#- PostgreSQL's dollar-quoted text (the flow state words, macros/flow_state.sql): a double-quoted literal. -#}
    {%- set sql = re.sub('\\$\\$([^$"\\n]*)\\$\\$', '"\\1"', sql) -%}
    {#- PostgreSQL's `with x as materialized (`: Spark plans each CTE itself. -#}
    {%- set sql = re.sub('(?i)\\bas\\s+materialized\\s*\\(', 'as (', sql) -%}
    {%- set sql = throughline.spark_cast_generated_rows(sql) -%}
    {{- throughline.spark_nulls_last(throughline.spark_string_agg_order(throughline.spark_distinct_on(sql))) -}}
{%- endmacro %}

{#- From `start`, just inside an opening parenthesis: the index of the `)` closing it (none: the text ends
    first) and where the last ORDER BY at that depth starts and ends. Comments and literals are skipped. -#}
{% macro spark_scan_parenthesis(sql, start) -%}
    {%- set tokens = modules.re.compile("(?i)--[^\\n]*|'[^']*'|\"[^\"]*\"|\\(|\\)|\\border\\s+by\\b") -%}
    {%- set scan = namespace(depth=0, end=none, order_at=none, order_end=none) -%}
    {%- for token in tokens.finditer(sql, start) if scan.end is none -%}
        {%- set text = token.group(0) -%}
        {%- if text == '(' -%}
            {%- set scan.depth = scan.depth + 1 -%}
        {%- elif text == ')' and scan.depth == 0 -%}
            {%- set scan.end = token.start() -%}
        {%- elif text == ')' -%}
            {%- set scan.depth = scan.depth - 1 -%}
        {%- elif text[:1] not in ["-", "'", '"'] and scan.depth == 0 -%}
            {%- set scan.order_at = token.start() -%}
            {%- set scan.order_end = token.end() -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return({'end': scan.end, 'order_at': scan.order_at, 'order_end': scan.order_end}) -}}
{%- endmacro %}

{#- Generated rows cast to dates as they are listed (`{{ timestamp_series_rows(...) }}::date`, time.sql): Spark
    takes no expression around a generator, and spark__timestamp_series_rows lists dates already, so the cast
    goes. -#}
{% macro spark_cast_generated_rows(sql) -%}
    {%- set re = modules.re -%}
    {%- set state = namespace(sql=sql, at=0) -%}
    {%- for _ in range(12) -%}
        {%- set found = re.compile('(?i)\\bexplode\\(case when cast\\(cast\\(').search(state.sql, state.at) -%}
        {%- if found -%}
            {%- set close = throughline.spark_scan_parenthesis(state.sql, found.start() + 8)['end'] -%}
            {%- set wrapped = state.sql[:found.start()].rstrip().endswith('(') -%}
            {%- set cast = re.compile('\\s*' ~ ('\\)' if wrapped else '') ~ '\\s*::\\s*date\\b').match(state.sql, close + 1) -%}
            {%- if cast -%}
                {%- set replaced = state.sql[:close + 1] ~ (')' if wrapped else '') -%}
                {%- set state.sql = replaced ~ state.sql[cast.end():] -%}
                {%- set state.at = replaced | length -%}
            {%- else -%}
                {%- set state.at = found.end() -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{- state.sql -}}
{%- endmacro %}

{#- `string_agg(x, sep order by y)` as Spark writes it: `string_agg(x, sep) within group (order by y)`. -#}
{% macro spark_string_agg_order(sql) -%}
    {%- set re = modules.re -%}
    {%- set opening = re.compile('(?i)\\bstring_agg\\s*\\(') -%}
    {%- set state = namespace(sql=sql, at=0) -%}
    {%- for _ in range(12) -%}
        {%- set found = opening.search(state.sql, state.at) -%}
        {%- if found -%}
            {%- set scan = throughline.spark_scan_parenthesis(state.sql, found.end()) -%}
            {%- set arguments = state.sql[found.end():scan['order_at']] if scan['order_at'] is not none else '' -%}
            {%- if scan['order_at'] is not none and scan['end'] is not none and re.match('(?i)\\s*distinct\\s', arguments) -%}
                {#- distinct and ordered by the value: Spark 4.3's listagg fails to plan DISTINCT with WITHIN GROUP
                    here (ClassCastException), so the sorted set is joined instead -#}
                {%- set value, separator = re.sub('(?i)^\\s*distinct\\s', '', arguments).rsplit(',', 1) -%}
                {%- set replaced = state.sql[:found.start()] ~ 'nullif(array_join(array_sort(collect_set(' ~ value
                    ~ ')), ' ~ separator ~ '), \'\')' -%}
            {%- elif scan['order_at'] is not none and scan['end'] is not none -%}
                {%- set replaced = state.sql[:scan['order_at']] ~ ') within group (order by '
                    ~ state.sql[scan['order_end']:scan['end']] ~ ')' -%}
            {%- else -%}
                {%- set replaced = none -%}
            {%- endif -%}
            {%- if replaced is none -%}
                {%- set state.at = found.end() -%}
            {%- else -%}
                {%- set state.sql = replaced ~ state.sql[scan['end'] + 1:] -%}
                {%- set state.at = replaced | length -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{- state.sql -}}
{%- endmacro %}

{#-
  DuckDB and PostgreSQL sort NULLs last in ascending order, Spark first: each ascending ORDER BY item
  without a NULLS clause gets `nulls last` (descending, all three put them last).
-#}
{% macro spark_nulls_last(sql) -%}
    {%- set re = modules.re -%}
    {%- set tokens = re.compile("(?i)--[^\\n]*|'[^']*'|\"[^\"]*\"|\\(|\\)|,|;|\\border\\s+by\\b"
        ~ "|\\b(?:rows|range|groups|limit|offset|qualify|window|union|except|intersect)\\b") -%}
    {%- set scan = namespace(depth=0, clause_depth=none, item_start=none, ends=[]) -%}
    {%- for token in tokens.finditer(sql) -%}
        {%- set text = token.group(0) | lower -%}
        {%- if text[:2] == '--' or text[:1] in ["'", '"'] -%}
        {%- elif text == '(' -%}
            {%- set scan.depth = scan.depth + 1 -%}
        {%- elif scan.clause_depth is not none and scan.depth == scan.clause_depth and text != '(' -%}
            {%- do scan.ends.append((scan.item_start, token.start())) -%}
            {%- if text == ',' -%}
                {%- set scan.item_start = token.end() -%}
            {%- else -%}
                {%- set scan.clause_depth = none -%}
                {%- if text == ')' %}{% set scan.depth = scan.depth - 1 %}{% endif -%}
            {%- endif -%}
        {%- elif text == ')' -%}
            {%- set scan.depth = scan.depth - 1 -%}
        {%- elif text[:5] == 'order' and scan.clause_depth is none -%}
            {%- set scan.clause_depth = scan.depth -%}
            {%- set scan.item_start = token.end() -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if scan.clause_depth is not none %}{% do scan.ends.append((scan.item_start, sql | length)) %}{% endif -%}
    {%- set state = namespace(sql=sql) -%}
    {%- for start, end in scan.ends | reverse -%}
        {%- set item = re.sub('(\\s*--[^\\n]*)*\\s*$', '', state.sql[start:end]) -%}
        {%- if item.strip() and not re.search('(?i)\\b(desc|nulls\\s+(first|last))$', item) -%}
            {%- set state.sql = state.sql[:start + item | length] ~ ' nulls last' ~ state.sql[start + item | length:] -%}
        {%- endif -%}
    {%- endfor -%}
    {{- state.sql -}}
{%- endmacro %}

{#-
  `select distinct on (keys) list ... order by ordering` (DuckDB and PostgreSQL: the first row of each key in
  that order) as `select list ... qualify row_number() over (partition by keys order by ordering) = 1`.
  The statement ends at the parenthesis that closes its CTE or subquery (or at the end); its last ORDER BY at
  that depth moves into the window. Comments and string literals are skipped while counting parentheses.
-#}
{% macro spark_distinct_on(sql) -%}
    {%- set re = modules.re -%}
    {%- set opening = re.compile('(?i)\\bselect\\s+distinct\\s+on\\s*\\(') -%}
    {%- set state = namespace(sql=sql) -%}
    {%- for _ in range(12) -%}
        {%- set found = opening.search(state.sql) -%}
        {%- if found -%}
            {%- set keys_end = throughline.spark_scan_parenthesis(state.sql, found.end())['end'] -%}
            {%- set scan = throughline.spark_scan_parenthesis(state.sql, keys_end + 1) -%}
            {%- set end = scan['end'] if scan['end'] is not none else state.sql | length -%}
            {%- set keys = state.sql[found.end():keys_end] -%}
            {%- if scan['order_at'] is not none -%}
                {%- set body = state.sql[keys_end + 1:scan['order_at']] -%}
                {%- set ordering = state.sql[scan['order_end']:end] -%}
            {%- else -%}
                {%- set body = state.sql[keys_end + 1:end] -%}
                {%- set ordering = keys -%}
            {%- endif -%}
            {%- set state.sql = state.sql[:found.start()] ~ 'select ' ~ body
                ~ '\nqualify row_number() over (partition by ' ~ keys ~ ' order by ' ~ ordering ~ '\n) = 1\n'
                ~ state.sql[end:] -%}
        {%- endif -%}
    {%- endfor -%}
    {{- state.sql -}}
{%- endmacro %}

{#- Every model's and test's SQL goes through spark_dialect before dbt-spark's own statements. -#}
{% macro spark__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {{ dbt.spark__create_table_as(temporary, relation,
        throughline.spark_dialect(compiled_code) if language == 'sql' else compiled_code, language) }}
{%- endmacro %}
{% macro spark__create_view_as(relation, sql) -%}
    {{ dbt.spark__create_view_as(relation, throughline.spark_dialect(sql)) }}
{%- endmacro %}
{#- The seeds' rows as literals: dbt-spark's session method pastes its bindings in unescaped (`'Won't Do'`).
    A quote inside a value is chr(39); backslashes are themselves (escapedStringLiterals). -#}
{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- set column_override = model['config'].get('column_types') or {} -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
            ({%- for col_name in agate_table.column_names -%}
                {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                {%- set value = row[loop.index0] -%}
                cast({{ 'null' if value is none else "concat('" ~ (value | string | replace("'", "', chr(39), '")) ~ "')" }} as {{ type }})
                {%- if not loop.last %}, {% endif -%}
            {%- endfor -%}){{ "," if not loop.last }}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first %}{% do statements.append(sql) %}{% endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{%- endmacro %}
{#- The seeds' column_types (varchar, float8) as Spark's, for the table and the rows dbt-spark inserts. -#}
{% macro spark__create_csv_table(model, agate_table) -%}
    {%- set column_types = model['config'].get('column_types') or {} -%}
    {%- for name, type in column_types.items() | list -%}
        {%- do column_types.update({name: modules.re.sub('(?i)^(varchar|text)$', 'string', type)
            | replace('float8', 'double')}) -%}
    {%- endfor -%}
    {{ return(dbt.spark__create_csv_table(model, agate_table)) }}
{%- endmacro %}
{#- The marts' contracts: their .yml types (varchar, float8) read as Spark's when dbt checks them. -#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {{ throughline.spark_dialect(dbt.default__get_empty_schema_sql(columns)) }}
{%- endmacro %}
{#- The raw layer's timestamps are TIMESTAMP_NTZ on Spark (operations/spark_copy.py), the parsed ones TIMESTAMP
    (the session is in UTC): both are the contract's `timestamp`, a UTC wall time. Spark's row_number() and
    rank() are `int` where DuckDB's are bigint: the contract checks whole numbers as whole numbers there. -#}
{% macro spark__format_column(column) -%}
    {%- set aliases = {'timestamp_ntz': 'timestamp', 'int': 'bigint'} -%}
    {%- set data_type = aliases.get(column.dtype | lower, column.dtype) -%}
    {{ return({'name': column.name, 'data_type': data_type, 'formatted': column.column.lower() ~ ' ' ~ data_type}) }}
{%- endmacro %}
{#- A Parquet table has no NOT NULL constraint to add (dbt-spark adds them unless a file_format says otherwise,
    for Delta); the data tests check them in the DuckDB build. -#}
{% macro spark__persist_constraints(relation, model) -%}
    {%- if config.get('file_format') == 'delta' -%}
    {{ dbt.spark__persist_constraints(relation, model) }}
    {%- endif -%}
{%- endmacro %}
{% macro spark__get_test_sql(main_sql, fail_calc, warn_if, error_if, limit) -%}
    {{ dbt.default__get_test_sql(throughline.spark_dialect(main_sql), fail_calc, warn_if, error_if, limit) }}
{%- endmacro %}

{#
  Incremental models on Spark. Most are rebuilt in full: their delete+insert by a key (an item's, a parent's)
  and the post-hooks that delete vanished rows need row-level deletes, which Parquet tables do not have (Delta
  has them, and its jars are not in the package registries this project installs from; a `merge` port needs
  them). A full build gives the same rows, as the incremental tests check on DuckDB. A model whose increment is
  whole partitions (every row of a date it writes is rewritten) declares `spark_partition_by`: on Spark it is a
  Parquet table partitioned by that column, written with dbt-spark's `insert_overwrite` (dynamic partition
  overwrite: the dates the run produces are replaced, the others kept), the same as delete+insert by that
  column. forecast_history is one: a full rebuild would drop every earlier snapshot.
#}
{% materialization incremental, adapter='spark' -%}
    {%- if config.get('spark_partition_by') -%}
    {{ return(dbt.materialization_incremental_spark()) }}
    {%- else -%}
    {{ return(dbt.materialization_table_spark()) }}
    {%- endif -%}
{%- endmaterialization %}

{% macro is_incremental() -%}
    {%- if target.type == 'spark' and not config.get('spark_partition_by') -%}
    {{ return(false) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}

{#- The config of an incremental model replaced by partition (see above): delete+insert by `column` on DuckDB
    and PostgreSQL, insert_overwrite of a Parquet table partitioned by it on Spark. -#}
{% macro partition_increment_config(column) -%}
    {%- if target.type == 'spark' -%}
    {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [column], 'file_format': 'parquet',
               'spark_partition_by': column}) }}
    {%- endif -%}
    {{ return({'incremental_strategy': 'delete+insert', 'unique_key': column}) }}
{%- endmacro %}

{# ---- JSON (json.sql, staging.sql, jira.sql) ---- #}

{% macro spark__json_text(expression, path) -%}
    get_json_object({{ expression }}, '$.{{ path }}')
{%- endmacro %}
{% macro spark__json_parse(expression) -%}
    ({{ expression }})
{%- endmacro %}
{% macro spark__json_get(expression, path) -%}
    to_json(try_variant_get(try_parse_json({{ expression }}), '$.{{ path }}', 'variant'))
{%- endmacro %}
{% macro spark__json_text_at_key(expression, path, key_expression) -%}
    get_json_object({{ expression }}, concat('$.{{ path }}[', chr(39), {{ key_expression }}, chr(39), ']'))
{%- endmacro %}
{% macro spark__json_get_at_key(expression, path, key_expression) -%}
    to_json(try_variant_get(try_parse_json({{ expression }}), concat('$.{{ path }}[', chr(39), {{ key_expression }}, chr(39), ']'), 'variant'))
{%- endmacro %}
{% macro spark__json_kind(expression) -%}
    (case
        when {{ expression }} is null then null
        when schema_of_variant(try_parse_json({{ expression }})) like 'OBJECT%' then 'object'
        when schema_of_variant(try_parse_json({{ expression }})) like 'ARRAY%' then 'array'
        when schema_of_variant(try_parse_json({{ expression }})) = 'STRING' then 'string'
        when schema_of_variant(try_parse_json({{ expression }})) = 'BOOLEAN' then 'boolean'
        when schema_of_variant(try_parse_json({{ expression }})) = 'VOID' then 'null'
        else 'number'
    end)
{%- endmacro %}
{#- A JSON array's elements as an array of VARIANT (NULL when not an array). -#}
{% macro spark_json_elements(expression) -%}
    try_variant_get(try_parse_json({{ expression }}), '$', 'array<variant>')
{%- endmacro %}
{#- A VARIANT as DuckDB's `->>` gives it: a string unquoted, other values as JSON text, JSON null as NULL. -#}
{% macro spark_variant_text(variant) -%}
    (case when schema_of_variant({{ variant }}) in ('STRING', 'VOID') then variant_get({{ variant }}, '$', 'string')
          else to_json({{ variant }}) end)
{%- endmacro %}
{% macro spark__json_text_array(expression) -%}
    transform({{ throughline.spark_json_elements(expression) }}, element -> {{ throughline.spark_variant_text('element') }})
{%- endmacro %}
{% macro spark__json_array_field_texts(expression, field) -%}
    transform({{ throughline.spark_json_elements(expression) }},
        element -> {{ throughline.spark_variant_text("try_variant_get(element, '$." ~ field ~ "', 'variant')") }})
{%- endmacro %}
{% macro spark__json_array_rows(expression) -%}
    explode(transform({{ throughline.spark_json_elements(expression) }}, element -> to_json(element)))
{%- endmacro %}
{% macro spark__json_wildcard_texts(expression, array_path, field_path='') -%}
    {%- set field = "try_variant_get(element, '$" ~ ("." ~ field_path if field_path) ~ "', 'variant')" -%}
    (case when {{ expression }} is not null then coalesce(transform(
        filter(try_variant_get(try_parse_json({{ expression }}), '$.{{ array_path }}', 'array<variant>'),
               element -> {{ field }} is not null),
        element -> {{ throughline.spark_variant_text(field) }}), array()) end)
{%- endmacro %}
{% macro spark__json_wildcard_first_text(expression, array_path, field_path) -%}
    element_at({{ throughline.spark__json_wildcard_texts(expression, array_path, field_path) }}, 1)
{%- endmacro %}
{% macro spark__json_array_count(expression) -%}
    (case when {{ expression }} is not null then coalesce(json_array_length({{ expression }}), 0) end)
{%- endmacro %}
{% macro spark__distinct_texts(array_expression) -%}
    array_sort(array_distinct(filter({{ array_expression }}, element -> element is not null)))
{%- endmacro %}
{% macro spark__epoch_ms_to_timestamp(milliseconds) -%}
    timestamp_millis(cast({{ milliseconds }} as bigint))
{%- endmacro %}
{% macro spark__add_milliseconds(expression, milliseconds) -%}
    timestamp_micros(unix_micros({{ expression }}) + cast({{ milliseconds }} as bigint) * 1000)
{%- endmacro %}
{% macro spark__jira_parsed_paths(relation, text_paths, json_paths) -%}
    select * from {{ relation }}
{%- endmacro %}
{% macro spark__jira_parsed_path_refs(text_paths, json_paths) -%}
    {%- set refs = {'text': {}, 'json': {}} -%}
    {%- for path in text_paths %}{% do refs.text.update({path: throughline.spark__json_text('payload', path)}) %}{% endfor -%}
    {%- for path in json_paths %}{% do refs.json.update({path: throughline.spark__json_get('payload', path)}) %}{% endfor -%}
    {{ return(refs) }}
{%- endmacro %}
{% macro spark__json_object_rows(expression, duckdb_type) -%}
    {{ throughline.spark__json_array_rows(expression) }}
{%- endmacro %}
{% macro spark__json_object_field(name, path) -%}
    get_json_object({{ name }}, '$.{{ path }}')
{%- endmacro %}

{# ---- Text (text.sql): Java regular expressions, which read `\b` and `(?i)` as RE2 does. ---- #}
{% macro spark_flagged(pattern, flags) -%}
    {%- if 'i' in flags -%}concat('(?i)', {{ pattern }}){%- else -%}{{ pattern }}{%- endif -%}
{%- endmacro %}
{% macro spark__regex_matches(expression, pattern, flags='') -%}
    ({{ expression }} rlike {{ throughline.spark_flagged(pattern, flags) }})
{%- endmacro %}
{% macro spark__regex_extract(expression, pattern, group=0, flags='') -%}
    regexp_extract({{ expression }}, {{ throughline.spark_flagged(pattern, flags) }}, {{ group }})
{%- endmacro %}
{% macro spark__regex_extract_all_rows(expression, pattern, group=0) -%}
    explode(regexp_extract_all({{ expression }}, {{ pattern }}, {{ group }}))
{%- endmacro %}
{% macro spark__regex_replace(expression, pattern, replacement, flags='g') -%}
    {#- Spark replaces every match; DuckDB's models always pass 'g' (or 'gi'). Backreferences: $1, not \1. -#}
    regexp_replace({{ expression }}, {{ throughline.spark_flagged(pattern, flags) }},
        regexp_replace({{ replacement }}, '\\([0-9])', '\$$1'))
{%- endmacro %}
{% macro spark__contains_text(expression, part) -%}
    contains({{ expression }}, {{ part }})
{%- endmacro %}
{% macro spark__split_text(expression, delimiter) -%}
    split({{ expression }}, concat('\Q', {{ delimiter }}, '\E'))
{%- endmacro %}
{% macro spark__array_map(array_expression, element_sql) -%}
    transform({{ array_expression }}, element -> {{ element_sql }})
{%- endmacro %}
{% macro spark__array_filter(array_expression, element_sql) -%}
    filter({{ array_expression }}, element -> {{ element_sql }})
{%- endmacro %}

{# ---- Casts, times, arrays, aggregates ---- #}
{% macro spark__try_cast(expression, type) -%}
    {#- dbt-spark runs with ANSI mode off, where a cast that fails is NULL. -#}
    cast({{ expression }} as {{ throughline.spark_dialect(type) }})
{%- endmacro %}
{% macro spark__to_utc_timestamp(expression) -%}
    {#- Spark reads `Z` and `+hh:mm` offsets; Jira's `+hhmm` gets its colon. The session's zone is UTC. -#}
    cast(regexp_replace({{ expression }}, '([+-][0-9]{2})([0-9]{2})$', '$1:$2') as timestamp)
{%- endmacro %}
{% macro spark__epoch_seconds(expression) -%}
    (unix_micros({{ expression }}) / 1000000.0D)
{%- endmacro %}
{% macro spark__microseconds_between(start_expression, end_expression) -%}
    (unix_micros({{ end_expression }}) - unix_micros({{ start_expression }}))
{%- endmacro %}
{% macro spark__seconds_between(start_expression, end_expression) -%}
    (unix_seconds({{ end_expression }}) - unix_seconds({{ start_expression }}))
{%- endmacro %}
{% macro spark__flow_hours_interval(hours) -%}
    make_dt_interval(0, 0, 0, cast(({{ hours }}) * 3600000000 as bigint) / 1000000.0)
{%- endmacro %}
{#- A series of dates: every caller casts each element to a date (`{{ timestamp_series_rows(...) }}::date`),
    and Spark takes no expression around a generator, so the cast moves inside (spark_cast_generated_rows
    drops the one after it). The bounds are dates or midnights in every caller; a stop before the start gives no
    row, as in DuckDB (Spark's sequence() fails). -#}
{% macro spark__timestamp_series_rows(start, stop, step) -%}
    {%- set first = 'cast(cast(' ~ start ~ ' as timestamp) as date)' -%}
    {%- set last = 'cast(cast(' ~ stop ~ ' as timestamp) as date)' -%}
    explode(case when {{ first }} <= {{ last }} then sequence({{ first }}, {{ last }}, {{ step }}) end)
{%- endmacro %}
{% macro spark__integer_series_rows(start, stop) -%}
    explode(sequence(cast({{ start }} as bigint), cast({{ stop }} as bigint)))
{%- endmacro %}
{% macro spark__md5_integer(text_expression) -%}
    cast(conv(substr(md5({{ text_expression }}), 1, 7), 16, 10) as bigint)
{%- endmacro %}
{% macro spark__url_decoded(expression) -%}
    {#- Spark's url_decode turns `+` into a space and fails on a stray `%`; DuckDB's keeps both. -#}
    try_url_decode(replace({{ expression }}, '+', '%2B'))
{%- endmacro %}
{% macro spark__array_has_value(array_expression, value_expression) -%}
    array_contains({{ array_expression }}, {{ value_expression }})
{%- endmacro %}
{% macro spark__arrays_overlap(left_expression, right_expression) -%}
    arrays_overlap({{ left_expression }}, {{ right_expression }})
{%- endmacro %}
{% macro spark__array_to_text(array_expression, separator) -%}
    nullif(array_join({{ array_expression }}, {{ separator }}), '')
{%- endmacro %}
{% macro spark__percentile_cont(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}
{% macro spark__percentile_disc(expression, fraction) -%}
    percentile_disc({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}
{% macro spark__arg_max(value, ordering) -%}
    max_by({{ value }}, case when {{ value }} is not null then {{ ordering }} end)
{%- endmacro %}
{% macro spark__arg_min(value, ordering) -%}
    min_by({{ value }}, case when {{ value }} is not null then {{ ordering }} end)
{%- endmacro %}
{% macro spark__ordered_aggregate(function, expression, order_by) -%}
    {{ function }}({{ expression }})
{%- endmacro %}

{% macro spark__array_of(expression, order_by=none) -%}
    {#- collect_list drops NULLs (DuckDB's list keeps them); with an order, the values ride in structs (never
        NULL) sorted by a comparator that puts NULL keys last either way, as DuckDB. `order_by`: keys separated
        by ", ", each optionally `desc`/`asc`. -#}
    {%- if order_by -%}
    {%- set keys = [] -%}
    {%- for item in order_by.split(', ') -%}
        {%- set words = item.strip().split(' ') -%}
        {%- set descending = words[-1] | lower == 'desc' -%}
        {%- do keys.append((words[:-1] | join(' ') if words[-1] | lower in ['asc', 'desc'] else item.strip(), descending)) -%}
    {%- endfor -%}
    transform(array_sort(collect_list(named_struct(
        {%- for key, descending in keys %}'k{{ loop.index }}', {{ key }}, {% endfor %}'v', {{ expression }})),
        {%- set cmp = namespace(sql='0') -%}
        {%- for key, descending in keys | reverse -%}
            {%- set k = 'k' ~ (keys | length - loop.index + 1) -%}
            {%- set cmp.sql = 'case when l.' ~ k ~ ' is null and r.' ~ k ~ ' is null then ' ~ cmp.sql
                ~ ' when l.' ~ k ~ ' is null then 1 when r.' ~ k ~ ' is null then -1'
                ~ ' when l.' ~ k ~ ' < r.' ~ k ~ ' then ' ~ ('1' if descending else '-1')
                ~ ' when l.' ~ k ~ ' > r.' ~ k ~ ' then ' ~ ('-1' if descending else '1')
                ~ ' else ' ~ cmp.sql ~ ' end' -%}
        {%- endfor %}
        (l, r) -> {{ cmp.sql }}
    ), e -> e.v)
    {%- else -%}
    collect_list({{ expression }})
    {%- endif -%}
{%- endmacro %}
{% macro spark__distinct_sorted_array(expression) -%}
    array_sort(collect_set({{ expression }}))
{%- endmacro %}
{% macro spark__distinct_sorted_array_elements(array_expression) -%}
    array_sort(array_distinct(filter(flatten(collect_list({{ array_expression }})), element -> element is not null)))
{%- endmacro %}

{# ---- Jira changelog (macros/jira_changelog_items.sql) ---- #}
{% macro spark__jira_changelog_items(containing=none, ignore_case=false, recent=false) -%}
with
{{ throughline.jira_histories_source(recent) }}
    {%- if containing and ignore_case %}
        and changelogs.payload rlike '(?i){{ containing }}'
    {%- elif containing %}
        and contains(changelogs.payload, '{{ containing }}')
    {%- endif %}
),

items as (
    select
        source.record_key as history_id,
        source.parent_key as issue_id,
        source.source_instance,
        get_json_object(source.payload, '$.created') as created,
        get_json_object(source.payload, '$.author.accountId') as author_account_id,
        posexplode(from_json(get_json_object(source.payload, '$.items'),
            'array<struct<field:string, fieldtype:string, fieldId:string, `from`:string, fromString:string, `to`:string, toString:string>>'))
            as (item_position, item)
    from source
)

select
    history_id,
    item_position + 1 as item_index,
    issue_id,
    source_instance,
    {{ throughline.to_utc_timestamp('created') }} as changed_at,
    -- Jira sends an empty accountId for deleted or anonymised users.
    nullif(author_account_id, '') as author_account_id,
    item.field as field,
    item.fieldtype as field_type,
    item.fieldId as field_id,
    item.`from` as from_value,
    item.fromString as from_string,
    item.`to` as to_value,
    item.toString as to_string
from items
{%- endmacro %}

{# ---- Deployments and DORA (deployments.sql, dora.sql) ---- #}
{#- A glob (a SQL text expression) as an anchored Java regex, following DuckDB's GLOB: `*` any run, `?` one
    character, `[!...]` a negated class; other regex characters literal. -#}
{% macro spark_glob_regex(glob_expression) -%}
    concat('^', regexp_replace(regexp_replace(regexp_replace(regexp_replace({{ glob_expression }},
        '([.+(){}|^$\\])', '\\$1'), '\*', '.*'), '\?', '.'), '\[!', '[^'), '$')
{%- endmacro %}
{% macro spark__glob_matches(text_expression, glob_expression) -%}
    ({{ text_expression }} rlike {{ throughline.spark_glob_regex(glob_expression) }})
{%- endmacro %}
{% macro spark__glob_matches_any(text_expression, globs_expression) -%}
    coalesce(exists({{ globs_expression }}, g -> {{ text_expression }} rlike {{ throughline.spark_glob_regex('g') }}), false)
{%- endmacro %}
{#- A struct, as DuckDB's; Spark sorts a struct's NULL fields first, DuckDB last, so each field is preceded by
    whether it is NULL. -#}
{% macro spark__ordering_key(fields) -%}
    named_struct({% for name, sql in fields %}'{{ name }}_is_null', ({{ sql }}) is null, '{{ name }}', {{ sql }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
{% macro spark__arg_max_where(value, ordering, condition) -%}
    max_by({{ value }}, case when ({{ condition }}) and {{ value }} is not null then {{ ordering }} end)
{%- endmacro %}
{% macro spark__dora_latest_key(condition, ordered_at, key, window) -%}
    max(case when {{ condition }} then named_struct('at_is_null', ({{ ordered_at }}) is null, 'at', {{ ordered_at }},
            'k_is_null', ({{ key }}) is null, 'k', {{ key }}) end) over (
            {{ window }}
        ).k
{%- endmacro %}

{# ---- Realization and signals (realization.sql, signals.sql) ---- #}
{% macro spark__json_elements_or_value_rows(expression) -%}
    explode(case
        when {{ throughline.spark__json_kind(expression) }} = 'array'
            then transform({{ throughline.spark_json_elements(expression) }}, element -> to_json(element))
        else array({{ expression }})
    end)
{%- endmacro %}
{% macro spark__json_scalar_text(expression) -%}
    case when {{ throughline.spark__json_kind(expression) }} in ('string', 'number', 'boolean')
        then {{ throughline.spark_variant_text('try_parse_json(' ~ expression ~ ')') }} end
{%- endmacro %}
{#- The keys as a struct whose NULL fields sort last (see spark__ordering_key); `-x` keys stay expressions. -#}
{% macro spark__min_by_keys(value, keys, condition=none) -%}
    min_by({{ value }}, case when {{ value }} is not null
        {%- if keys | length == 1 %} and ({{ keys[0] }}) is not null{% endif %}
        {%- if condition %} and ({{ condition }}){% endif %}
        then named_struct({% for key in keys %}'n{{ loop.index }}', ({{ key }}) is null, 'k{{ loop.index }}', {{ key }}{{ ", " if not loop.last }}{% endfor %}) end)
{%- endmacro %}
{#- PostgreSQL's LATERAL subquery with ORDER BY ... LIMIT 1 (Spark 4 decorrelates it). -#}
{% macro spark__latest_at_or_before_join(relation, alias, conditions, right_time, left_time, kind) -%}
    {{ throughline.postgres__latest_at_or_before_join(relation, alias, conditions, right_time, left_time, kind) }}
{%- endmacro %}
{% macro spark__round_half_away(expression, digits=0) -%}
    {#- Spark's round() rounds the decimal text of the double (1.005 -> 1.01); DuckDB C's round() of x * 10^d. -#}
    {%- set scale = 10 ** digits -%}
    {%- set scaled = '(cast(' ~ expression ~ ' as double) * cast(' ~ scale ~ ' as double))' -%}
    (sign({{ scaled }}) * (case
        when abs({{ scaled }}) - floor(abs({{ scaled }})) >= 0.5 then cast(ceil(abs({{ scaled }})) as double)
        else cast(floor(abs({{ scaled }})) as double)
    end) / cast({{ scale }} as double))
{%- endmacro %}
{% macro spark__float_text(expression) -%}
    {#- Java's Double.toString gives the shortest digits as DuckDB does, but writes exponents outside 1e-3..1e7
        (`1.2E7`, `1.0E-5`) where DuckDB writes them outside 1e-4..1e16, as `1e-05`, `1.5e+20`: Java's text is
        rewritten from its digits and exponent into DuckDB's form in those ranges. -#}
    {%- set text = 'cast(cast(' ~ expression ~ ' as double) as string)' -%}
    {%- set sign = "case when " ~ text ~ " like '-%' then '-' else '' end" -%}
    {%- set first = "regexp_extract(" ~ text ~ ", '^-?([0-9])\\.', 1)" -%}
    {%- set fraction = "regexp_extract(" ~ text ~ ", '\\.([0-9]+)E', 1)" -%}
    {%- set digits = "(" ~ first ~ " || case when " ~ fraction ~ " = '0' then '' else " ~ fraction ~ " end)" -%}
    {%- set exponent = "cast(regexp_extract(" ~ text ~ ", 'E(-?[0-9]+)$', 1) as int)" -%}
    (case
        when {{ text }} not like '%E%' then {{ text }}
        when abs(cast({{ expression }} as double)) >= 1e-4 and abs(cast({{ expression }} as double)) < 1e16 then
            {{ sign }} || case
                when {{ exponent }} < 0 then '0.' || repeat('0', -{{ exponent }} - 1) || {{ digits }}
                when length({{ digits }}) <= {{ exponent }} + 1
                    then {{ digits }} || repeat('0', {{ exponent }} + 1 - length({{ digits }})) || '.0'
                else substr({{ digits }}, 1, {{ exponent }} + 1) || '.' || substr({{ digits }}, {{ exponent }} + 2)
            end
        else
            {{ sign }} || {{ first }} || case when {{ fraction }} = '0' then '' else '.' || {{ fraction }} end
            || 'e' || case when {{ exponent }} < 0 then '-' else '+' end
            || case when abs({{ exponent }}) < 10 then '0' else '' end || cast(abs({{ exponent }}) as string)
    end)
{%- endmacro %}

{# ---- The flow chain (flow.sql): PostgreSQL's portable bodies where Spark reads them as they are ---- #}
{% macro spark__flow_changelog_status_sightings(changes) -%}
    {{ throughline.postgres__flow_changelog_status_sightings(changes) }}
{%- endmacro %}
{% macro spark__flow_team_rules_chosen() -%}
    select source_instance, issue_id, team, value_stream
    from (
        select
            issue_team_keys.source_instance,
            issue_team_keys.issue_id,
            team_rules.team,
            team_rules.value_stream,
            row_number() over (
                partition by issue_team_keys.source_instance, issue_team_keys.issue_id
                order by team_rules.precedence, team_rules.team
            ) as rule_rank
        from issue_team_keys
        inner join team_rules
            on team_rules.match_on = issue_team_keys.match_on
            and team_rules.match_key = issue_team_keys.match_key
            and team_rules.source_instance in (issue_team_keys.source_instance, '*')
    ) as ranked_rules
    where rule_rank = 1
{%- endmacro %}
{% macro spark__flow_last_membership_change(condition) -%}
    max_by(membership_changes.change, case
        when ({{ condition }}) and membership_changes.change is not null and membership_changes.changed_at is not null
        then named_struct('at', membership_changes.changed_at,
            'h_is_null', membership_changes.history_number is null, 'h', membership_changes.history_number,
            'i_is_null', membership_changes.item_index is null, 'i', membership_changes.item_index) end)
{%- endmacro %}
{% macro spark__flow_rebuild_join(alias) -%}
    {{ throughline.postgres__flow_rebuild_join(alias) }}
{%- endmacro %}
{% macro spark__flow_last_flag_changes(flag_source) -%}
    {{ throughline.postgres__flow_last_flag_changes(flag_source) }}
{%- endmacro %}
{% macro spark__flow_cut_items_filter(kind, alias) -%}
    {{ kind }} join cut_items on cut_items.work_item_id = {{ alias }}.work_item_id
{%- endmacro %}
{% macro spark__flow_star_or_columns(relation, columns, exclude) -%}
    {{ throughline.postgres__flow_star_or_columns(relation, columns, exclude) }}
{%- endmacro %}
{% macro spark__flow_union_all_by_name() -%}union all{%- endmacro %}
{% macro spark__days_between_dates(start_date, end_date) -%}
    datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}
