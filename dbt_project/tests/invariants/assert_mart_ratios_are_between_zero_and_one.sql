-- Every ratio in every mart (rates, efficiencies, shares) lies in [0, 1], exactly: float noise such as
-- 1.0000000000000002 is a defect (durations are summed in whole microseconds). One row per offending column.
{{ mart_invariant_violations('ratio') }}
