-- KPI movement after shipment, one row per epic and key result whose KPI was measured around the epic's
-- first shipment: the rows value_stream_scorecard.kpi_towards_target_share counts, kept row-level so that the
-- semantic layer (docs/BI.md) re-aggregates the share at any grain. Definitions: docs/METRICS.md#outcome-links.

select
    links.source_instance,
    links.work_key as epic_key,
    links.team,
    links.value_stream,
    links.key_result_source_instance,
    links.key_result_id,
    links.objective,
    links.kpi,
    links.first_shipped_at,
    links.kpi_change,
    links.kpi_change_relative,
    coalesce(sign(links.kpi_change) = sign(key_results.target - key_results.baseline), false) as is_towards_target
from {{ ref('outcome_links') }} as links
inner join {{ ref('stg_outcomes__key_results') }} as key_results
    on key_results.source_instance = links.key_result_source_instance
    and key_results.key_result_id = links.key_result_id
-- epics only: an initiative's row repeats its epics' shipments
where links.work_level = 'epic' and links.kpi_change is not null
