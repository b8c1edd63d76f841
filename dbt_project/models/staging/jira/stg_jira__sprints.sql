with source as (
    select * from {{ source('raw', 'jira__sprints') }}
)

select
    record_key as sprint_id,
    source_instance,
    {{ json_text('payload', 'name') }} as sprint_name,
    {{ json_text('payload', 'state') }} as sprint_state,
    nullif({{ json_text('payload', 'goal') }}, '') as sprint_goal,
    -- A sprint is listed on every board whose filter includes it; the board that created it is its home.
    coalesce({{ json_text('payload', 'originBoardId') }}, parent_key) as origin_board_id,
    {{ to_utc_timestamp(json_text('payload', 'startDate')) }} as started_at,
    {{ to_utc_timestamp(json_text('payload', 'endDate')) }} as planned_end_at,
    {{ to_utc_timestamp(json_text('payload', 'completeDate')) }} as completed_at,
    extracted_at
from source
