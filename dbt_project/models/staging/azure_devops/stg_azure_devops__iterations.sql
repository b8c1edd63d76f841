with source as (
    select * from {{ source('raw', 'azure_devops__iterations') }}
)

-- One row per team and iteration (an iteration can belong to several teams). A sprint's finishDate is its
-- last day, at midnight.
select
    record_key as team_iteration_key,
    source_instance,
    scope as project,
    parent_key as team_id,
    {{ json_text('payload', 'id') }} as iteration_id,
    {{ json_text('payload', 'name') }} as iteration_name,
    {{ json_text('payload', 'path') }} as iteration_path,
    {{ json_text('payload', 'attributes.timeFrame') }} as time_frame,
    {{ to_utc_timestamp(json_text('payload', 'attributes.startDate')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'attributes.finishDate')) }} as finished_at,
    extracted_at
from source
