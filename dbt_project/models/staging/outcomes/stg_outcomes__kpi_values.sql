-- The connector validated each row and wrote its checked values under `_throughline` (numbers as numbers,
-- ISO dates), so nothing is parsed twice. The raw key is a hash of (kpi, value_stream, product, segment,
-- observed_on), so the grain is guaranteed by the raw table's primary key.
with source as (
    select * from {{ source('raw', 'outcomes__kpis') }}
)

select
    source_instance,
    {{ json_text('payload', '_throughline.kpi') }} as kpi,
    ({{ json_text('payload', '_throughline.observed_on') }})::date as observed_on,
    ({{ json_text('payload', '_throughline.value') }})::float8 as value,
    {{ json_text('payload', '_throughline.unit') }} as unit,
    {{ json_text('payload', '_throughline.value_stream') }} as value_stream,
    {{ json_text('payload', '_throughline.product') }} as product,
    {{ json_text('payload', '_throughline.segment') }} as segment,
    scope as file,
    ({{ json_text('payload', '_throughline.line') }})::integer as line,
    extracted_at
from source
