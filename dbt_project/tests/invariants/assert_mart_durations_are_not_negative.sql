-- No duration in any mart is negative: a stage whose ends are out of order is NULL (docs/METRICS.md),
-- a repair starts after the failure it repairs. One row per offending mart column.
{{ mart_invariant_violations('duration') }}
