-- Today's delivery forecasts: p50/p85/p95 completion per open epic, initiative, active sprint and key result
-- with a deadline, and the probability of finishing by its target (docs/METRICS.md#delivery-forecasts).
select * from marts.delivery_forecasts
