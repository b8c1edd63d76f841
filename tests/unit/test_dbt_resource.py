"""The dbt resource the nightly's dbt assets run with (pipelines/dbt_assets.py)."""

from __future__ import annotations

from connectors.config import WAREHOUSE_ENV_VAR


def test_a_dbt_command_opens_no_dbt_adapter_inside_dagsters_process(tmp_path, monkeypatch):
    """dagster-dbt's own resource loads the profile, project and macros into an adapter at every command (seconds
    of each run) for row counts and column metadata the assets never fetch; ours runs dbt without one."""
    from pipelines.dbt_assets import dbt_resource

    monkeypatch.setenv(WAREHOUSE_ENV_VAR, str(tmp_path / "w.duckdb"))
    invocation = dbt_resource().cli(["--version"], target_path=tmp_path / "target", raise_on_error=True)
    invocation.wait()
    assert invocation.is_successful()
    assert invocation.adapter is None
