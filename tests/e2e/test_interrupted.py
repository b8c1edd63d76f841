"""A load killed with SIGKILL between pages, then run again: nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import duckdb

from connectors.simulator.generator import generate_org
from connectors.simulator.server import SimulatorServer
from tests.support.e2e import private_dagster_home


def test_sigkill_mid_load_then_rerun_leaves_every_record_once(tmp_path):
    org = generate_org(seed=7, scale=1)
    with SimulatorServer(org) as sim:
        config = tmp_path / "throughline.yml"
        config.write_text(f"""
sources:
  - type: jira
    name: demo-jira
    base_url: {sim.url}/jira
    auth: {{email: a@example.com, api_token: x}}
    scope: {{projects: [PAY, CHK, PLAT]}}
    options: {{page_size: 25, start_date: "2026-01-01"}}
""")
        warehouse = tmp_path / "w.duckdb"
        # The project's instance settings (one-writer pool) in a private DAGSTER_HOME: the killed run
        # holds a pool slot, and the rerun must not queue behind it for ever.
        home = private_dagster_home(tmp_path)
        env = {**os.environ, "THROUGHLINE_CONFIG": str(config), "THROUGHLINE_WAREHOUSE": str(warehouse),
               "DAGSTER_HOME": str(home)}
        command = [sys.executable, "-m", "pipelines.cli", "run"]
        # Slow pages make "half way" a wide target; the kill lands between committed pages.
        sim.faults.add(r"/jira/rest/api/3/search/jql", "slow", times=None, seconds=0.4)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 240
            while sim.request_count("/jira/rest/api/3/search/jql") < 4:
                assert proc.poll() is None, "the run ended before it could be killed"
                assert time.monotonic() < deadline, "the run never reached the Jira search"
                time.sleep(0.05)
        finally:
            proc.kill()
            proc.wait()
        sim.faults.clear()

        con = duckdb.connect(str(warehouse))
        partial = con.execute("SELECT count(*) FROM raw.jira__issues").fetchall()[0][0]
        con.close()
        total = len(org.jira_issues)
        assert 0 < partial < total  # killed half way, with some pages committed

        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert "was interrupted earlier: marked failed and its warehouse slot freed" in rerun.stderr

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        issues = con.execute("SELECT count(*), count(DISTINCT record_key) FROM raw.jira__issues").fetchall()[0]
        histories = con.execute("SELECT count(*), count(DISTINCT record_key) FROM raw.jira__changelogs").fetchall()[0]
        items = con.execute("SELECT count(*) FROM marts.work_items").fetchall()[0][0]
    finally:
        con.close()
    assert issues == (total, total)
    truth = sum(len(h) for h in org.jira_changelogs.values())
    assert histories == (truth, truth)
    assert items == total
