-- Early-warning signals per week, team and value stream, with evidence and recommendation (docs/METRICS.md#signals).
-- evidence_values (a DOUBLE[]) is left out: the page shows the same values as text in `evidence`.
select * exclude (evidence_values) from marts.signals
