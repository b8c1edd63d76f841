"""Dagster definitions: raw stream assets, dbt models as assets, the nightly job and schedule."""
