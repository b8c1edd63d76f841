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

An upgrade needs more than building every node: an incremental model rebuilds only the keys its changes touch, so
rows written by the older code would stay as they were. So each incremental model's code is fingerprinted too
(`code_fingerprints`: its SQL and config, those of every model it reads directly or not, the project's macros,
dbt_project.yml, the vars, dbt's and DuckDB's versions), and the models whose fingerprint differs from the last
complete build's are rebuilt in full (`models_to_refresh`; the build gets their ids in REFRESH_ENV_VAR, which
macros/full_refresh.sql reads), with no `--full-refresh` to remember.

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
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb

RECORD_TABLE = "ops.build_inputs"
# the record's rows of the code fingerprints: this prefix and the model's unique id (the sources' rows are their ids)
CODE_PREFIX = "code:"
# what a build reads besides its sources, by project file: every change to these rebuilds every node
PROJECT_FILES = ("models", "macros", "seeds", "dbt_project.yml", "packages.yml")
# what every incremental model's rows may depend on besides the models it reads: a change to these rebuilds every
# incremental model in full (a macro's use is not all in the manifest: dbt records the calls of a parse, in which
# is_incremental() is false, so the macros of the incremental path are missing from a node's depends_on)
SHARED_CODE_FILES = ("macros", "dbt_project.yml", "packages.yml")
BUILT_TYPES = ("model", "seed")
# the unique ids of the incremental models the build rebuilds in full, comma-separated (macros/full_refresh.sql)
REFRESH_ENV_VAR = "THROUGHLINE_REFRESH_MODELS"


@dataclass(frozen=True)
class BuildInputs:
    """What a build reads: each source's state (unique id -> text), everything else as one fingerprint, and each
    incremental model's code fingerprint (unique id -> hash, code_fingerprints)."""

    sources: dict[str, str]
    fingerprint: str
    code: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildPlan:
    """A nightly build's plan: the nodes it leaves out, the incremental models it rebuilds in full, and the
    inputs to record once it succeeded (record_build_inputs)."""

    left_out: list[str]
    refresh: list[str]
    inputs: BuildInputs


def project_files(project_dir: Path) -> dict[str, list[bytes]]:
    """Per name of PROJECT_FILES (a file or folder of ``project_dir``), the path and bytes of each file under it,
    as the fingerprints hash them: read once for both (SHARED_CODE_FILES is a part of PROJECT_FILES)."""
    files: dict[str, list[bytes]] = {}
    for name in PROJECT_FILES:
        path = project_dir / name
        if path.is_dir():
            paths = sorted(p for p in path.rglob("*") if p.is_file())
        else:
            paths = [path] if path.exists() else []
        files[name] = [str(p.relative_to(project_dir)).encode() + b"\0" + p.read_bytes() + b"\0" for p in paths]
    return files


def _files_digest(digest: Any, files: dict[str, list[bytes]], names: tuple[str, ...]) -> None:
    """Feed ``digest`` the files of ``files`` (project_files) under ``names``, in that order."""
    for name in names:
        for part in files[name]:
            digest.update(part)


def _versions_and_vars(digest: Any, dbt_args: list[str]) -> None:
    """Feed ``digest`` the command's vars and dbt's and DuckDB's versions."""
    variables = [dbt_args[i + 1] for i, arg in enumerate(dbt_args[:-1]) if arg == "--vars"]
    for part in (json.dumps(variables), version("dbt-core"), version("dbt-duckdb"), version("duckdb")):
        digest.update(part.encode() + b"\0")


def project_fingerprint(files: dict[str, list[bytes]], dbt_args: list[str], merged_reads: str) -> str:
    """A hash of the project's files (``files``: project_files), the command's vars, dbt's and DuckDB's versions
    and the shard reads merged since the last build (``merged_reads``): a change to any of them may change any
    node."""
    digest = hashlib.sha256()
    _files_digest(digest, files, PROJECT_FILES)
    _versions_and_vars(digest, dbt_args)
    digest.update(merged_reads.encode() + b"\0")
    return digest.hexdigest()


def refreshed_on_upgrade(node: dict[str, Any]) -> bool:
    """Whether ``node`` is an incremental model that an upgrade rebuilds in full: not one whose rows are a kept
    history found nowhere else (`meta: {keeps_history: true}`, forecast_history's daily snapshots)."""
    config = node["config"]
    return (node["resource_type"] == "model" and config.get("materialized") == "incremental"
            and config.get("enabled", True) and not (config.get("meta") or {}).get("keeps_history"))


def code_fingerprints(manifest: dict[str, Any], files: dict[str, list[bytes]],
                      dbt_args: list[str]) -> dict[str, str]:
    """Per incremental model refreshed on upgrade, a hash of the code its rows come from: its SQL and config and
    those of every model and seed it reads, directly or not, the project's macros and dbt_project.yml (shared by
    all; ``files``: project_files), the command's vars and dbt's and DuckDB's versions. The seeds' rows are not in
    it: the incremental models find the rows a seed edit changes themselves (docs/OPERATIONS.md#incremental-builds).
    """
    shared = hashlib.sha256()
    _files_digest(shared, files, SHARED_CODE_FILES)
    _versions_and_vars(shared, dbt_args)
    nodes, memo = manifest["nodes"], {}

    def closure(unique_id: str) -> str:
        if unique_id not in memo:
            node = nodes.get(unique_id)
            if node is None:  # a source: its name (its rows are the sources' states)
                memo[unique_id] = unique_id
            else:
                digest = hashlib.sha256(unique_id.encode() + b"\0" + node.get("raw_code", "").encode() + b"\0"
                                        + json.dumps(node["config"], sort_keys=True, default=str).encode())
                for parent in sorted(node.get("depends_on", {}).get("nodes", [])):
                    digest.update(closure(parent).encode())
                memo[unique_id] = digest.hexdigest()
        return memo[unique_id]

    return {unique_id: hashlib.sha256(shared.digest() + closure(unique_id).encode()).hexdigest()
            for unique_id, node in nodes.items() if refreshed_on_upgrade(node)}


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
    files = project_files(project_dir)
    return BuildInputs(states, project_fingerprint(files, dbt_args, merged),
                       code_fingerprints(manifest, files, dbt_args))


