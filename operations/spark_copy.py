"""Write the raw layer (and the run report) of the DuckDB warehouse as Parquet files, where Spark reads them.

Extraction always lands in DuckDB (see operations/postgres_copy.py for why). A team whose marts live in Spark
runs `throughline copy-raw --target spark` after each load, then `dbt build --target spark` (docs/DEPLOY.md):
each dbt source table becomes a directory `<spark dir>/sources/<schema>/<table>/` of Parquet, which the
`spark` target's on-run-start hook registers as the table `<schema>.<table>` (macros/raw_tables.sql). A
directory is written beside the old one and swapped in by renames, so a reader sees the old files or the new.

The Spark directory is THROUGHLINE_SPARK_DIR, by default `<warehouse>.spark`, as in dbt_project/profiles.yml.
On a cluster, point THROUGHLINE_SPARK_DIR at storage the cluster mounts, or upload `sources/` there.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb

from operations.postgres_copy import SCHEMAS, CopiedTable, _quote, source_tables

SPARK_DIR_VAR = "THROUGHLINE_SPARK_DIR"

# The models not in the Spark build yet, each with the models that read it (docs/DEPLOY.md#the-marts-on-apache-spark
# says why): none now; a model whose SQL Spark cannot run yet goes here until it can.
NOT_PORTED: tuple[str, ...] = ()

# What of the dbt project builds on Spark: every seed and model but NOT_PORTED. `copy-raw --target spark --build`
# and the portability test build this selection. The unit tests are written in DuckDB's SQL.
PORTED_SELECTION = ["--select", "resource_type:seed resource_type:model",
                    "--exclude", "resource_type:unit_test", *(f"{name}+" for name in NOT_PORTED)]


def spark_dir(warehouse: Path, environ: dict[str, str] | None = None) -> Path:
    """The `spark` target's directory: THROUGHLINE_SPARK_DIR, else `<warehouse>.spark` (as profiles.yml)."""
    environ = os.environ if environ is None else environ
    return Path(environ.get(SPARK_DIR_VAR) or f"{warehouse}.spark")


def _select_expression(column: str, duckdb_type: str) -> str:
    quoted = _quote(column)
    upper = duckdb_type.upper()
    if upper == "JSON":
        # Spark has no JSON type: the payload stays text, read with get_json_object/from_json.
        return f"{quoted}::varchar as {quoted}"
    if upper in ("HUGEINT", "UBIGINT"):
        return f"{quoted}::decimal(38, 0) as {quoted}"
    if upper.startswith("TIMESTAMP WITH TIME ZONE"):
        # Spark's TIMESTAMP_NTZ and DuckDB's TIMESTAMP are both wall times in UTC here.
        return f"timezone('UTC', {quoted}) as {quoted}"
    return quoted


def copy_raw(warehouse: Path, target_dir: Path, schemas: Iterable[str] = SCHEMAS) -> list[CopiedTable]:
    """Write every table of `schemas` as `target_dir/sources/<schema>/<table>/data.parquet`; returns what was written.

    The warehouse is opened read-only, so a copy can run while no load writes it.
    """
    copied: list[CopiedTable] = []
    sources = target_dir / "sources"
    source = duckdb.connect(str(warehouse), read_only=True)
    try:
        for schema, table, columns in source_tables(source, schemas):
            select = ", ".join(_select_expression(c, t) for c, t in columns)
            final = sources / schema / table
            fresh = final.with_name(f".{table}.new")
            stale = final.with_name(f".{table}.old")
            for leftover in (fresh, stale):
                shutil.rmtree(leftover, ignore_errors=True)
            fresh.mkdir(parents=True)
            source.execute(
                f"copy (select {select} from {_quote(schema)}.{_quote(table)}) "
                f"to '{fresh / 'data.parquet'}' (format parquet, compression zstd)"
            )
            rows = source.execute(f"select count(*) from {_quote(schema)}.{_quote(table)}").fetchall()[0][0]
            if final.exists():
                final.rename(stale)
            fresh.rename(final)
            shutil.rmtree(stale, ignore_errors=True)
            copied.append(CopiedTable(schema, table, rows))
    finally:
        source.close()
    return copied
