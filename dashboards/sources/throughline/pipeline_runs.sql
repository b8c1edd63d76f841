-- One row per run and source stream: the pages' "as of" line reads when the data was last read (docs/METRICS.md).
select * from marts.pipeline_runs
