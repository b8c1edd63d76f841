"""Portability check (docs/DEPLOY.md#the-marts-on-postgresql): the whole dbt project builds on a real PostgreSQL
server from the raw tables `throughline copy-raw` copies there, and every staging view, intermediate model, mart
and seed holds exactly the rows of the DuckDB build of the same raw data.

The raw data is the demo organisation (five simulated systems plus outcome files), built by `throughline demo`
as a user runs it (the session's `demo_warehouse`, tests/conftest.py); PagerDuty and Opsgenie, which the demo
leaves out, are covered on PostgreSQL by their models' dbt unit tests, which `dbt build` runs there too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.portability import built_relations, compare, dbt_postgres, demo_env, demo_vars
from tests.support.postgres import postgres_server, server_bin_dir

pytestmark = [
    pytest.mark.portability,  # `make test-portability` (CI runs it after `make test`)
    pytest.mark.skipif(server_bin_dir() is None,
                       reason="PostgreSQL server not installed (`apt-get install postgresql`; .ci/run does)"),
]

# Marts that must not be empty in the demo, so that "equal" is not "both empty".
FILLED_MARTS = ("work_items", "flow_metrics_weekly", "deployments", "dora_metrics_monthly", "incidents",
                "pull_request_cycle_times", "epics", "outcome_links", "okr_progress", "signals",
                "value_stream_scorecard", "pipeline_runs", "delivery_forecasts", "forecast_history")


@pytest.mark.slow(160)  # CI, one worker (tests/conftest.py starts the slowest first)
def test_whole_project_builds_on_postgres_with_the_duckdb_results(demo_warehouse, tmp_path):
    with postgres_server() as pg:
        con = pg.connect()
        con.autocommit = True  # no read transaction of ours may hold locks the next copy's TRUNCATE waits for
        try:
            with con.cursor() as cur:
                cur.execute(f"alter role {pg.user} set timezone = 'UTC'")  # as docs/DEPLOY.md asks
            # As a user runs it: the demo's config (its vars: deployment rules, services), its warehouse.
            env = {**os.environ, "THROUGHLINE_PG_HOST": pg.host, "THROUGHLINE_PG_PORT": str(pg.port),
                   "THROUGHLINE_PG_USER": pg.user, "THROUGHLINE_PG_PASSWORD": pg.password,
                   "THROUGHLINE_PG_DATABASE": pg.database, "THROUGHLINE_WAREHOUSE": str(demo_warehouse),
                   **demo_env(demo_warehouse)}
            command = [sys.executable, "-m", "operations.cli", "copy-raw", "--build"]
            build = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
            assert build.returncode == 0, build.stdout[-8000:] + build.stderr[-2000:]
            assert "copied " in build.stdout and pg.password not in build.stdout + build.stderr

            relations = built_relations(con)
            assert {schema for schema, _ in relations} == {"staging", "intermediate", "marts", "seeds"}
            assert set(FILLED_MARTS) <= {name for schema, name in relations if schema == "marts"}
            with con.cursor() as cur:
                for mart in FILLED_MARTS:
                    cur.execute(f"select count(*) from marts.{mart}")
                    assert cur.fetchone()[0] > 0, f"marts.{mart} is empty in PostgreSQL"

            assert compare(demo_warehouse, con, relations) == []

            # The next night: the copy replaces raw rows under the staging views, and the flow models build
            # incrementally (delete+insert); the result must still equal DuckDB's. The copy reads nothing new, so
            # without the marks (as a warehouse built before them) the windows take in every read: every item is
            # deleted and inserted again by the incremental path. `dbt run`, as the benchmarks' nights: the data
            # tests and unit tests passed on PostgreSQL above, and the comparison checks every row.
            with con.cursor() as cur:
                cur.execute("drop table intermediate.int_incremental_read_marks")
            copy = subprocess.run(command[:-1], env=env, capture_output=True, text=True, timeout=1200)
            assert copy.returncode == 0, copy.stdout[-8000:] + copy.stderr[-2000:]
            night_vars = json.dumps(demo_vars(demo_warehouse), sort_keys=True)
            again = dbt_postgres(["run", "--vars", night_vars], env, tmp_path)
            assert again.returncode == 0, again.stdout[-8000:] + again.stderr[-2000:]
            # What the last run recomputed (the periods, the replaced and rebuilt intervals of an incremental run)
            # differs by design between DuckDB's first build and this second night; every other relation agrees.
            bookkeeping = {"int_flow_periods_to_rebuild", "int_work_items_replaced_intervals",
                           "int_work_items_rebuilt_intervals"}
            assert compare(demo_warehouse, con, [r for r in built_relations(con) if r[1] not in bookkeeping]) == []
        finally:
            con.close()
