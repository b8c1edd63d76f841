"""throughline-dbt (operations/dbt_main.py): dbt's check before it reuses a parse leaves out the warehouse file's
path, DuckDB's session settings and the vars, and keeps the warehouse's name and the profile and target names."""

from __future__ import annotations

import re

import pytest

from connectors.config import DBT_PROJECT_DIR


def _settings(path: str, temp_directory: str):
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    # as dbt reads profiles.yml: the database is the file's name
    credentials = DuckDBCredentials.from_dict({"path": path, "schema": "main", "settings": {"TimeZone": "UTC"},
                                               "config_options": {"temp_directory": temp_directory}})
    return list(credentials.connection_info())


@pytest.fixture
def restored(monkeypatch):
    """The change is process-wide: undone after the test, for the in-process dbt runs of tests/dbt."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    monkeypatch.setattr(DuckDBCredentials, "_connection_keys", DuckDBCredentials._connection_keys)


def test_two_folders_compare_equal_and_two_names_do_not(restored):
    from operations.dbt_main import leave_session_settings_out_of_parse_check

    here, there = _settings("/a/w.duckdb", "/a/w.duckdb.tmp"), _settings("/b/w.duckdb", "/b/w.duckdb.tmp")
    assert here != there  # dbt's own check: a parse holds for one file
    leave_session_settings_out_of_parse_check()
    leave_session_settings_out_of_parse_check()  # twice is once
    here, there = _settings("/a/w.duckdb", "/a/w.duckdb.tmp"), _settings("/b/w.duckdb", "/b/w.duckdb.tmp")
    assert here == there
    assert ("database", "w") in here and "path" not in dict(here) and "config_options" not in dict(here)
    assert dict(here)["settings"] == {"TimeZone": "UTC"}
    other_name = _settings("/a/x.duckdb", "/a/x.duckdb.tmp")
    assert dict(other_name)["database"] == "x" and other_name != here


def test_no_model_or_macro_reads_what_the_check_leaves_out():
    """What makes leaving them out correct: a parse renders every model, macro and YAML file of the project, and
    none of them reads the profile's path or session settings."""
    reads = re.compile(r"target\s*(\.\s*|\[\s*['\"])(path|config_options)\b")
    found = [str(path.relative_to(DBT_PROJECT_DIR)) for folder in ("models", "macros", "seeds", "tests")
             for path in (DBT_PROJECT_DIR / folder).rglob("*") if path.suffix in (".sql", ".yml", ".yaml")
             and reads.search(path.read_text())]
    found += ["dbt_project.yml"] if reads.search((DBT_PROJECT_DIR / "dbt_project.yml").read_text()) else []
    assert found == []


def test_two_sets_of_vars_compare_equal_and_two_targets_do_not(monkeypatch):
    """dbt's vars_hash without the vars: the profile and target names still count. (That no var changes what a
    parse produces: tests/dbt/test_parse_without_vars.py.)"""
    import inspect
    from types import SimpleNamespace

    from dbt.contracts.files import FileHash
    from dbt.contracts.graph.manifest import ManifestStateCheck
    from dbt.parser.manifest import ManifestLoader

    from operations.dbt_main import leave_vars_out_of_parse_check

    assert list(inspect.signature(ManifestLoader.build_manifest_state_check).parameters) == ["self"]

    def dbts_own(loader):  # what dbt hashes, as dbt-core 1.11 does: the vars, the profile and target names
        args = loader.root_project.args
        return ManifestStateCheck(vars_hash=FileHash.from_contents(repr((loader.root_project.cli_vars, args.profile,
                                                                          args.target))),
                                  profile_hash=FileHash.from_contents("the profile's settings"))

    def loader(cli_vars, target):
        return SimpleNamespace(root_project=SimpleNamespace(cli_vars=cli_vars,
                                                            args=SimpleNamespace(profile="throughline", target=target)))

    monkeypatch.setattr(ManifestLoader, "build_manifest_state_check", dbts_own)
    check = ManifestLoader.build_manifest_state_check
    assert check(loader({"forecast_trials": 7}, "dev")).vars_hash != check(loader({}, "dev")).vars_hash
    leave_vars_out_of_parse_check()
    leave_vars_out_of_parse_check()  # twice is once
    check = ManifestLoader.build_manifest_state_check
    seven, none = check(loader({"forecast_trials": 7}, "dev")), check(loader({}, "dev"))
    assert seven.vars_hash == none.vars_hash
    assert seven.profile_hash == FileHash.from_contents("the profile's settings")  # the rest is dbt's
    assert check(loader({}, "spark")).vars_hash != none.vars_hash


def test_a_run_writes_the_manifest_when_it_ends_only_and_a_parse_still_writes_it(monkeypatch):
    """dbt writes manifest.json after parsing and again when a run ends: throughline-dbt's run, build, test, seed
    and snapshot leave out the first; parse (the definitions' manifest), compile, docs generate and the rest keep it."""
    import inspect

    import click
    from dbt.cli import requires

    from operations.dbt_main import write_manifest_once

    assert list(inspect.signature(requires.parse_manifest).parameters) == [
        "runtime_config", "write_perf_info", "write", "write_json", "active_integrations"]
    asked = []
    monkeypatch.setattr(requires, "parse_manifest", lambda *args: asked.append(args[2]) or "manifest")
    write_manifest_once()
    write_manifest_once()  # twice is once

    def parse_in(command: str | None) -> bool:
        asked.clear()
        if command is None:
            assert requires.parse_manifest("config", False, True, True, []) == "manifest"
        else:
            with click.Context(click.Command(command)):
                assert requires.parse_manifest("config", False, True, True, []) == "manifest"
        return asked == [True]

    assert [parse_in(command) for command in ("run", "build", "test", "seed", "snapshot")] == [False] * 5
    assert [parse_in(command) for command in ("parse", "compile", "generate", "run-operation", "list", None)] == [
        True] * 6
    # what dbt asked for stands when it asked for no write at all
    asked.clear()
    with click.Context(click.Command("parse")):
        requires.parse_manifest("config", False, False, True, [])
    assert asked == [False]
