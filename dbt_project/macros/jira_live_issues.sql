{#- Raw Jira issues minus those the connector's reconciliation no longer found (deleted, or moved to a
    project that is not loaded). The tombstone must be at least as new as the issue's last read: an
    issue read again afterwards exists after all. Every model reading raw issues goes through this, so
    a deleted issue disappears everywhere at once. A reader of a few issues' rows names them, so that they are
    chosen before the tombstones are looked up (DuckDB otherwise checks every issue's row, payload included):
    `only`, a relation with source_instance and issue_id: those issues' rows; `within`, SQL of read_windows():
    the rows read in their source instance's window (in_read_window). -#}
{% macro jira_live_issues(only=none, within=none) -%}
select issues.*
from {{ source('raw', 'jira__issues') }} as issues
{%- if only %}
inner join {{ only }} as only_issues
    on only_issues.source_instance = issues.source_instance and only_issues.issue_id = issues.record_key
{%- endif %}
{%- if within %}
inner join ({{ within }}) as windows on windows.source_instance = issues.source_instance
{%- endif %}
where {% if within %}{{ in_read_window('issues.extracted_at', 'windows') }} and {% endif %}not exists (
    select 1
    from {{ source('raw', 'jira__deleted_issues') }} as tombstones
    where tombstones.source_instance = issues.source_instance
        and tombstones.record_key = issues.record_key
        and tombstones.extracted_at >= issues.extracted_at
)
{%- endmacro %}

{#- Post-hook of the incremental stg_jira__issues: an issue whose tombstone is at least as new as the row built
    for it is gone (the same rule as jira_live_issues(), which leaves it out of a full build). -#}
{% macro delete_tombstoned_jira_issues() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as built
    where exists (
        select 1
        from {{ source('raw', 'jira__deleted_issues') }} as tombstones
        where tombstones.source_instance = built.source_instance
            and tombstones.record_key = built.issue_id
            and tombstones.extracted_at >= built.extracted_at
    )
    {%- endif -%}
{%- endmacro %}
