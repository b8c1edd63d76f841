-- The "Flagged" changes of the Jira changelog, materialized: work_item_state_intervals reads the flags of the
-- items it rebuilds from here, where parsing them from the raw histories meant searching every history's
-- text each night. Incremental by history, as int_jira__issue_status_changes (docs/OPERATIONS.md#incremental-builds).
-- depends_on: {{ ref('int_jira__changed_issues') }}
{{ jira_history_increment_config() }}

{% if is_incremental() -%}
{{ jira_flag_changes(recent=true) }}
{%- else -%}
select * from {{ ref('stg_jira__flag_changes') }}
{%- endif %}
