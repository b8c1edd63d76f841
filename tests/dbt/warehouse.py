"""Helpers of the dbt end-to-end tests: load the raw layer, run dbt in-process, query read-only."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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

# dbt's unit tests (27, a few seconds of each build) read the rows they are given, never the warehouse: the
# first build of test_marts.py runs them (and the PostgreSQL and Spark portability builds; the nightly leaves
# them out, operations/dbt.py), and a module's own data cannot change their result, so the other modules' builds
# leave them out.
WITHOUT_UNIT_TESTS = ["--exclude", "resource_type:unit_test"]


def only(*relations: str) -> list[str]:
    """dbt arguments that build `relations` and their parents, and the data tests of those models alone.

    Most of a module's build is dbt's per-node cost (185 models, 246 data tests) on a few rows; a module that
    queries a few marts needs only their lineage. Every data test still runs on varied data in the full
    builds (test_marts.py, the demo builds of tests/e2e). `cautious`: a test that also reads a model outside
    the selection (a relationship to another mart) is left out rather than run against a missing table.
    """
    return ["--select", *(f"+{relation}" for relation in relations), "--indirect-selection", "cautious"]


def load_raw(warehouse: Path, batches: Iterable[Batch]) -> None:
    """Write API objects through the connectors' own raw store: the tables are exactly the raw contract."""
    with RawStore(warehouse) as store:
        for table in RAW_TABLES:  # a stream without data still needs its table for the staging view
            store.ensure_table(table)
        store.write(batches)


def run_dbt(args: list[str], warehouse: Path, work_dir: Path, project_dir: Path = DBT_PROJECT_DIR) -> None:
    """Run dbt in-process against `warehouse`, keeping target/ and logs/ out of the source tree."""
    result = invoke_dbt(args, warehouse, work_dir, project_dir)
    if not result.success:
        failures = []
        for node_result in getattr(result.result, "results", None) or []:
            if str(node_result.status) not in ("success", "pass"):
                failures.append(f"{node_result.node.unique_id}: {node_result.status}: {node_result.message}")
        raise AssertionError(
            f"dbt {' '.join(args)} failed: {result.exception or ''}\n" + "\n".join(failures)
        )


def invoke_dbt(args: list[str], warehouse: Path, work_dir: Path, project_dir: Path = DBT_PROJECT_DIR):
    """dbt's result of `args` run in-process against `warehouse`, on a manifest parsed once per process.

    A full `dbt parse` of the project costs more CPU than building a test's small warehouse, and partial
    parsing cannot help: every test writes to its own target folder. So the parsed manifest is kept per
    project, warehouse name (DuckDB's database name is the file's stem and lands in every relation name) and
    `--target`, the only argument that changes what a parse produces, and handed to each run. Not per `--vars`:
    no var changes a model's dependencies or configuration (test_parse_without_vars.py), and each run compiles
    every model it builds with its own vars.
    """
    from dbt.cli.main import dbtRunner

    common = common_options(work_dir, project_dir)
    with warehouse_env(warehouse):
        manifest = _parsed_manifest(_parse_arguments(args), warehouse, project_dir, common)
        return dbtRunner(manifest=manifest).invoke([*args, *common])


def parse(warehouse: Path, work_dir: Path, variables: dict):
    """The project as dbt parses it for a warehouse of `warehouse`'s name given `variables` as `--vars`: a parse
    of its own (the manifest invoke_dbt shares holds what the runs of the process compiled, too)."""
    with warehouse_env(warehouse):
        return _parse(["--vars", json.dumps(variables)], common_options(work_dir, DBT_PROJECT_DIR))


def common_options(work_dir: Path, project_dir: Path) -> list[str]:
    """dbt's options for a run of `project_dir` with its target/ and logs/ in `work_dir`, out of the source tree."""
    return ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
            "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs"), "--quiet"]


@contextmanager
def warehouse_env(warehouse: Path) -> Iterator[None]:
    """profiles.yml reads the warehouse's path from the environment: set for the block, then as it was, with the
    warehouse dbt-duckdb kept open released."""
    previous = os.environ.get(WAREHOUSE_ENV_VAR)
    os.environ[WAREHOUSE_ENV_VAR] = str(warehouse)
    try:
        yield
    finally:
        _release_warehouse()
        if previous is None:
            os.environ.pop(WAREHOUSE_ENV_VAR, None)
        else:
            os.environ[WAREHOUSE_ENV_VAR] = previous


_PARSE_OPTIONS = ("--target", "-t")
_manifests: dict[tuple, object] = {}


def _parse_arguments(args: list[str]) -> list[str]:
    """The options among `args` that change the parsed manifest, with their values."""
    chosen: list[str] = []
    for option, value in zip(args, args[1:]):
        if option in _PARSE_OPTIONS:
            chosen += [option, value]
    return chosen


def _parsed_manifest(parse_args: list[str], warehouse: Path, project_dir: Path, common: list[str]):
    key = (str(project_dir), warehouse.stem, *parse_args)
    if key not in _manifests:
        _manifests[key] = _parse(parse_args, common)
    return _manifests[key]


def _parse(parse_args: list[str], common: list[str]):
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(["parse", *parse_args, *common])
    if not result.success:
        raise AssertionError(f"dbt parse {' '.join(parse_args)} failed: {result.exception or ''}")
    return result.result


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
