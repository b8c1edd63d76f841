"""throughline-dbt (operations/dbt_main.py): dbt's check before it reuses a parse leaves out the warehouse file's
path and DuckDB's session settings, and keeps the warehouse's name."""

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