def recorded_build_inputs(con: duckdb.DuckDBPyConnection, existing: set[tuple[str, str]]) -> BuildInputs | None:
    """The inputs of the last build that succeeded, or None (none recorded yet)."""
    schema, table = RECORD_TABLE.split(".")
    if (schema, table) not in existing:
        return None
    rows = con.execute(f"SELECT unique_id, state FROM {RECORD_TABLE}").fetchall()
    fingerprint = dict(rows).pop("", None)
    if not fingerprint:
        return None
    return BuildInputs({uid: state for uid, state in rows if uid and not uid.startswith(CODE_PREFIX)}, fingerprint,
                       {uid.removeprefix(CODE_PREFIX): state for uid, state in rows if uid.startswith(CODE_PREFIX)})


def record_build_inputs(warehouse: str | os.PathLike[str], inputs: BuildInputs) -> None:
    """Record ``inputs`` as those of the last build that succeeded (the fingerprint under the empty id)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS ops")
        con.execute(f"CREATE TABLE IF NOT EXISTS {RECORD_TABLE} "
                    "(unique_id VARCHAR PRIMARY KEY, state VARCHAR NOT NULL)")
        con.execute("BEGIN")
        con.execute(f"DELETE FROM {RECORD_TABLE}")
        con.executemany(f"INSERT INTO {RECORD_TABLE} VALUES (?, ?)",
                        [("", inputs.fingerprint), *sorted(inputs.sources.items()),
                         *sorted((CODE_PREFIX + uid, code) for uid, code in inputs.code.items())])
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
    missing = [uid for uid in buildable if _relation(nodes[uid]) not in existing]
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


def _relation(node: dict[str, Any]) -> tuple[str, str]:
    """The (schema, name) of the relation a model or seed of the manifest builds, as existing_relations has them."""
    return node["schema"], node["alias"]


def _depth(nodes: dict[str, Any], unique_id: str, memo: dict[str, int]) -> int:
    """How many nodes deep ``unique_id`` sits below the sources (0: reads sources or nothing)."""
    if unique_id not in memo:
        parents = [p for p in nodes.get(unique_id, {}).get("depends_on", {}).get("nodes", []) if p in nodes]
        memo[unique_id] = 1 + max((_depth(nodes, p, memo) for p in parents), default=-1)
    return memo[unique_id]


def models_to_refresh(manifest: dict[str, Any], current: BuildInputs, recorded: BuildInputs | None,
                      existing: set[tuple[str, str]]) -> list[str]:
    """The unique ids of the incremental models in ``existing`` whose code fingerprint is not the one ``recorded``:
    their code or that of a model they read changed since the last complete build (an upgrade), or the record has
    none (no complete build recorded, or one recorded before the fingerprints were): their rows may be older code's."""
    nodes = manifest["nodes"]
    return sorted(uid for uid, code in current.code.items()
                  if _relation(nodes[uid]) in existing
                  and (recorded is None or recorded.code.get(uid) != code))


def plan_build(warehouse: str | os.PathLike[str], manifest: dict[str, Any], project_dir: Path,
               dbt_args: list[str]) -> BuildPlan:
    """The plan of a build of ``dbt_args``: the nodes it leaves out (nodes_to_leave_out), the incremental models it
    rebuilds in full (models_to_refresh: then it leaves nothing out, since every node reading them must be built),
    and the inputs to record once it succeeded (record_build_inputs). Reads the warehouse only."""
    # not read-only: a read-only connection cannot share the file with one this process may hold
    with duckdb.connect(str(warehouse)) as con:
        existing = existing_relations(con)
        current = read_build_inputs(con, existing, manifest, project_dir, dbt_args)
        recorded = recorded_build_inputs(con, existing)
    refresh = models_to_refresh(manifest, current, recorded, existing)
    left_out = [] if refresh else nodes_to_leave_out(manifest, current, recorded, existing)
    return BuildPlan(left_out, refresh, current)


def refresh_env(plan: BuildPlan) -> dict[str, str]:
    """The environment telling the build which incremental models to rebuild in full (none: an empty value)."""
    return {REFRESH_ENV_VAR: ",".join(plan.refresh)}


def exclude_args(unique_ids: list[str]) -> list[str]:
    """dbt's arguments leaving the models and seeds ``unique_ids`` out, by name (the unique id's last part): one
    space-separated selection (dagster-dbt takes one value per `--exclude`)."""
    return ["--exclude", " ".join(uid.rsplit(".", 1)[-1] for uid in unique_ids)] if unique_ids else []
