-- Data health for BI: per run, source instance and stream, what was read and what it cost, and how
-- fresh each stream's data is. Definitions: docs/METRICS.md#pipeline-runs.

with per_stream as (
    select
        run_id,
        source_type,
        source_instance,
        stream,
        -- one failed scope (or the source's `*` error row) makes the stream's part of the run failed
        case when bool_or(status = 'failed') then 'failed' else 'success' end as status,
        count(distinct scope) as scopes,
        sum(records)::bigint as records,
        sum(new_records)::bigint as new_records,
        sum(updated_records)::bigint as updated_records,
        sum(requests)::bigint as requests,
        sum(retries)::bigint as retries,
        sum(not_modified)::bigint as not_modified,
        sum(rate_limit_waits)::bigint as rate_limit_waits,
        sum(waited_seconds) as waited_seconds,
        sum(seconds) as seconds,
        string_agg(distinct error, '; ' order by error) as error,
        min(started_at) as started_at,
        max(finished_at) as finished_at
    from {{ ref('stg_ops__stream_runs') }}
    group by run_id, source_type, source_instance, stream
),

runs as (
    select run_id, min(started_at) as run_started_at, max(finished_at) as run_finished_at
    from per_stream
    group by run_id
),

coverage as (
    {{ stream_data_complete_to() }}
)

select
    per_stream.run_id,
    runs.run_started_at,
    runs.run_finished_at,
    per_stream.source_type,
    per_stream.source_instance,
    per_stream.stream,
    per_stream.status,
    per_stream.scopes,
    per_stream.records,
    per_stream.new_records,
    per_stream.updated_records,
    per_stream.requests,
    per_stream.retries,
    per_stream.not_modified,
    per_stream.rate_limit_waits,
    per_stream.waited_seconds,
    per_stream.seconds,
    per_stream.error,
    per_stream.started_at,
    per_stream.finished_at,
    -- the newest successful read of this stream: what the marts' data is as of
    max(per_stream.finished_at) filter (where per_stream.status = 'success') over (
        partition by per_stream.source_instance, per_stream.stream
    ) as stream_data_as_of,
    -- what the stream's data is complete to: docs/METRICS.md#source-coverage
    coverage.data_complete_to as stream_data_complete_to,
    row_number() over (
        partition by per_stream.source_instance, per_stream.stream order by per_stream.started_at desc nulls last, per_stream.run_id
    ) = 1 as is_latest_run
from per_stream
inner join runs on runs.run_id = per_stream.run_id
left join coverage
    on coverage.source_instance = per_stream.source_instance
    and coverage.stream = per_stream.stream
