-- The run report as written by the extract steps; one row per run, source instance, stream and scope.
select
    run_id,
    source_type,
    source_instance,
    extraction_group,
    stream,
    scope,
    status,
    records,
    new_records,
    updated_records,
    requests,
    retries,
    not_modified,
    rate_limit_waits,
    waited_seconds,
    cursor_before,
    cursor_after,
    seconds,
    error,
    started_at,
    finished_at
from {{ source('ops', 'stream_runs') }}
