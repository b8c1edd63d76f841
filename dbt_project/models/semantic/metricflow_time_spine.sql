-- The day calendar MetricFlow joins metrics to (docs/BI.md). Fixed bounds rather than the data's, so every
-- build, on DuckDB or PostgreSQL, holds the same rows and a period with no events still has its days.
select ({{ timestamp_series_rows("'2000-01-01'", "'2039-12-31'", "interval '1 day'") }})::date as date_day
