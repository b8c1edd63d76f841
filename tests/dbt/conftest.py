"""Shared pieces of the dbt end-to-end tests: the raw-layer DDL and one `dbt build` into a temp warehouse.

dbt parses the project on every invocation (~2 s), so each test module builds once in a module-scoped
fixture and its tests only query the result.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

RAW_TABLES = (
    "jira__issues",
    "jira__changelogs",
    "jira__statuses",
    "github__pull_requests",
    "github__deployments",
    "github__deployment_statuses",
    "github__workflow_runs",
)

# Exactly the raw-layer contract of docs/ARCHITECTURE.md.
RAW_TABLE_DDL = """
CREATE TABLE raw.{table} (
  source_instance VARCHAR NOT NULL,
  record_key      VARCHAR NOT NULL,
  parent_key      VARCHAR,
  scope           VARCHAR,
  cursor_value    VARCHAR,
  payload         JSON NOT NULL,
  extracted_at    TIMESTAMP NOT NULL,
  PRIMARY KEY (source_instance, record_key)
)
"""

EXTRACTED_AT = datetime(2026, 1, 14, 6, 0, 0)


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for table in RAW_TABLES:
        con.execute(RAW_TABLE_DDL.format(table=table))


def insert_raw(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: Iterable[dict],
    *,
    source_instance: str,
) -> None:
    """Insert API objects; each row is {record_key, payload, parent_key?, scope?, cursor_value?}."""
    con.executemany(
        f"INSERT INTO raw.{table} VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                source_instance,
                str(row["record_key"]),
                row.get("parent_key"),
                row.get("scope"),
                row.get("cursor_value"),
                json.dumps(row["payload"]),
                EXTRACTED_AT,
            )
            for row in rows
        ],
    )


def run_dbt(args: list[str], warehouse: Path, work_dir: Path) -> None:
    """Run dbt in-process against `warehouse`, keeping target/ and logs/ out of the source tree."""
    from dbt.cli.main import dbtRunner

    previous = os.environ.get("THROUGHLINE_WAREHOUSE")
    os.environ["THROUGHLINE_WAREHOUSE"] = str(warehouse)
    try:
        result = dbtRunner().invoke(
            [
                *args,
                "--project-dir", str(DBT_PROJECT_DIR),
                "--profiles-dir", str(DBT_PROJECT_DIR),
                "--target-path", str(work_dir / "target"),
                "--log-path", str(work_dir / "logs"),
                "--quiet",
            ]
        )
    finally:
        _release_warehouse()
        if previous is None:
            os.environ.pop("THROUGHLINE_WAREHOUSE", None)
        else:
            os.environ["THROUGHLINE_WAREHOUSE"] = previous
    if not result.success:
        failures = []
        for node_result in getattr(result.result, "results", None) or []:
            if str(node_result.status) not in ("success", "pass"):
                failures.append(f"{node_result.node.unique_id}: {node_result.status}: {node_result.message}")
        raise AssertionError(
            f"dbt {' '.join(args)} failed: {result.exception or ''}\n" + "\n".join(failures)
        )


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in-process after a run.

    dbt-duckdb holds one database instance per process until exit (it registers exactly this call with
    atexit); while it is open, the tests' own read-only connection is refused as a different configuration.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    gc.collect()


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def build_warehouse(tmp_path_factory) -> Callable[[Callable[[duckdb.DuckDBPyConnection], None]], Path]:
    """Return a function that creates a warehouse, loads raw rows with `load`, and runs `dbt build`."""

    def build(load: Callable[[duckdb.DuckDBPyConnection], None]) -> Path:
        work_dir = tmp_path_factory.mktemp("dbt")
        warehouse = work_dir / "throughline.duckdb"
        with duckdb.connect(str(warehouse)) as con:
            create_raw_tables(con)
            load(con)
        run_dbt(["build"], warehouse, work_dir)
        return warehouse

    return build

