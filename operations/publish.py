"""Publish the marts for BI tools: a DuckDB file and Parquet files that readers may hold at any time.

DuckDB lets one process write a file, and while it writes no other process can open it, not even
read-only; a BI tool holding the working warehouse would also make the next `dbt build` fail. So BI
tools never open the working warehouse. After a successful build every table of the `marts` schema
is copied into a new file beside the published one and swapped in with `os.replace`: a reader that
has the old file open keeps reading it (its inode lives until it closes), a new reader gets the new
marts, and a build that failed never reaches this step, so the last good marts stay in place.

Layout under the published directory (default: the warehouse's folder):

    marts.duckdb                    every mart as a table in its default schema `main`, written with
                                    STORAGE_VERSION 'v1.4.0' so BI tools embedding DuckDB 1.4 or
                                    newer can open it. Opened as `marts.duckdb` its catalog is
                                    `marts`, so `marts.work_items` and plain `work_items` both work
                                    (a schema also named `marts` would make `marts.x` ambiguous).
    parquet/<mart>/<mart>.parquet   one file per mart, each swapped in the same way, with the dbt
                                    descriptions in its metadata (write_parquet)
    parquet/_published.json         when the marts were published and their row counts
"""

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from connectors.core.errors import ThroughlineError
from operations.processes import alive

MARTS_SCHEMA = "marts"
PUBLISHED_FILE = "marts.duckdb"
PARQUET_DIR = "parquet"
MANIFEST_FILE = "_published.json"
# A file in DuckDB 2.0's own format opens only in DuckDB 2.0+; BI tools embed older releases (the
# Evidence connector, the ODBC driver and Metabase's driver were on 1.4), which open this format.
STORAGE_VERSION = "v1.4.0"
PUBLISHED_ENV_VAR = "THROUGHLINE_PUBLISHED_DIR"


class PublishError(ThroughlineError):
    """The marts could not be published; the last published files were left as they were."""


@dataclass(frozen=True)
class Published:
    duckdb_file: Path
    parquet_dir: Path
    row_counts: dict[str, int]


