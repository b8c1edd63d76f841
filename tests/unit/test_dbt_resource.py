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


def test_a_parse_made_for_one_warehouse_serves_another_of_the_same_name(tmp_path, monkeypatch):
    """The resource runs throughline-dbt (operations/dbt_main.py): a parse made for a warehouse in one folder is
    reused for a warehouse of the same name in another folder, as `dbt` reuses it for the same file only ("Unable
    to do partial parsing because profile has changed")."""
    import shutil

    from pipelines.dbt_assets import DBT_EXECUTABLE, dbt_resource

    resource = dbt_resource()
    assert resource.dbt_executable == DBT_EXECUTABLE == "throughline-dbt"
    logs = {}
    for folder in ("first", "second"):
        monkeypatch.setenv(WAREHOUSE_ENV_VAR, str(tmp_path / folder / "w.duckdb"))
        target = tmp_path / folder / "target"
        if folder == "second":
            target.mkdir(parents=True)
            shutil.copyfile(tmp_path / "first" / "target" / "partial_parse.msgpack", target / "partial_parse.msgpack")
        invocation = resource.cli(["parse"], target_path=target, raise_on_error=True)
        invocation.wait()
        logs[folder] = (target / "dbt.log").read_text()
    assert "Unable to do partial parsing" not in logs["second"]
    assert "Partial parsing enabled: 0 files deleted, 0 files added, 0 files changed." in logs["second"]
