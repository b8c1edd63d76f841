"""`throughline copy-raw` (operations/postgres_copy.py): the dbt sources copied into PostgreSQL value for value."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from connectors.core.errors import ConfigError
from operations.postgres_copy import connection_settings, copy_raw
from tests.support.postgres import postgres_server, server_bin_dir

needs_server = pytest.mark.skipif(
    server_bin_dir() is None, reason="PostgreSQL server not installed (`apt-get install postgresql`; .ci/run does)"
)


def test_connection_settings_follow_the_profile_defaults_and_hide_no_password():
    assert connection_settings({}) == {"host": "localhost", "port": "5432", "user": "throughline",
                                       "dbname": "throughline"}
    given = connection_settings({"THROUGHLINE_PG_HOST": "db", "THROUGHLINE_PG_PORT": "6432",
                                 "THROUGHLINE_PG_USER": "u", "THROUGHLINE_PG_PASSWORD": "p",
                                 "THROUGHLINE_PG_DATABASE": "w"})
    assert given == {"host": "db", "port": "6432", "user": "u", "password": "p", "dbname": "w"}
    with pytest.raises(ConfigError, match="THROUGHLINE_PG_PORT must be a port number"):
        connection_settings({"THROUGHLINE_PG_PORT": "five"})


def _warehouse(path, rows):
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists raw")
    con.execute("create or replace table raw.github__issues (source_instance varchar, record_key varchar, "
                "parent_key varchar, payload json, extracted_at timestamp)")
    con.executemany("insert into raw.github__issues values (?, ?, ?, ?, ?)", rows)
    con.execute("create schema if not exists staging")
    con.execute("create or replace table staging.lists (id integer, labels varchar[], scores double[])")
    con.execute("""insert into staging.lists values (1, ['a', 'b "q"', 'c\\d', null], [1.5, null]), (2, [], null)""")
    con.close()


@needs_server
def test_copy_keeps_null_apart_from_empty_text_and_json_as_jsonb(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    at = dt.datetime(2026, 1, 5, 9, 30, 15, 250000)
    _warehouse(warehouse, [
        ("gh", "1", None, '{"title": "Zoë\'s \\"fix\\", done", "labels": [{"name": "bug"}], "n": 3}', at),
        ("gh", "2", "", '{"title": "nul\\u0000byte", "n": null}', at),
    ])
    with postgres_server() as pg:
        con = pg.connect()
        try:
            copied = copy_raw(warehouse, con)
            assert [(t.schema, t.table, t.rows) for t in copied] == [("raw", "github__issues", 2)]
            with con.cursor() as cur:
                cur.execute("select record_key, parent_key, payload #>> '{title}', payload #>> '{labels,0,name}', "
                            "jsonb_typeof(payload -> 'n'), extracted_at from raw.github__issues order by 1")
                assert cur.fetchall() == [
                    ("1", None, 'Zoë\'s "fix", done', "bug", "number", at),
                    ("2", "", "nulbyte", None, "null", at),  # \u0000 dropped: jsonb refuses it
                ]
                # A view over the copy (as dbt's staging views are) survives the next copy, which replaces rows.
                cur.execute("create view raw_keys as select record_key from raw.github__issues")
            con.commit()
            _warehouse(warehouse, [("gh", "3", None, '{"n": 1}', at)])
            copy_raw(warehouse, con)
            with con.cursor() as cur:
                cur.execute("select record_key from raw_keys")
                assert cur.fetchall() == [("3",)]

            copy_raw(warehouse, con, ["staging"], include_views=True)
            with con.cursor() as cur:
                cur.execute("select id, labels, scores from staging.lists order by id")
                assert cur.fetchall() == [(1, ["a", 'b "q"', "c\\d", None], [1.5, None]), (2, [], None)]
        finally:
            con.close()


def test_the_build_after_a_copy_leaves_the_duckdb_projects_parse_alone(monkeypatch):
    """`copy-raw --build` runs dbt with a target folder of its own: dbt rewrites its target's manifest.json and
    partial_parse.msgpack as it parses, and target/ holds the DuckDB project's last parse (where dbt by hand and the
    next nightly start from)."""
    import subprocess

    from connectors.config import DBT_PROJECT_DIR, parse_config
    from operations import cli

    commands = []
    monkeypatch.setattr(cli, "load_config", lambda: parse_config({"sources": []}, env={}))
    monkeypatch.setattr(cli.subprocess, "run",
                        lambda command, check: commands.append(command) or subprocess.CompletedProcess(command, 0))
    cli._build_on("postgres", True)
    [command] = commands
    assert command[command.index("--target") + 1] == "postgres"
    assert command[command.index("--target-path") + 1] == str(DBT_PROJECT_DIR / "target" / "postgres")
