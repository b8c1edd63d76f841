{#- The incremental windows of the trackers' changed-item models (docs/OPERATIONS.md#incremental-builds): per
    source instance, `read_after` (the newest read that the last complete build took in,
    int_incremental_read_marks) and `read_since` (the earliest read that a shard merged since then brought,
    raw._merged_reads; or, with `incremental_lookback_hours` set, its newest read less those hours when that is
    earlier). A read is in the window when it is after read_after or at or after read_since (in_read_window):
    the mark makes a build that failed, was skipped or paused lose nothing (the next build takes in every read
    since the last one that completed), and the merged reads are the only rows committed after a build with a
    read time before its mark. A source instance the marks do not know yet (added since), or every instance
    before the marks exist (a first build), is taken in whole. A load is in the windows of the build after it
    only: the nights after a backfill rebuild what they read, not the backfill again.
    `reads`: SQL with source_instance and extracted_at per read. -#}
{% macro read_windows(source_type, reads) -%}
    {%- set marks = incremental_read_marks_relation() -%}
    {%- set merged = merged_reads_relation() -%}
    {%- set lookback = var('incremental_lookback_hours') or 0 -%}
    {#- the starts that apply; the earliest wins -#}
    {%- set starts = [] -%}
    {%- if merged is not none -%}{%- do starts.append('late.earliest_read') -%}{%- endif -%}
    {%- if lookback > 0 -%}
        {%- do starts.append('newest.newest_read - ' ~ flow_hours_interval(lookback)) -%}
    {%- endif %}
    select
        newest.source_instance,
        {%- if starts | length > 1 %}
        least({{ starts | join(', ') }}) as read_since,
        {%- else %}
        {{ starts[0] if starts else 'cast(null as timestamp)' }} as read_since,
        {%- endif %}
        {%- if marks is none %}
        cast('1900-01-01 00:00:00' as timestamp) as read_after
        {%- else %}
        coalesce(marks.newest_read, cast('1900-01-01 00:00:00' as timestamp)) as read_after
        {%- endif %}
    from (
        select source_instance, max(extracted_at) as newest_read
        from ({{ reads }}) as reads
        group by source_instance
    ) as newest
    {%- if marks is not none %}
    left join {{ marks }} as marks
        on marks.source_type = '{{ source_type }}' and marks.source_instance = newest.source_instance
    {%- endif %}
    {%- if merged is not none %}
    left join (
        -- merged after the mark (a merge before the last complete build was committed before it, at a time
        -- after the mark only when nothing newer was read since: taken in again, which costs nothing wrong)
        select merges.source_instance, min(merges.earliest_read) as earliest_read
        from {{ merged }} as merges
        {%- if marks is not none %}
        left join {{ marks }} as marks
            on marks.source_type = '{{ source_type }}' and marks.source_instance = merges.source_instance
        where marks.newest_read is null or merges.merged_at > marks.newest_read
        {%- endif %}
        group by merges.source_instance
    ) as late on late.source_instance = newest.source_instance
    {%- endif %}
{%- endmacro %}

{#- Whether the read time `column` is in the window of read_windows' row `windows`. -#}
{% macro in_read_window(column, windows) -%}
    ({{ column }} >= {{ windows }}.read_since or {{ column }} > {{ windows }}.read_after)
{%- endmacro %}

{#- int_incremental_read_marks' relation when it exists (read by name: it is built after the models that read
    it, so a ref would be a cycle); none before it is built, and while dbt parses. -#}
{% macro incremental_read_marks_relation() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.int_incremental_read_marks') -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}

{#- raw._merged_reads (connectors/core/shards.py) when it exists: a warehouse that no raw store opened yet (a
    portability target's copy) has none, and no late reads. -#}
{% macro merged_reads_relation() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=target.database, schema='raw', identifier='_merged_reads')) }}
{%- endmacro %}

{#- Every read of a tracker's items, as source_instance, item id and extracted_at: what its changed-item model
    and int_incremental_read_marks look at. `recent` (Jira's): only the reads at or after the earliest window
    start, given as a literal (jira_histories_read_filter), so the scans skip the older row groups of the raw
    tables instead of reading every history's key. -#}
{% macro tracker_reads(source_type, recent=false) -%}
    {%- if source_type == 'jira' -%}
    {%- set where = ' where ' ~ jira_histories_read_filter('extracted_at') if recent else '' -%}
    select source_instance, record_key as issue_id, extracted_at from {{ source('raw', 'jira__issues') }}{{ where }}
    union all
    select source_instance, parent_key, extracted_at from {{ source('raw', 'jira__changelogs') }}{{ where }}
    union all
    select source_instance, record_key, extracted_at from {{ source('raw', 'jira__deleted_issues') }}{{ where }}
    {%- elif source_type == 'linear' -%}
    select source_instance, issue_id, extracted_at from {{ ref('stg_linear__issues') }}
    union all
    select source_instance, issue_id, extracted_at from {{ ref('stg_linear__issue_history') }}
    {%- elif source_type == 'azure_devops' -%}
    select source_instance, work_item_id as issue_id, extracted_at from {{ ref('stg_azure_devops__work_items') }}
    union all
    select source_instance, work_item_id, extracted_at from {{ ref('stg_azure_devops__work_item_updates') }}
    {%- else -%}
    {{ exceptions.raise_compiler_error("tracker_reads: no reads for source type " ~ source_type) }}
    {%- endif -%}
{%- endmacro %}

{#- The changed-item model of a tracker: every item with a read in its source instance's window. -#}
{% macro tracker_changed_items(source_type) -%}
with reads as (
    {{ tracker_reads(source_type, recent=source_type == 'jira') }}
),

windows as (
    -- from every read: the newest of an instance may be older than another instance's window
    {{ read_windows(source_type, tracker_reads(source_type) if source_type == 'jira'
                    else 'select source_instance, extracted_at from reads') }}
)

select distinct reads.source_instance, reads.issue_id
from reads
inner join windows on windows.source_instance = reads.source_instance
where {{ in_read_window('reads.extracted_at', 'windows') }} and reads.issue_id is not null
{%- endmacro %}

{#- The distinct `columns` of the reads `reads` (SQL with source_instance, extracted_at and those columns) that
    came after `marks` (SQL with source_instance and newest_read: what a model's last build took in): read after
    its source instance's mark, at or after the earliest read of a shard merged since (raw._merged_reads), or of
    an instance without a mark. For models that keep their own marks (int_deployment_changes_to_rebuild,
    int_github__change_requests); the trackers' models read int_incremental_read_marks (read_windows). -#}
{% macro reads_after_marks(reads, marks, columns) -%}
    {%- set merged = merged_reads_relation() -%}
    select distinct {% for column in columns %}reads.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    from ({{ reads }}) as reads
    left join ({{ marks }}) as marks on marks.source_instance = reads.source_instance
    {%- if merged is not none %}
    left join (
        -- merged after the mark: committed after the build, with earlier read times
        select merges.source_instance, min(merges.earliest_read) as earliest_read
        from {{ merged }} as merges
        left join ({{ marks }}) as marks on marks.source_instance = merges.source_instance
        where marks.newest_read is null or merges.merged_at > marks.newest_read
        group by merges.source_instance
    ) as late on late.source_instance = reads.source_instance
    {%- endif %}
    where marks.newest_read is null or reads.extracted_at > marks.newest_read
        {%- if merged is not none %}
        or reads.extracted_at >= late.earliest_read
        {%- endif %}
{%- endmacro %}
