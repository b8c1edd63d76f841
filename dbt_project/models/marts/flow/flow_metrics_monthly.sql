-- Flow Framework metrics per month, team, value stream and flow item type. Definitions:
-- docs/METRICS.md#flow-metrics-per-period (the SQL is shared with the other period in macros/flow_marts.sql).
{{ flow_metrics_by_period('month') }}
