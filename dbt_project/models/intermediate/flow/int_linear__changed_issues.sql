-- The Linear issues read recently (docs/OPERATIONS.md#incremental-builds): every issue whose raw row or a
-- history entry was read within `incremental_lookback_hours` of its source's newest read, as
-- int_jira__changed_issues does for Jira.

{%- set lookback = flow_hours_interval(var('incremental_lookback_hours')) %}

with reads as (
    select source_instance, issue_id, extracted_at from {{ ref('stg_linear__issues') }}
    union all
    select source_instance, issue_id, extracted_at from {{ ref('stg_linear__issue_history') }}
),

windows as (
    select source_instance, max(extracted_at) - {{ lookback }} as read_since
    from reads
    group by source_instance
)

select distinct reads.source_instance, reads.issue_id
from reads
inner join windows on windows.source_instance = reads.source_instance
where reads.extracted_at >= windows.read_since and reads.issue_id is not null
