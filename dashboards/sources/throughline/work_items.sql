-- One row per work item: flow state, timestamps (UTC) and durations in hours (docs/METRICS.md).
select * from marts.work_items
