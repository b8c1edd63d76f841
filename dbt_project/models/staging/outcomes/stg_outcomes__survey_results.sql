-- Team survey results (developer experience, sentiment): one score per team, survey day and dimension.
with source as (
    select * from {{ source('raw', 'outcomes__surveys') }}
)

select
    source_instance,
    payload ->> '$._throughline.team' as team,
    (payload ->> '$._throughline.surveyed_on')::date as surveyed_on,
    payload ->> '$._throughline.dimension' as dimension,
    (payload ->> '$._throughline.score')::double as score,
    (payload ->> '$._throughline.scale_min')::double as scale_min,
    (payload ->> '$._throughline.scale_max')::double as scale_max,
    (payload ->> '$._throughline.respondents')::integer as respondents,
    payload ->> '$._throughline.value_stream' as value_stream,
    scope as file,
    (payload ->> '$._throughline.line')::integer as line,
    extracted_at
from source
