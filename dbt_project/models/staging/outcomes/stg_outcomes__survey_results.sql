-- Team survey results (developer experience, sentiment): one score per team, survey day and dimension.
with source as (
    select * from {{ source('raw', 'outcomes__surveys') }}
)

select
    source_instance,
    {{ json_text('payload', '_throughline.team') }} as team,
    ({{ json_text('payload', '_throughline.surveyed_on') }})::date as surveyed_on,
    {{ json_text('payload', '_throughline.dimension') }} as dimension,
    ({{ json_text('payload', '_throughline.score') }})::float8 as score,
    ({{ json_text('payload', '_throughline.scale_min') }})::float8 as scale_min,
    ({{ json_text('payload', '_throughline.scale_max') }})::float8 as scale_max,
    ({{ json_text('payload', '_throughline.respondents') }})::integer as respondents,
    {{ json_text('payload', '_throughline.value_stream') }} as value_stream,
    scope as file,
    ({{ json_text('payload', '_throughline.line') }})::integer as line,
    extracted_at
from source
