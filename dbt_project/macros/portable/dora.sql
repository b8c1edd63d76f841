{# Portable SQL of the DORA models (models/intermediate/dora, models/marts/dora). #}

{#
  A window expression: the `key` of the row with the latest (`ordered_at`, `key`) among the rows of the frame
  where `condition` holds, NULL when there is none. `window` is the text inside `over (...)`. DuckDB takes the
  max of a struct (one pass); PostgreSQL has no max of a row, so it takes the max of a two-text array whose
  first element sorts as the timestamp does (fixed-width digits; a NULL time sorts last, as in DuckDB's struct).
#}
{% macro dora_latest_key(condition, ordered_at, key, window) -%}
    {{ return(adapter.dispatch('dora_latest_key', 'throughline')(condition, ordered_at, key, window)) }}
{%- endmacro %}
{% macro default__dora_latest_key(condition, ordered_at, key, window) -%}{{ throughline.not_ported('dora_latest_key') }}{%- endmacro %}
{% macro duckdb__dora_latest_key(condition, ordered_at, key, window) -%}
    max(case when {{ condition }} then struct_pack(at := {{ ordered_at }}, k := {{ key }}) end) over (
            {{ window }}
        ).k
{%- endmacro %}
{% macro postgres__dora_latest_key(condition, ordered_at, key, window) -%}
    (max(case when {{ condition }} then array[to_char({{ ordered_at }}, 'YYYYMMDDHH24MISSUS'), ({{ key }})::text] end) over (
            {{ window }}
        ))[2]
{%- endmacro %}
