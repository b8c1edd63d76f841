"""The staleness limits the Dagster UI shows on raw assets and marts come from throughline.yml's `freshness:`,
read once per process (pipelines/monitoring.py freshness_limits)."""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg

from connectors.config import CONFIG_ENV_VAR


def _limit(hours: float) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=hours))


def test_raw_assets_and_marts_are_stale_after_the_configured_hours(tmp_path, monkeypatch):
    from pipelines import dbt_assets
    from pipelines.monitoring import freshness_limits
    from pipelines.raw_assets import build_raw_assets

    config = tmp_path / "throughline.yml"
    config.write_text("sources: []\nfreshness: {raw_hours: 30, marts_hours: 50}\n")
    monkeypatch.setenv(CONFIG_ENV_VAR, str(config))
    freshness_limits.cache_clear()
    try:
        raw = [spec for assets in build_raw_assets() for spec in assets.specs]
        assert len(raw) > 50 and {spec.freshness_policy for spec in raw} == {_limit(30)}

        manifest = json.loads(dbt_assets.dbt_project.manifest_path.read_text())

        def policy(unique_id: str):
            spec = dbt_assets.TRANSLATOR.get_asset_spec(manifest, unique_id, dbt_assets.dbt_project)
            return spec.freshness_policy

        assert policy("model.throughline.work_items") == _limit(50)
        assert policy("model.throughline.stg_jira__issues") is None  # only what BI reads
        # read once per process: a changed limit takes effect when the definitions load again
        config.write_text("sources: []\nfreshness: {raw_hours: 30, marts_hours: 60}\n")
        assert policy("model.throughline.deployments") == _limit(50)
    finally:
        freshness_limits.cache_clear()
