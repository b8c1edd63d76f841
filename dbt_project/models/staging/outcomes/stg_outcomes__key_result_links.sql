-- One row per link of a key result to work. The connector parsed the `links` column
-- (`epic:PAY-12; label:checkout-conversion; field:customfield_10050=Q3-growth`) into a list of
-- {kind, field, value} objects, without duplicates, so this only unnests it.
with source as (
    select * from {{ source('raw', 'outcomes__key_results') }}
),

links as (
    select
        source_instance,
        record_key as key_result_id,
        {{ json_object_rows(
            json_get('payload', '_throughline.links'), '[{"kind": "VARCHAR", "field": "VARCHAR", "value": "VARCHAR"}]'
        ) }} as link
    from source
)

select
    source_instance,
    key_result_id,
    {{ json_object_field('link', 'kind') }} as link_kind,
    {{ json_object_field('link', 'field') }} as field,
    {{ json_object_field('link', 'value') }} as link_value
from links
