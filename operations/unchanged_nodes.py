"""The models and seeds a nightly build leaves out: those none of whose inputs changed since the last complete
build (docs/OPERATIONS.md#what-a-nightly-run-rebuilds).

dbt runs every selected node, and each costs ~50 ms of dbt's own work however little it has to do (compiling,
its materialization's catalog reads), so a warehouse with two of twelve source types configured paid for a
hundred models of the others every night, and a night with nothing new for all of them. A node can only change
when one of its inputs did: the raw tables and the run reports it reads (through its parents), the project's
files (models, macros, seeds, dbt_project.yml) and the vars. So, before the build:

- each source table's state is read as the table materialization reads it (macros/unchanged_tables.sql): a raw
  table's row count and earliest and latest read, any other table's count and the hash of every row;
- the build is given `--exclude` with every model and seed that exists in the warehouse and descends from no
  source whose state differs from the last complete build's, when that build had the same project files, vars
  and dbt and DuckDB versions and no shard was merged since (`raw._merged_reads`): anything else builds every node.

After a build that succeeded, those states are recorded in `ops.build_inputs` (`record_build_inputs`): a failed
build records nothing, so the next one takes in everything changed since the last complete one, and so does a
build of some of the assets (pipelines/dbt_assets.py). What is built is closed under descendants: a relation
missing from the warehouse is built with everything built from it, and a node whose SQL checks
`selected_resources` (int_incremental_read_marks moves its marks only when every window reader is built) with all
its parents and theirs.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb

RECORD_TABLE = "ops.build_inputs"
# what a build reads besides its sources, by project file: every change to these rebuilds every node
PROJECT_FILES = ("models", "macros", "seeds", "dbt_project.yml", "packages.yml")
BUILT_TYPES = ("model", "seed")


@dataclass(frozen=True)
class BuildInputs:
    """What a build reads: each source's state (unique id -> text) and everything else as one fingerprint."""

    sources: dict[str, str]
    fingerprint: str


def project_fingerprint(project_dir: Path, dbt_args: list[str], merged_reads: str) -> str:
    """A hash of the project's files, the command's vars, dbt's and DuckDB's versions and the shard reads merged
    since the last build (``merged_reads``): a change to any of them may change any node."""
    digest = hashlib.sha256()
    paths = []
    for name in PROJECT_FILES:
        path = project_dir / name
        if path.is_dir():
            paths.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.exists():
            paths.append(path)
    for path in paths:
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    variables = [dbt_args[i + 1] for i, arg in enumerate(dbt_args[:-1]) if arg == "--vars"]
    for part in (json.dumps(variables), version("dbt-core"), version("dbt-duckdb"), version("duckdb"), merged_reads):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def existing_relations(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """The (schema, name) of every table and view of the warehouse open on ``con``."""
    rows = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
                       "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
                       "WHERE database_name = current_database() AND NOT internal").fetchall()
    return {(schema, name) for schema, name in rows}


def _is_read_stamped(schema: str, name: str) -> bool:
    return schema == "raw" and not name.startswith("_")


def _state_expression(schema: str, name: str) -> str:
    relation = f'"{schema}"."{name}"'
    if _is_read_stamped(schema, name):
        state = "coalesce(min(extracted_at)::varchar, '-') || ':' || coalesce(max(extracted_at)::varchar, '-')"
    else:
        state = "coalesce(sum(hash(t))::varchar, '-')"
    return f"(SELECT count(*) || ':' || {state} FROM {relation} AS t)"


def _empty_state(schema: str, name: str) -> str:
    # a source table not created yet reads as an empty one: the build's on-run-start hook creates the raw
    # tables empty, and the next night's state must match the recorded one
    return "0:-:-" if _is_read_stamped(schema, name) else "0:-"


def read_build_inputs(con: duckdb.DuckDBPyConnection, existing: set[tuple[str, str]], manifest: dict[str, Any],
                      project_dir: Path, dbt_args: list[str]) -> BuildInputs:
    """The inputs a build of ``manifest``'s project with ``dbt_args`` reads from the warehouse open on ``con``,
    whose relations are ``existing`` (existing_relations)."""
    expressions = {unique_id: _state_expression(source["schema"], source["identifier"])
                   for unique_id, source in manifest["sources"].items()
                   if (source["schema"], source["identifier"]) in existing}
    states = {unique_id: _empty_state(source["schema"], source["identifier"])
              for unique_id, source in manifest["sources"].items()}
    if expressions:
        row = con.execute("SELECT " + ", ".join(expressions.values())).fetchall()[0]
        states.update(zip(expressions, row))
    merged = (con.execute("SELECT count(*) || ':' || coalesce(sum(hash(t))::varchar, '-') FROM raw._merged_reads AS t")
              .fetchall()[0][0] if ("raw", "_merged_reads") in existing else "none")
    return BuildInputs(states, project_fingerprint(project_dir, dbt_args, merged))


