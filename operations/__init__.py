"""Running and watching the warehouse without Dagster: the `throughline` command, the warehouse lock and
reaper, history loads, alerts, the doctor, compaction and the PostgreSQL copy."""
