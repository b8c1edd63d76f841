-- Production deployments per ISO week, service and environment (docs/METRICS.md).
select * from marts.deployment_frequency_weekly
