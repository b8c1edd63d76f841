"""The Dagster instance on PostgreSQL storage (docs/DEPLOY.md): the nightly run records its runs, events and
asset materialisations in a real PostgreSQL server, and the password given through the environment is in
none of them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from simulator import SimulatorServer, tiny_org
from tests.support.e2e import private_dagster_home, tiny_config
from tests.support.postgres import postgres_server, server_bin_dir

pytestmark = [
    pytest.mark.skipif(server_bin_dir() is None,
                       reason="PostgreSQL server not installed (`apt-get install postgresql`; .ci/run does)"),
    pytest.mark.portability,  # `make test-portability` (CI runs it after `make test`)
]

# What docs/DEPLOY.md tells users to add to dagster.yaml; the password and port come from the environment.
STORAGE = """
storage:
  postgres:
    postgres_db:
      hostname: 127.0.0.1
      port: {env: DAGSTER_PG_PORT}
      username: {env: DAGSTER_PG_USERNAME}
      password: {env: DAGSTER_PG_PASSWORD}
      db_name: postgres
"""


@pytest.mark.slow(126)  # CI, one worker (tests/conftest.py starts the slowest first)
def test_nightly_run_on_postgres_storage(tmp_path):
    with postgres_server() as pg, SimulatorServer(tiny_org()) as sim:
        home = private_dagster_home(tmp_path)
        with (home / "dagster.yaml").open("a") as f:
            f.write(STORAGE)
        config = tmp_path / "throughline.yml"
        config.write_text(tiny_config(sim.url))
        env = {**os.environ, "THROUGHLINE_CONFIG": str(config), "THROUGHLINE_WAREHOUSE": str(tmp_path / "w.duckdb"),
               "DAGSTER_HOME": str(home), "E2E_TOKEN": "e2e-token", "DAGSTER_PG_PORT": str(pg.port),
               "DAGSTER_PG_USERNAME": pg.user, "DAGSTER_PG_PASSWORD": pg.password}
        run = subprocess.run([sys.executable, "-m", "operations.cli", "run"], env=env, capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]

        con = pg.connect()
        try:
            cur = con.cursor()
            cur.execute("SELECT status FROM runs")
            statuses = [row[0] for row in cur.fetchall()]
            cur.execute("SELECT DISTINCT asset_key FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
            materialized = {row[0] for row in cur.fetchall()}
            cur.execute("SELECT count(*) FROM event_logs WHERE event LIKE %s", (f"%{pg.password}%",))
            leaks = cur.fetchall()[0][0]
            cur.execute("SELECT count(*) FROM event_logs")
            events = cur.fetchall()[0][0]
        finally:
            con.close()
        connections = pg.connections_opened()
    # One run, the nightly job, and it succeeded: recorded in PostgreSQL, not in files under DAGSTER_HOME.
    assert statuses == ["SUCCESS"]
    assert not (home / "history").exists()
    assert '["raw", "jira__issues"]' in materialized
    assert '["marts", "work_items"]' in materialized
    assert leaks == 0
    # The run kept its storage connections open (operations/cli.py): Dagster's default opens a connection for
    # each query, ~3 per stored event (4,934 for this run's 1,720 events); pooled, 333.
    assert connections < events / 4, (connections, events)
    assert pg.password not in run.stdout + run.stderr
