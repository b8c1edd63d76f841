-- Key result check-ins: the measured value of a key result on a day.
with source as (
    select * from {{ source('raw', 'outcomes__key_result_values') }}
)

select
    source_instance,
    {{ json_text('payload', '_throughline.key_result_id') }} as key_result_id,
    ({{ json_text('payload', '_throughline.observed_on') }})::date as observed_on,
    ({{ json_text('payload', '_throughline.value') }})::float8 as value,
    {{ json_text('payload', '_throughline.note') }} as note,
    scope as file,
    ({{ json_text('payload', '_throughline.line') }})::integer as line,
    extracted_at
from source
