-- Monthly DORA metrics (calendar months, UTC) per service, team and overall.
-- Definitions: docs/METRICS.md#dora-metrics-per-period.
{{ dora_metrics('month') }}
