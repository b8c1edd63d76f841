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
    "UBIGINT": "numeric",
    "UINTEGER": "bigint",
    "SMALLINT": "smallint",
    "TINYINT": "smallint",
    "USMALLINT": "integer",
    "UTINYINT": "smallint",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "INTERVAL": "interval",
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


# The defaults of dbt_project/profiles.yml's `postgres` output: both read the same variables the same way.
DEFAULTS = {"host": "localhost", "port": "5432", "user": "throughline", "password": "", "dbname": "throughline"}


def connection_settings(environ: dict[str, str] | None = None) -> dict[str, str]:
    """psycopg2 connection keywords from THROUGHLINE_PG_*, with the profile's defaults."""
    environ = os.environ if environ is None else environ
    settings = {key: environ.get(var) or DEFAULTS[key] for key, var in ENV.items()}
    if not settings["port"].isdigit():
        raise ConfigError(f"copy-raw: {ENV['port']} must be a port number, not {settings['port']!r}")
    if not settings["password"]:
        settings.pop("password")  # trust, peer or ~/.pgpass authentication
    return settings


def _pg_type(duckdb_type: str, schema: str, table: str, column: str) -> str:
    if duckdb_type.endswith("[]"):
        return _pg_type(duckdb_type[:-2], schema, table, column) + "[]"
    pg = "numeric" if duckdb_type.upper().startswith("DECIMAL") else _TYPES.get(duckdb_type.upper())
    if pg is None:
        raise ConfigError(
            f"copy-raw: {schema}.{table}.{column} has DuckDB type {duckdb_type}, which has no PostgreSQL mapping; "
            "add it to operations/postgres_copy.py _TYPES"
        )
    return pg


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_expression(column: str, duckdb_type: str) -> str:
    quoted = _quote(column)
    if duckdb_type.upper() == "JSON":
        # JSON text may carry \u0000, which jsonb refuses; it never means anything in these APIs.
        return f"replace({quoted}::varchar, '\\u0000', '') as {quoted}"
    if duckdb_type.endswith("[]"):
        # A list as PostgreSQL's array literal: {"a","b"}, elements quoted and escaped, NULL unquoted.
        element = "case when e is null then 'NULL' else '\"' || replace(replace(e::varchar, '\\', '\\\\'), '\"', '\\\"') || '\"' end"
        return f"'{{' || array_to_string(list_transform({quoted}, lambda e: {element}), ',') || '}}' as {quoted}"
    return quoted


def source_tables(source: duckdb.DuckDBPyConnection, schemas: Iterable[str], include_views: bool = False
                  ) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(schema, table, [(column, DuckDB type), ...]) of every table of `schemas` (and view, with include_views)."""
    schema_list = ", ".join(f"'{s}'" for s in schemas)
    tables = source.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({schema_list})"
        + ("" if include_views else " and table_type = 'BASE TABLE'") + " order by 1, 2"
    ).fetchall()
    return [(schema, table, source.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()) for schema, table in tables]


def copy_raw(warehouse: Path, pg_connection, schemas: Iterable[str] = SCHEMAS,
             include_views: bool = False) -> list[CopiedTable]:
    """Replace every table of `schemas` in PostgreSQL with the DuckDB warehouse's rows; returns what was copied.

    Rows travel as CSV through COPY (the fastest path psycopg2 has). The warehouse is opened read-only,
    so a copy can run while no load writes it. `include_views` copies views' rows as tables too (the
    portability tests use it to give a model its upstream relations).
    """
    copied: list[CopiedTable] = []
    source = duckdb.connect(str(warehouse), read_only=True)
    try:
        for schema, table, columns in source_tables(source, schemas, include_views):
            ddl = ", ".join(f"{_quote(c)} {_pg_type(t, schema, table, c)}" for c, t in columns)
            select = ", ".join(_select_expression(c, t) for c, t in columns)
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
