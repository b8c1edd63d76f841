"""The dbt resource the nightly's dbt assets run with (pipelines/dbt_assets.py)."""

from __future__ import annotations

import shutil

import pytest

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


def test_a_dbt_command_starts_no_second_dbt_process_for_the_version(tmp_path, monkeypatch):
    """dagster-dbt runs `dbt --version` in a process of its own before every command (~1.5 s of each run) to tell
    dbt Core from dbt Fusion; ours knows the version of the dbt Core it runs."""
    import dagster_dbt.core.resource
    from dbt.version import __version__

    from pipelines.dbt_assets import dbt_resource

    def no_process(*args, **kwargs):
        raise AssertionError(f"a process started for the dbt version: {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_process)
    monkeypatch.setenv(WAREHOUSE_ENV_VAR, str(tmp_path / "w.duckdb"))
    resource = dbt_resource()
    invocation = resource.cli(["--version"], target_path=tmp_path / "target", raise_on_error=True)
    invocation.wait()
    assert invocation.is_successful()
    assert str(resource._cli_version) == __version__ == "1.11." + __version__.split(".")[2]


def test_the_resource_runs_throughline_dbt_and_plain_dbt_where_it_is_not_installed(monkeypatch):
    """An environment installed before throughline-dbt existed (a checkout updated without `make install`) still
    runs its nightly, with a warning that says how to get the parse reused."""
    import pipelines.dbt_assets
    from pipelines.dbt_assets import dbt_executable, dbt_resource

    assert dbt_resource().dbt_executable == dbt_executable() == "throughline-dbt"
    real_which = shutil.which
    monkeypatch.setattr(pipelines.dbt_assets.shutil, "which",
                        lambda name, *args, **kwargs: None if name == "throughline-dbt" else real_which(name))
    with pytest.warns(UserWarning, match=r"throughline-dbt is not installed .* run `make install`"):
        assert dbt_executable() == "dbt"
