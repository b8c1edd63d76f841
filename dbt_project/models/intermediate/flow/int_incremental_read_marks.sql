-- Per tracker source instance, the newest read that the last complete build took in: the start of the next
-- build's incremental windows (read_windows, docs/OPERATIONS.md#incremental-builds). This model reads the
-- incremental models that take in the windows, so dbt builds it only after every one of them (and, in
-- `dbt build`, their tests) succeeded: a failed or skipped build leaves the marks where they were, and the
-- next build takes in everything read since.
{%- set consumers = [
    'stg_jira__issues', 'int_jira__issue_status_changes', 'int_jira__issue_flag_changes',
    'int_work_items_status_intervals', 'work_item_state_intervals', 'work_items', 'int_flow_load_daily',
    'int_signal_status_weeks', 'int_work_items_classified', 'int_work_items_hierarchy', 'int_jira__incidents',
] %}
{%- for consumer in consumers %}
-- depends_on: {{ ref(consumer) }}
{%- endfor %}
{%- set state = namespace(complete=true) %}
{%- if execute %}
{%- for consumer in consumers %}
{%- if ('model.' ~ project_name ~ '.' ~ consumer) not in selected_resources %}
{%- set state.complete = false %}
{%- endif %}
{%- endfor %}
{%- endif %}

{% if not state.complete and adapter.get_relation(this.database, this.schema, this.identifier) is not none -%}
-- a run that did not build every window reader (a partial --select) moves no mark
select * from {{ this }}
{%- elif not state.complete -%}
select
    cast(null as varchar) as source_type,
    cast(null as varchar) as source_instance,
    cast(null as timestamp) as newest_read
where false
{%- else -%}
{%- for source_type in ['jira', 'linear', 'azure_devops'] %}
{%- if not loop.first %}
union all
{% endif %}
select cast('{{ source_type }}' as varchar) as source_type, source_instance, max(extracted_at) as newest_read
from ({{ tracker_reads(source_type) }}) as reads
group by source_instance
{%- endfor %}
{%- endif %}
