-- Every day's delivery forecasts, kept (docs/METRICS.md#delivery-forecasts): one snapshot of delivery_forecasts
-- per as-of date, so a forecast's drift shows ("its p85 moved three weeks later since last month"). A rerun on
-- the same as-of date replaces that date's snapshot; a full refresh keeps only today's (history lives nowhere else).
-- On Spark a Parquet table partitioned by the date, whose run replaces that date's partition
-- (partition_increment_config, macros/portable/spark.sql). An upgrade does not rebuild it in full, as it does the
-- other incremental models (meta keeps_history, operations/unchanged_nodes.py): the snapshots are the forecasts
-- as they were made.
{{ config(
    materialized='incremental',
    on_schema_change='append_new_columns',
    meta={'keeps_history': true},
    **partition_increment_config('as_of_date'),
) }}

select * from {{ ref('delivery_forecasts') }}
