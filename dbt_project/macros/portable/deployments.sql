{#
  Constructs the deployment and incident models need beyond the shared macros: glob matching (the
  `services` and `branches` deployment rules), list membership and overlap, ordering keys made of several
  values, URL decoding. Each duckdb__ body is the SQL these models ran before they were ported.
#}

{#
  A glob as an anchored PostgreSQL regex, following DuckDB's GLOB: `*` any run of characters (`/` too),
  `?` one character, `[...]` / `[!...]` a character class, `\x` the character x; everything else literal
  and case-sensitive; an unclosed `[` matches nothing. The glob is split into those tokens and each one
  rewritten.
#}
{% macro postgres_glob_regex(glob_expression) -%}
    (select '^' || coalesce(string_agg(
            case
                when glob_tokens.token[1] = '*' then '.*'
                when glob_tokens.token[1] = '?' then '.'
                {#- an unclosed `[`: DuckDB's GLOB then matches nothing #}
                when glob_tokens.token[1] = '[' then '(?!)'
                when glob_tokens.token[1] like '[%'
                    then case when glob_tokens.token[1] like '[!%'
                        then '[^' || substr(glob_tokens.token[1], 3)
                        else glob_tokens.token[1] end
                when glob_tokens.token[1] ~ '^\\.'
                    then regexp_replace(substr(glob_tokens.token[1], 2), '([^[:alnum:]])', '\\\1')
                else regexp_replace(glob_tokens.token[1], '([.+*?(){}|^$\\[\]\\])', '\\\1', 'g')
            end, '' order by glob_tokens.position), case when {{ glob_expression }} is not null then '' end) || '$'
        from regexp_matches({{ glob_expression }}, '\\.|\[!?\]?[^]]*\]|[*?]|[^\\[*?]+|.', 'g')
            with ordinality as glob_tokens(token, position))
{%- endmacro %}

{# TRUE when the text matches the glob (NULL when either is NULL). #}
{% macro glob_matches(text_expression, glob_expression) -%}
    {{ return(adapter.dispatch('glob_matches', 'throughline')(text_expression, glob_expression)) }}
{%- endmacro %}
{% macro default__glob_matches(text_expression, glob_expression) -%}{{ throughline.not_ported('glob_matches') }}{%- endmacro %}
{% macro duckdb__glob_matches(text_expression, glob_expression) -%}
    {{ text_expression }} glob {{ glob_expression }}
{%- endmacro %}
{% macro postgres__glob_matches(text_expression, glob_expression) -%}
    ({{ text_expression }} ~ {{ throughline.postgres_glob_regex(glob_expression) }})
{%- endmacro %}

{# TRUE when the text matches any glob of the array; FALSE for an empty array or NULL text. #}
{% macro glob_matches_any(text_expression, globs_expression) -%}
    {{ return(adapter.dispatch('glob_matches_any', 'throughline')(text_expression, globs_expression)) }}
{%- endmacro %}
{% macro default__glob_matches_any(text_expression, globs_expression) -%}{{ throughline.not_ported('glob_matches_any') }}{%- endmacro %}
{% macro duckdb__glob_matches_any(text_expression, globs_expression) -%}
    coalesce(
            list_bool_or(list_transform({{ globs_expression }}, lambda g: {{ text_expression }} glob g)),
            false
        )
{%- endmacro %}
{% macro postgres__glob_matches_any(text_expression, globs_expression) -%}
    coalesce(
            (select bool_or({{ throughline.postgres__glob_matches(text_expression, 'listed_globs.glob') }})
             from unnest({{ globs_expression }}) as listed_globs(glob)),
            false
        )
{%- endmacro %}

{# Whether the array holds the value (NULL when the value is NULL, as both engines answer). #}
{% macro array_has_value(array_expression, value_expression) -%}
    {{ return(adapter.dispatch('array_has_value', 'throughline')(array_expression, value_expression)) }}
{%- endmacro %}
{% macro default__array_has_value(array_expression, value_expression) -%}{{ throughline.not_ported('array_has_value') }}{%- endmacro %}
{% macro duckdb__array_has_value(array_expression, value_expression) -%}
    list_contains({{ array_expression }}, {{ value_expression }})
{%- endmacro %}
{% macro postgres__array_has_value(array_expression, value_expression) -%}
    ({{ value_expression }} = any({{ array_expression }}))
{%- endmacro %}

{# Whether two arrays of text share an element. #}
{% macro arrays_overlap(left_expression, right_expression) -%}
    {{ return(adapter.dispatch('arrays_overlap', 'throughline')(left_expression, right_expression)) }}
{%- endmacro %}
{% macro default__arrays_overlap(left_expression, right_expression) -%}{{ throughline.not_ported('arrays_overlap') }}{%- endmacro %}
{% macro duckdb__arrays_overlap(left_expression, right_expression) -%}
    list_has_any({{ left_expression }}, {{ right_expression }})
{%- endmacro %}
{% macro postgres__arrays_overlap(left_expression, right_expression) -%}
    (({{ left_expression }})::text[] && ({{ right_expression }})::text[])
{%- endmacro %}

{# The array's non-NULL elements joined by `separator`; NULL when there is none (an empty array too). #}
{% macro array_to_text(array_expression, separator) -%}
    {{ return(adapter.dispatch('array_to_text', 'throughline')(array_expression, separator)) }}
{%- endmacro %}
{% macro default__array_to_text(array_expression, separator) -%}{{ throughline.not_ported('array_to_text') }}{%- endmacro %}
{% macro duckdb__array_to_text(array_expression, separator) -%}
    list_aggregate({{ array_expression }}, 'string_agg', {{ separator }})
{%- endmacro %}
{% macro postgres__array_to_text(array_expression, separator) -%}
    (case when cardinality(array_remove({{ array_expression }}, null)) > 0
        then array_to_string({{ array_expression }}, {{ separator }}) end)
{%- endmacro %}

{#
  A key ordering rows by several values in turn, for comparisons (`<`) and arg_min/arg_max: a struct in
  DuckDB, a row in PostgreSQL. A NULL value sorts after every other in both. `fields`: [(name, sql), ...].
#}
{% macro ordering_key(fields) -%}
    {{ return(adapter.dispatch('ordering_key', 'throughline')(fields)) }}
{%- endmacro %}
{% macro default__ordering_key(fields) -%}{{ throughline.not_ported('ordering_key') }}{%- endmacro %}
{% macro duckdb__ordering_key(fields) -%}
    struct_pack({% for name, sql in fields %}{{ name }} := {{ sql }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
{% macro postgres__ordering_key(fields) -%}
    row({% for name, sql in fields %}{{ sql }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{#
  arg_max over the rows where `condition` holds: `value` of the row with the largest `ordering`, rows with a
  NULL `value` left out (as DuckDB's arg_max).
#}
{% macro arg_max_where(value, ordering, condition) -%}
    {{ return(adapter.dispatch('arg_max_where', 'throughline')(value, ordering, condition)) }}
{%- endmacro %}
{% macro default__arg_max_where(value, ordering, condition) -%}{{ throughline.not_ported('arg_max_where') }}{%- endmacro %}
{% macro duckdb__arg_max_where(value, ordering, condition) -%}
    arg_max({{ value }}, {{ ordering }}) filter (where {{ condition }})
{%- endmacro %}
{% macro postgres__arg_max_where(value, ordering, condition) -%}
    (array_agg({{ value }} order by {{ ordering }} desc) filter (where ({{ condition }}) and {{ value }} is not null))[1]
{%- endmacro %}

{# Whole seconds from `start` to `end` (the second boundaries crossed, as DuckDB's date_diff). #}
{% macro seconds_between(start_expression, end_expression) -%}
    {{ return(adapter.dispatch('seconds_between', 'throughline')(start_expression, end_expression)) }}
{%- endmacro %}
{% macro default__seconds_between(start_expression, end_expression) -%}{{ throughline.not_ported('seconds_between') }}{%- endmacro %}
{% macro duckdb__seconds_between(start_expression, end_expression) -%}
    date_diff('second', {{ start_expression }}, {{ end_expression }})
{%- endmacro %}
{% macro postgres__seconds_between(start_expression, end_expression) -%}
    (floor(extract(epoch from {{ end_expression }})) - floor(extract(epoch from {{ start_expression }})))
{%- endmacro %}

{#
  Percent-decoded text (`feature%2Fx` -> `feature/x`), as DuckDB's url_decode: `+` stays, a `%` not
  followed by two hex digits stays, the decoded bytes are UTF-8.
#}
{% macro url_decoded(expression) -%}
    {{ return(adapter.dispatch('url_decoded', 'throughline')(expression)) }}
{%- endmacro %}
{% macro default__url_decoded(expression) -%}{{ throughline.not_ported('url_decoded') }}{%- endmacro %}
{% macro duckdb__url_decoded(expression) -%}
    url_decode({{ expression }})
{%- endmacro %}
{% macro postgres__url_decoded(expression) -%}
    (case when {{ expression }} is not null then coalesce(
        (select convert_from(string_agg(
                case when url_parts.part[1] ~ '^%[0-9A-Fa-f]{2}$'
                    then decode(substr(url_parts.part[1], 2), 'hex')
                    else convert_to(url_parts.part[1], 'UTF8') end,
                ''::bytea order by url_parts.position), 'UTF8')
         from regexp_matches({{ expression }}, '%[0-9A-Fa-f]{2}|[^%]+|%', 'g') with ordinality as url_parts(part, position)),
        '') end)
{%- endmacro %}
