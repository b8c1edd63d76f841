{#- The columns of a git commit object as GitHub returns it in /commits, /pulls/{n}/commits and
    /compare: one definition so the three commit staging views cannot drift apart. -#}
{% macro github_commit_columns() -%}
    coalesce(scope, {{ regex_extract(json_text('payload', 'url'), "'/repos/([^/]+/[^/]+)/commits/'", 1) }}) as repo,
    {{ json_text('payload', 'sha') }} as commit_sha,
    {{ json_text('payload', 'author.login') }} as author,
    {{ json_text('payload', 'commit.author.name') }} as author_name,
    {{ to_utc_timestamp(json_text('payload', 'commit.author.date')) }} as authored_at,
    {{ to_utc_timestamp(json_text('payload', 'commit.committer.date')) }} as committed_at,
    split_part({{ json_text('payload', 'commit.message') }}, chr(10), 1) as message_headline,
    coalesce({{ json_array_count(json_get('payload', 'parents')) }}, 0) as parent_count,
{%- endmacro %}
