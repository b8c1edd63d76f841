-- Key results with their objective, target and owner; the links to work are unnested by
-- stg_outcomes__key_result_links from the same raw rows.
with source as (
    select * from {{ source('raw', 'outcomes__key_results') }}
)

select
    source_instance,
    {{ json_text('payload', '_throughline.objective_id') }} as objective_id,
    {{ json_text('payload', '_throughline.objective') }} as objective,
    record_key as key_result_id,
    {{ json_text('payload', '_throughline.key_result') }} as key_result,
    {{ json_text('payload', '_throughline.kpi') }} as kpi,
    {{ json_text('payload', '_throughline.unit') }} as unit,
    ({{ json_text('payload', '_throughline.baseline') }})::float8 as baseline,
    ({{ json_text('payload', '_throughline.target') }})::float8 as target,
    ({{ json_text('payload', '_throughline.start_on') }})::date as start_on,
    ({{ json_text('payload', '_throughline.due_on') }})::date as due_on,
    {{ json_text('payload', '_throughline.team') }} as team,
    {{ json_text('payload', '_throughline.value_stream') }} as value_stream,
    scope as file,
    ({{ json_text('payload', '_throughline.line') }})::integer as line,
    extracted_at
from source
