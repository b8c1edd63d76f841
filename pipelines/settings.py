"""Dagster-only settings. Everything read from throughline.yml takes its one route through connectors/config.py."""

import dagster as dg

from connectors.config import has_own_config

# DuckDB allows one writer: every asset that writes the warehouse joins this pool, whose limit is 1
# in dagster_home/dagster.yaml, so runs and steps queue instead of failing on the file lock.
WRITER_POOL = "duckdb_warehouse"


def schedule_status() -> dg.DefaultScheduleStatus:
    """On from the start with a config of the user's own (a deployment should not need a click); stopped on the
    demo's or none, so `make dev` after `make demo` runs nothing by itself."""
    return dg.DefaultScheduleStatus.RUNNING if has_own_config() else dg.DefaultScheduleStatus.STOPPED


def launching_sensor_status() -> dg.DefaultSensorStatus:
    """The same for a sensor that launches runs (the alert sensors launch none and stay on)."""
    return dg.DefaultSensorStatus.RUNNING if has_own_config() else dg.DefaultSensorStatus.STOPPED