def published_dir(warehouse: Path) -> Path:
    """THROUGHLINE_PUBLISHED_DIR, else the folder of the working warehouse."""
    value = os.environ.get(PUBLISHED_ENV_VAR)
    return Path(value).expanduser().resolve() if value else warehouse.parent


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def publish_marts(
    warehouse: Path,
    out_dir: Path,
    descriptions: dict[str, tuple[str, dict[str, str]]] | None = None,
) -> Published:
    """Copy every table and view of the warehouse's `marts` schema to `out_dir`, each file swapped in whole.

    `descriptions` maps a mart to (table description, {column: description}); they become DuckDB
    comments, which SQL clients and BI tools show beside the tables. Raises before touching any
    published file when the warehouse cannot be read or holds no marts.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    parquet_root = out_dir / PARQUET_DIR
    parquet_root.mkdir(exist_ok=True)
    remove_leftovers(out_dir)
    target = out_dir / PUBLISHED_FILE
    # A unique name per attempt: a crashed attempt's leftover never collides with the next one.
    stamp = f"{os.getpid()}.{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    staging = out_dir / f".{PUBLISHED_FILE}.{stamp}.tmp"
    staged_parquet: dict[str, Path] = {}
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # a long copy would draw a bar into the run's logs
    try:
        try:
            con.execute(f"ATTACH {_literal(str(warehouse))} AS working (READ_ONLY)")
        except duckdb.Error as exc:
            raise PublishError(
                f"publish: cannot read the working warehouse {warehouse} ({exc}); another process may be "
                "writing it. Run the publish step again after that process ends; the published marts "
                "were left as they were."
            ) from exc
        marts = [row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'working' "
            "AND table_schema = ? ORDER BY table_name", [MARTS_SCHEMA],
        ).fetchall()]
        if not marts:
            raise PublishError(
                f"publish: the warehouse {warehouse} has no tables in schema '{MARTS_SCHEMA}'; "
                "run the nightly job (dbt build) first. The published marts were left as they were."
            )
        con.execute(f"ATTACH {_literal(str(staging))} AS published (STORAGE_VERSION '{STORAGE_VERSION}')")
        counts: dict[str, int] = {}
        for mart in marts:
            source = f"working.{MARTS_SCHEMA}.{_quote(mart)}"
            copy = f"published.main.{_quote(mart)}"
            con.execute(f"CREATE TABLE {copy} AS SELECT * FROM {source}")
            counts[mart] = con.execute(f"SELECT count(*) FROM {copy}").fetchall()[0][0]
            table_doc, column_docs = (descriptions or {}).get(mart, ("", {}))
            if table_doc:
                con.execute(f"COMMENT ON TABLE {copy} IS {_literal(table_doc)}")
            for column, doc in column_docs.items():
                if doc:
                    con.execute(f"COMMENT ON COLUMN {copy}.{_quote(column)} IS {_literal(doc)}")
            (parquet_root / mart).mkdir(exist_ok=True)
            staged = parquet_root / mart / f".{mart}.{stamp}.tmp"
            staged_parquet[mart] = staged
            write_parquet(con, copy, staged, table_doc, column_docs)
        con.execute("DETACH published")
    except BaseException:
        con.close()
        staging.unlink(missing_ok=True)
        Path(f"{staging}.wal").unlink(missing_ok=True)
        for staged in staged_parquet.values():
            staged.unlink(missing_ok=True)
        raise
    con.close()

    os.replace(staging, target)
    for mart, staged in staged_parquet.items():
        os.replace(staged, parquet_root / mart / f"{mart}.parquet")
    # A mart dropped from the project must not linger as stale data in a BI tool.
    for folder in parquet_root.iterdir():
        if folder.is_dir() and folder.name not in counts and (folder / f"{folder.name}.parquet").exists():
            shutil.rmtree(folder)
    manifest = {
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duckdb_file": str(target),
        "storage_version": STORAGE_VERSION,
        "row_counts": counts,
    }
    manifest_tmp = parquet_root / f".{MANIFEST_FILE}.{stamp}.tmp"
    manifest_tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(manifest_tmp, parquet_root / MANIFEST_FILE)
    return Published(duckdb_file=target, parquet_dir=parquet_root, row_counts=counts)


# Rows per Arrow batch written to Parquet: bounds the memory a large mart takes while it is written.
PARQUET_BATCH_ROWS = 100_000
# The metadata key BI tools and Arrow readers look for (pyarrow's field.metadata, Spark's column comment).
DESCRIPTION_KEY = b"description"


def write_parquet(
    con: duckdb.DuckDBPyConnection, relation: str, path: Path, table_doc: str, column_docs: dict[str, str],
) -> None:
    """`relation` as one zstd Parquet file carrying its dbt descriptions: the table's as the file's key-value
    metadata `description`, each column's as its Arrow field metadata `description` (stored in the file's
    ARROW:schema, where pyarrow, pandas, Polars and Spark read it). DuckDB's COPY writes file key-value
    metadata (KV_METADATA) but no per-column metadata, so pyarrow writes the file, batch by batch."""
    reader = con.sql(f"SELECT * FROM {relation}").to_arrow_reader(PARQUET_BATCH_ROWS)
    fields = [
        field.with_metadata({DESCRIPTION_KEY: column_docs[field.name].encode()}) if column_docs.get(field.name)
        else field
        for field in reader.schema
    ]
    schema = pa.schema(fields, metadata={DESCRIPTION_KEY: table_doc.encode()} if table_doc else None)
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))


# The staged files of one attempt: `.<name>.<pid>.<UTC stamp>.tmp` (and DuckDB's `.wal` beside one).
_STAGED = re.compile(r"^\..+\.(?P<pid>\d+)\.\d{8}T\d{12}\.tmp(\.wal)?$")


def remove_leftovers(out_dir: Path) -> list[Path]:
    """Delete the staged files of attempts whose process is gone (a publish killed half way): they were never
    swapped in, so no reader has them open, and without this each crash would leave a copy of the marts."""
    removed = []
    for folder in [out_dir, *((out_dir / PARQUET_DIR).glob("*/")), out_dir / PARQUET_DIR]:
        for path in folder.glob(".*.tmp*") if folder.is_dir() else []:
            match = _STAGED.match(path.name)
            if match and not alive(int(match["pid"])):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def mart_descriptions(manifest: dict) -> dict[str, tuple[str, dict[str, str]]]:
    """(description, column descriptions) of every dbt model in the marts schema, by table name."""
    found = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("schema") == MARTS_SCHEMA:
            columns = {name: col.get("description", "") for name, col in node.get("columns", {}).items()}
            found[node.get("alias") or node["name"]] = (node.get("description", ""), columns)
    return found


def dashboard_exposures(manifest: dict) -> list[dict]:
    """The dbt exposures of type dashboard, each with the names of the marts it reads."""
    nodes = manifest.get("nodes", {})
    dashboards = []
    for exposure in manifest.get("exposures", {}).values():
        if exposure.get("type") != "dashboard":
            continue
        marts = sorted(
            nodes[uid].get("alias") or nodes[uid]["name"]
            for uid in exposure.get("depends_on", {}).get("nodes", [])
            if uid in nodes and nodes[uid].get("schema") == MARTS_SCHEMA
        )
        dashboards.append({
            "name": exposure["name"],
            "label": exposure.get("label") or exposure["name"],
            "description": exposure.get("description", ""),
            "url": exposure.get("url"),
            "marts": marts,
        })
    return sorted(dashboards, key=lambda d: d["name"])
