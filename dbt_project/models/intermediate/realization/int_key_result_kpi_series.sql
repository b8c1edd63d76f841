-- The one KPI series that measures each key result: of the series of its `kpi` for the whole KPI (no
-- segment), the one of the key result's value stream, else one without a value stream, else (a key result
-- without a value stream) one of another value stream; a series without a product before one per product.
-- Definitions: docs/METRICS.md#outcome-links.

with key_results as (
    select source_instance, key_result_id, kpi, value_stream
    from {{ ref('stg_outcomes__key_results') }}
    where kpi is not null
),

kpi_values as (
    select * from {{ ref('stg_outcomes__kpi_values') }} where segment is null
),

series as (
    select distinct source_instance, kpi, value_stream, product from kpi_values
),

chosen as (
    select distinct on (key_results.source_instance, key_results.key_result_id)
        key_results.source_instance as key_result_source_instance,
        key_results.key_result_id,
        series.source_instance as kpi_source_instance,
        series.kpi,
        series.value_stream as kpi_value_stream,
        series.product as kpi_product
    from key_results
    inner join series
        on lower(series.kpi) = lower(key_results.kpi)
        and (series.value_stream is null or key_results.value_stream is null
            or lower(series.value_stream) = lower(key_results.value_stream))
    order by
        key_results.source_instance,
        key_results.key_result_id,
        -- the key result's own value stream (none: the series without one), then the series without a value
        -- stream; no product first; its own outcomes source first; then alphabetically, so the choice is stable
        lower(series.value_stream) is not distinct from lower(key_results.value_stream) desc,
        series.value_stream is null desc,
        series.product is null desc,
        series.source_instance <> key_results.source_instance,
        series.value_stream,
        series.product,
        series.source_instance
)

select
    chosen.*,
    kpi_values.observed_on,
    kpi_values.value,
    kpi_values.unit
from chosen
inner join kpi_values
    on kpi_values.source_instance = chosen.kpi_source_instance
    and kpi_values.kpi = chosen.kpi
    and kpi_values.value_stream is not distinct from chosen.kpi_value_stream
    and kpi_values.product is not distinct from chosen.kpi_product
