-- Each work item's intervals must tile its life: numbered from 0 without holes, every interval ends
-- exactly where the next one starts, and only the last one is open. Returns the offending intervals.
select *
from (
    select
        work_item_id,
        interval_index,
        ended_at,
        is_current,
        lag(interval_index) over issue_intervals as previous_interval_index,
        lead(interval_index) over issue_intervals as next_interval_index,
        lead(started_at) over issue_intervals as next_started_at
    from {{ ref('int_work_items_status_intervals') }}
    window issue_intervals as (partition by work_item_id order by interval_index)
) as intervals
where coalesce(previous_interval_index + 1, 0) <> interval_index
    or ended_at is distinct from next_started_at
    or is_current <> (next_interval_index is null)
