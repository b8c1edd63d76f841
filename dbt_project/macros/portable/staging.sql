{#
  Portable pieces the source staging models need beyond macros/portable/json.sql and text.sql. Each
  duckdb__ body is the SQL the models had before they were ported, so the DuckDB build is unchanged.
#}

{#
  The text at `field_path` (may be '') of every element of the JSON array at `array_path`, as an array
  of text, in array order: DuckDB's wildcard path `$.labels[*].name`. Elements without the field are
  left out; an element whose field is JSON null gives a NULL. [] when there is no array; NULL only when
  `expression` is NULL. (In PostgreSQL `#>` is SQL NULL only for an absent field: a JSON null is the jsonb
  value 'null'.)
#}
{% macro json_wildcard_texts(expression, array_path, field_path='') -%}
    {{ return(adapter.dispatch('json_wildcard_texts', 'throughline')(expression, array_path, field_path)) }}
{%- endmacro %}
{% macro default__json_wildcard_texts(expression, array_path, field_path='') -%}{{ throughline.not_ported('json_wildcard_texts') }}{%- endmacro %}
{% macro duckdb__json_wildcard_texts(expression, array_path, field_path='') -%}
    ({{ expression }} ->> '$.{{ array_path }}[*]{{ "." ~ field_path if field_path }}')
{%- endmacro %}
{% macro postgres__json_wildcard_texts(expression, array_path, field_path='') -%}
    {%- set array_json = expression ~ " #> " ~ throughline.pg_json_path(array_path) -%}
    {%- set field = throughline.pg_json_path(field_path) -%}
    (case when {{ expression }} is not null then array(
        select element #>> {{ field }}
        from jsonb_array_elements(case when jsonb_typeof({{ array_json }}) = 'array' then {{ array_json }} end)
            with ordinality as e(element, n)
        where element #> {{ field }} is not null
        order by n
    )::varchar[] end)
{%- endmacro %}

{# The first of json_wildcard_texts: the field of the first element of the array that has it. #}
{% macro json_wildcard_first_text(expression, array_path, field_path) -%}
    {{ return(adapter.dispatch('json_wildcard_first_text', 'throughline')(expression, array_path, field_path)) }}
{%- endmacro %}
{% macro default__json_wildcard_first_text(expression, array_path, field_path) -%}{{ throughline.not_ported('json_wildcard_first_text') }}{%- endmacro %}
{% macro duckdb__json_wildcard_first_text(expression, array_path, field_path) -%}
    ({{ expression }} ->> '$.{{ array_path }}[*].{{ field_path }}')[1]
{%- endmacro %}
{% macro postgres__json_wildcard_first_text(expression, array_path, field_path) -%}
    {%- set array_json = expression ~ " #> " ~ throughline.pg_json_path(array_path) -%}
    {%- set field = throughline.pg_json_path(field_path) -%}
    (select element #>> {{ field }}
     from jsonb_array_elements(case when jsonb_typeof({{ array_json }}) = 'array' then {{ array_json }} end)
         with ordinality as e(element, n)
     where element #> {{ field }} is not null
     order by n
     limit 1)
{%- endmacro %}

{# The length of a JSON array; 0 for any other JSON value, NULL for SQL NULL (DuckDB's json_array_length). #}
{% macro json_array_count(expression) -%}
    {{ return(adapter.dispatch('json_array_count', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__json_array_count(expression) -%}{{ throughline.not_ported('json_array_count') }}{%- endmacro %}
{% macro duckdb__json_array_count(expression) -%}
    json_array_length({{ expression }})
{%- endmacro %}
{% macro postgres__json_array_count(expression) -%}
    (case when jsonb_typeof({{ expression }}) = 'array' then jsonb_array_length({{ expression }})
          when {{ expression }} is not null then 0 end)
{%- endmacro %}

{#
  An array of text without its NULLs and repeats, sorted: DuckDB's list_distinct alone returns its own hash
  order, so a model taking the first element (int_opsgenie__incidents' service) would pick at random.
#}
{% macro distinct_texts(array_expression) -%}
    {{ return(adapter.dispatch('distinct_texts', 'throughline')(array_expression)) }}
{%- endmacro %}
{% macro default__distinct_texts(array_expression) -%}{{ throughline.not_ported('distinct_texts') }}{%- endmacro %}
{% macro duckdb__distinct_texts(array_expression) -%}
    list_sort(list_distinct({{ array_expression }}))
{%- endmacro %}
{% macro postgres__distinct_texts(array_expression) -%}
    (case when {{ array_expression }} is not null then array(
        select element from unnest({{ array_expression }}) with ordinality as u(element, n)
        where element is not null
        group by element
        order by element collate "C"
    )::varchar[] end)
{%- endmacro %}

{# The UTC timestamp `milliseconds` (bigint) after the Unix epoch, as Jenkins writes times. #}
{% macro epoch_ms_to_timestamp(milliseconds) -%}
    {{ return(adapter.dispatch('epoch_ms_to_timestamp', 'throughline')(milliseconds)) }}
{%- endmacro %}
{% macro default__epoch_ms_to_timestamp(milliseconds) -%}{{ throughline.not_ported('epoch_ms_to_timestamp') }}{%- endmacro %}
{% macro duckdb__epoch_ms_to_timestamp(milliseconds) -%}
    make_timestamp(({{ milliseconds }}) * 1000)
{%- endmacro %}
{% macro postgres__epoch_ms_to_timestamp(milliseconds) -%}
    (timestamp '1970-01-01' + ({{ milliseconds }}) * interval '1 millisecond')
{%- endmacro %}

{#
  A timestamp plus `milliseconds` (bigint). Not add_interval: DuckDB multiplies an interval by an INTEGER
  only, and a duration in milliseconds passes 2^31 after 25 days.
#}
{% macro add_milliseconds(expression, milliseconds) -%}
    {{ return(adapter.dispatch('add_milliseconds', 'throughline')(expression, milliseconds)) }}
{%- endmacro %}
{% macro default__add_milliseconds(expression, milliseconds) -%}{{ throughline.not_ported('add_milliseconds') }}{%- endmacro %}
{% macro duckdb__add_milliseconds(expression, milliseconds) -%}
    ({{ expression }} + to_milliseconds({{ milliseconds }}))
{%- endmacro %}
{% macro postgres__add_milliseconds(expression, milliseconds) -%}
    ({{ expression }} + ({{ milliseconds }}) * interval '1 millisecond')
{%- endmacro %}
