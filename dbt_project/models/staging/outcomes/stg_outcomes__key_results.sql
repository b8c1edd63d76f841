-- Key results with their objective, target and owner; the links to work are unnested by
-- stg_outcomes__key_result_links from the same raw rows.
with source as (
    select * from {{ source('raw', 'outcomes__key_results') }}
)

select
    source_instance,
    payload ->> '$._throughline.objective_id' as objective_id,
    payload ->> '$._throughline.objective' as objective,
    record_key as key_result_id,
    payload ->> '$._throughline.key_result' as key_result,
    payload ->> '$._throughline.kpi' as kpi,
    payload ->> '$._throughline.unit' as unit,
    (payload ->> '$._throughline.baseline')::double as baseline,
    (payload ->> '$._throughline.target')::double as target,
    (payload ->> '$._throughline.start_on')::date as start_on,
    (payload ->> '$._throughline.due_on')::date as due_on,
    payload ->> '$._throughline.team' as team,
    payload ->> '$._throughline.value_stream' as value_stream,
    scope as file,
    (payload ->> '$._throughline.line')::integer as line,
    extracted_at
from source