def recorded_build_inputs(con: duckdb.DuckDBPyConnection, existing: set[tuple[str, str]]) -> BuildInputs | None:
    """The inputs of the last build that succeeded, or None (none recorded yet)."""
    schema, table = RECORD_TABLE.split(".")
    if (schema, table) not in existing:
        return None
    rows = con.execute(f"SELECT unique_id, state FROM {RECORD_TABLE}").fetchall()
    fingerprint = dict(rows).pop("", None)
    return BuildInputs({uid: state for uid, state in rows if uid}, fingerprint) if fingerprint else None


def record_build_inputs(warehouse: str | os.PathLike[str], inputs: BuildInputs) -> None:
    """Record ``inputs`` as those of the last build that succeeded (the fingerprint under the empty id)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS ops")
        con.execute(f"CREATE TABLE IF NOT EXISTS {RECORD_TABLE} "
                    "(unique_id VARCHAR PRIMARY KEY, state VARCHAR NOT NULL)")
        con.execute("BEGIN")
        con.execute(f"DELETE FROM {RECORD_TABLE}")
        con.executemany(f"INSERT INTO {RECORD_TABLE} VALUES (?, ?)",
                        [("", inputs.fingerprint), *sorted(inputs.sources.items())])
        con.execute("COMMIT")


def nodes_to_leave_out(manifest: dict[str, Any], current: BuildInputs, recorded: BuildInputs | None,
                       existing: set[tuple[str, str]]) -> list[str]:
    """The unique ids of the models and seeds whose inputs are all as ``recorded`` and whose relation is in
    ``existing`` ((schema, name) pairs), parents before children; none without a record or with another
    fingerprint.

    What is built is closed under descendants (every descendant of a built node is built), so no node left out
    has a built ancestor: the Dagster step reports the left-out ones first, in dependency order, as it must."""
    if recorded is None or recorded.fingerprint != current.fingerprint:
        return []
    nodes, children = manifest["nodes"], manifest["child_map"]
    buildable = {unique_id for unique_id, node in nodes.items()
                 if node["resource_type"] in BUILT_TYPES and node["config"].get("enabled", True)
                 and node["config"].get("materialized") != "ephemeral"}
    changed = [uid for uid, state in current.sources.items() if recorded.sources.get(uid) != state]
    # a relation missing from the warehouse is built, and so everything built from it
    missing = [uid for uid in buildable if (nodes[uid]["schema"], nodes[uid]["alias"]) not in existing]
    built, queue = set(missing), [*changed, *missing]
    while queue:
        for child in children.get(queue.pop(), []):
            if child in built:
                continue
            built.add(child)
            queue.append(child)
            # a node that checks its parents are selected (int_incremental_read_marks moves its marks only when
            # every window reader is built) is built with all of them, and so with their descendants
            if "selected_resources" in nodes.get(child, {}).get("raw_code", ""):
                parents = [p for p in nodes[child]["depends_on"]["nodes"] if p not in built]
                built.update(parents)
                queue.extend(parents)
    depths: dict[str, int] = {}
    return sorted(buildable - built, key=lambda uid: (_depth(nodes, uid, depths), uid))


def _depth(nodes: dict[str, Any], unique_id: str, memo: dict[str, int]) -> int:
    """How many nodes deep ``unique_id`` sits below the sources (0: reads sources or nothing)."""
    if unique_id not in memo:
        parents = [p for p in nodes.get(unique_id, {}).get("depends_on", {}).get("nodes", []) if p in nodes]
        memo[unique_id] = 1 + max((_depth(nodes, p, memo) for p in parents), default=-1)
    return memo[unique_id]


def plan_build(warehouse: str | os.PathLike[str], manifest: dict[str, Any], project_dir: Path,
               dbt_args: list[str]) -> tuple[list[str], BuildInputs]:
    """The unique ids of the nodes a build of ``dbt_args`` leaves out (nodes_to_leave_out), and the inputs to
    record once it succeeded (record_build_inputs). Reads the warehouse only."""
    # not read-only: a read-only connection cannot share the file with one this process may hold
    with duckdb.connect(str(warehouse)) as con:
        existing = existing_relations(con)
        current = read_build_inputs(con, existing, manifest, project_dir, dbt_args)
        left_out = nodes_to_leave_out(manifest, current, recorded_build_inputs(con, existing), existing)
    return left_out, current


def exclude_args(unique_ids: list[str]) -> list[str]:
    """dbt's arguments leaving the models and seeds ``unique_ids`` out, by name (the unique id's last part): one
    space-separated selection (dagster-dbt takes one value per `--exclude`)."""
    return ["--exclude", " ".join(uid.rsplit(".", 1)[-1] for uid in unique_ids)] if unique_ids else []
