-- Every day's delivery forecasts, kept (docs/METRICS.md#delivery-forecasts): one snapshot of delivery_forecasts
-- per as-of date, so a forecast's drift shows ("its p85 moved three weeks later since last month"). A rerun on
-- the same as-of date replaces that date's snapshot; a full refresh keeps only today's (history lives nowhere else).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='as_of_date',
    on_schema_change='append_new_columns',
) }}

select * from {{ ref('delivery_forecasts') }}
