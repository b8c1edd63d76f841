-- The Jira issues whose raw rows were read recently (docs/OPERATIONS.md#incremental-builds): every issue
-- whose raw issue row, changelog history or tombstone was read within `incremental_lookback_hours` of its
-- source's newest read (new, changed, reopened, deleted or moved away, or with histories arriving late).
-- The incremental int_jira__issue_status_changes and int_jira__issue_flag_changes parse the histories read in
-- the same windows (jira_read_windows);
-- int_work_items_to_rebuild adds the issues whose built rows went stale.

with reads as (
    select source_instance, record_key as issue_id, extracted_at from {{ source('raw', 'jira__issues') }}
    union all
    select source_instance, parent_key, extracted_at from {{ source('raw', 'jira__changelogs') }}
    union all
    select source_instance, record_key, extracted_at from {{ source('raw', 'jira__deleted_issues') }}
),

windows as (
    {{ jira_read_windows() }}
),

changed as (
    select reads.source_instance, reads.issue_id
    from reads
    inner join windows on windows.source_instance = reads.source_instance
    where reads.extracted_at >= windows.read_since and reads.issue_id is not null
)

select distinct
    source_instance,
    issue_id,
    source_instance || ':' || issue_id as work_item_id
from changed
