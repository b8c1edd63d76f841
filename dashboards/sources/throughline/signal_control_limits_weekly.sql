-- The control-limit band of each watched weekly metric per team and value stream (docs/METRICS.md#signals).
-- previous_values (a DOUBLE[]) is left out: the charts draw the band, not the weeks behind it.
select * exclude (previous_values) from marts.signal_control_limits_weekly
