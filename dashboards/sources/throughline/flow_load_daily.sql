-- Flow load per day, team, value stream and flow item type (docs/METRICS.md#flow-load).
select * from marts.flow_load_daily
