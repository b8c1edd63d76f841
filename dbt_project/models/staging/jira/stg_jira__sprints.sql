with source as (
    select * from {{ source('raw', 'jira__sprints') }}
)

select
    record_key as sprint_id,
    source_instance,
    payload ->> '$.name' as sprint_name,
    payload ->> '$.state' as sprint_state,
    nullif(payload ->> '$.goal', '') as sprint_goal,
    -- A sprint is listed on every board whose filter includes it; the board that created it is its home.
    coalesce(payload ->> '$.originBoardId', parent_key) as origin_board_id,
    {{ to_utc_timestamp("payload ->> '$.startDate'") }} as started_at,
    {{ to_utc_timestamp("payload ->> '$.endDate'") }} as planned_end_at,
    {{ to_utc_timestamp("payload ->> '$.completeDate'") }} as completed_at,
    extracted_at
from source
