"""Dagster-only settings. Everything read from throughline.yml takes its one route through connectors/config.py."""

# DuckDB allows one writer: every asset that writes the warehouse joins this pool, whose limit is 1
# in dagster_home/dagster.yaml, so runs and steps queue instead of failing on the file lock.
WRITER_POOL = "duckdb_warehouse"
