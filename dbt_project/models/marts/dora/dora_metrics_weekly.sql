-- Weekly DORA metrics (ISO weeks, Monday 00:00 UTC) per service, team and overall.
-- Definitions: docs/METRICS.md#dora-metrics-per-period.
{{ dora_metrics('week') }}
