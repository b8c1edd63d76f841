-- The Azure DevOps work items read recently (docs/OPERATIONS.md#incremental-builds): every work item whose
-- raw row or an update was read within `incremental_lookback_hours` of its source's newest read, as
-- int_jira__changed_issues does for Jira.

{%- set lookback = flow_hours_interval(var('incremental_lookback_hours')) %}

with reads as (
    select source_instance, work_item_id, extracted_at from {{ ref('stg_azure_devops__work_items') }}
    union all
    select source_instance, work_item_id, extracted_at from {{ ref('stg_azure_devops__work_item_updates') }}
),

windows as (
    select source_instance, max(extracted_at) - {{ lookback }} as read_since
    from reads
    group by source_instance
)

select distinct reads.source_instance, reads.work_item_id as issue_id
from reads
inner join windows on windows.source_instance = reads.source_instance
where reads.extracted_at >= windows.read_since and reads.work_item_id is not null
