-- Every day's delivery forecasts (one snapshot per as_of_date), for drift (docs/METRICS.md#delivery-forecasts).
select * from marts.forecast_history
