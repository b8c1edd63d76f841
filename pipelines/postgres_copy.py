"""Copy the raw layer (and the run report) from the DuckDB warehouse into PostgreSQL, where dbt builds the marts.

Extraction always lands in DuckDB: its single-writer file is what makes state advance only after the data
it covers is committed. A team whose marts live in PostgreSQL copies the dbt sources across after each load
(`throughline copy-raw`), then runs `dbt build --target postgres` (docs/DEPLOY.md). Each table is replaced
in one transaction, so a reader of PostgreSQL sees either the previous copy or the new one, never half.

The connection comes from the same environment variables as the `postgres` output of dbt_project/profiles.yml:
THROUGHLINE_PG_HOST, THROUGHLINE_PG_PORT, THROUGHLINE_PG_USER, THROUGHLINE_PG_PASSWORD, THROUGHLINE_PG_DATABASE.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from connectors.core.errors import ConfigError

# The dbt sources: connectors' raw tables and the orchestrator's run report.
SCHEMAS = ("raw", "ops")

# DuckDB column type -> PostgreSQL column type. JSON becomes jsonb, which PostgreSQL parses once at load,
# so the staging views' many path lookups per row do not re-parse text.
_TYPES = {
    "VARCHAR": "text",
    "JSON": "jsonb",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "DATE": "date",
    "BOOLEAN": "boolean",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "DOUBLE": "double precision",
    "FLOAT": "real",
}

ENV = {
    "host": "THROUGHLINE_PG_HOST",
    "port": "THROUGHLINE_PG_PORT",
    "user": "THROUGHLINE_PG_USER",
    "password": "THROUGHLINE_PG_PASSWORD",
    "dbname": "THROUGHLINE_PG_DATABASE",
}


@dataclass(frozen=True)
class CopiedTable:
    schema: str
    table: str
    rows: int


def connection_settings(environ: dict[str, str] | None = None) -> dict[str, str]:
    """psycopg2 connection keywords from the environment; a missing one is a ConfigError naming it."""
    environ = os.environ if environ is None else environ
    settings = {"port": environ.get(ENV["port"], "5432")}
    missing = []
    for key, var in ENV.items():
        if key == "port":
            continue
        if environ.get(var):
            settings[key] = environ[var]
        else:
            missing.append(var)
    if missing:
        raise ConfigError(
            f"copy-raw to PostgreSQL: set {', '.join(missing)} (the same variables the `postgres` target of "
            "dbt_project/profiles.yml reads; see docs/DEPLOY.md)"
        )
    return settings


def _pg_type(duckdb_type: str, schema: str, table: str, column: str) -> str:
    pg = _TYPES.get(duckdb_type.upper())
    if pg is None:
        raise ConfigError(
            f"copy-raw: {schema}.{table}.{column} has DuckDB type {duckdb_type}, which has no PostgreSQL mapping; "
            "add it to pipelines/postgres_copy.py _TYPES"
        )
    return pg


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_raw(warehouse: Path, pg_connection, schemas: Iterable[str] = SCHEMAS) -> list[CopiedTable]:
    """Replace every table of `schemas` in PostgreSQL with the DuckDB warehouse's rows; returns what was copied.

    Rows travel as CSV through COPY (the fastest path psycopg2 has). The warehouse is opened read-only,
    so a copy can run while no load writes it.
    """
    copied: list[CopiedTable] = []
    source = duckdb.connect(str(warehouse), read_only=True)
    try:
        schema_list = ", ".join(f"'{s}'" for s in schemas)
        tables = source.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({schema_list}) and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            columns = source.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            ddl = ", ".join(f"{_quote(c)} {_pg_type(t, schema, table, c)}" for c, t in columns)
            # JSON text may carry \u0000, which jsonb refuses; it never means anything in these APIs.
            select = ", ".join(
                f"replace({_quote(c)}::varchar, '\\u0000', '') as {_quote(c)}" if t.upper() == "JSON"
                else _quote(c)
                for c, t in columns
            )
            # DuckDB writes the CSV itself: every value quoted, NULL as an empty unquoted field, which
            # PostgreSQL's CSV reader tells apart from an empty string.
            with tempfile.TemporaryDirectory(prefix="throughline-copy-") as tmp:
                csv_file = Path(tmp) / "rows.csv"
                source.execute(
                    f"copy (select {select} from {_quote(schema)}.{_quote(table)}) to '{csv_file}' "
                    "(format csv, header false, force_quote *)"
                )
                rows = source.execute(f"select count(*) from {_quote(schema)}.{_quote(table)}").fetchall()[0][0]
                target = f"{_quote(schema)}.{_quote(table)}"
                with pg_connection:  # one transaction per table: readers see the old copy or the new one
                    with pg_connection.cursor() as cur, csv_file.open() as rows_file:
                        # Truncate rather than drop: the staging views depend on these tables.
                        cur.execute(f"create schema if not exists {_quote(schema)}")
                        cur.execute(f"create table if not exists {target} ({ddl})")
                        for column, duck_type in columns:
                            cur.execute(f"alter table {target} add column if not exists {_quote(column)} "
                                        f"{_pg_type(duck_type, schema, table, column)}")
                        cur.execute(f"truncate {target}")
                        names = ", ".join(_quote(c) for c, _ in columns)
                        cur.copy_expert(f"copy {target} ({names}) from stdin with (format csv)", rows_file)
            copied.append(CopiedTable(schema, table, rows))
    finally:
        source.close()
    return copied
