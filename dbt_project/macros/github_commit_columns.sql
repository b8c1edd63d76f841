{#- The columns of a git commit object as GitHub returns it in /commits, /pulls/{n}/commits and
    /compare: one definition so the three commit staging views cannot drift apart. -#}
{% macro github_commit_columns() -%}
    coalesce(scope, regexp_extract(payload ->> '$.url', '/repos/([^/]+/[^/]+)/commits/', 1)) as repo,
    payload ->> '$.sha' as commit_sha,
    payload ->> '$.author.login' as author,
    payload ->> '$.commit.author.name' as author_name,
    {{ to_utc_timestamp("payload ->> '$.commit.author.date'") }} as authored_at,
    {{ to_utc_timestamp("payload ->> '$.commit.committer.date'") }} as committed_at,
    split_part(payload ->> '$.commit.message', chr(10), 1) as message_headline,
    coalesce(json_array_length(payload -> '$.parents'), 0) as parent_count,
{%- endmacro %}
