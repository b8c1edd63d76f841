"""Helpers of the dbt end-to-end tests: load the raw layer, run dbt in-process, query read-only."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable
from pathlib import Path

import duckdb
import yaml

from connectors.core.raw import RawRecord, RawStore
from connectors.config import DBT_PROJECT_DIR, WAREHOUSE_ENV_VAR

def _raw_tables(project_dir: Path = DBT_PROJECT_DIR) -> tuple[str, ...]:
    """The tables of the dbt source `raw`: those each staging folder declares (`<folder>/_<type>__sources.yml`,
    as `make new-source` writes it)."""
    staging = project_dir / "models" / "staging"
    tables: list[str] = []
    for path in sorted(staging.glob("*/_*__sources.yml")):
        declared = yaml.safe_load(path.read_text()) or {}
        for source in declared.get("sources") or []:
            if source["name"] == "raw":
                tables += [table["name"] for table in source.get("tables") or []]
    return tuple(tables)


RAW_TABLES = _raw_tables()

Batch = tuple[str, str, list[RawRecord]]  # (raw table, source_instance, records)


def load_raw(warehouse: Path, batches: Iterable[Batch]) -> None:
    """Write API objects through the connectors' own raw store: the tables are exactly the raw contract."""
    with RawStore(warehouse) as store:
        for table in RAW_TABLES:  # a stream without data still needs its table for the staging view
            store.ensure_table(table)
        store.write(batches)


def run_dbt(args: list[str], warehouse: Path, work_dir: Path) -> None:
    """Run dbt in-process against `warehouse`, keeping target/ and logs/ out of the source tree."""
    from dbt.cli.main import dbtRunner

    previous = os.environ.get(WAREHOUSE_ENV_VAR)
    os.environ[WAREHOUSE_ENV_VAR] = str(warehouse)
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
            os.environ.pop(WAREHOUSE_ENV_VAR, None)
        else:
            os.environ[WAREHOUSE_ENV_VAR] = previous
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


def query_dicts(warehouse: Path, sql: str, params: list | None = None) -> list[dict]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute(sql, params or [])
        rows = cursor.fetchall()
        return [dict(zip([column[0] for column in cursor.description], row)) for row in rows]
