-- The five DORA metrics per week, overall, per team and per service (docs/METRICS.md).
select * from marts.dora_metrics_weekly
