-- Rows the connector refused; kept so a dashboard or a person can see what to fix, file by file.
with source as (
    select * from {{ source('raw', 'events__rejected_rows') }}
)

select
    source_instance,
    payload ->> '$.kind' as kind,
    payload ->> '$.file' as file,
    (payload ->> '$.line')::integer as line,
    payload ->> '$.reason' as reason,
    payload -> '$.row' as row_values,
    extracted_at
from source
