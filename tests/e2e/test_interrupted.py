"""A run killed with SIGKILL (during extraction, during publish), then run again at once: the rerun succeeds with
no help, nothing is lost or duplicated, and no process of the killed run is left. Killed during dbt: in
tests/e2e/test_nightly.py, whose first run is the clean run it must equal."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from simulator.generator import generate_org
from simulator.server import SimulatorServer
from tests.support.e2e import private_dagster_home, start_logged


@pytest.mark.slow(105)  # CI, one worker (tests/conftest.py starts the slowest first)
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
        command = [sys.executable, "-m", "operations.cli", "run"]
        # Slow pages make "half way" a wide target; the kill lands between committed pages.
        sim.faults.add(r"/jira/rest/api/3/search/jql", "slow", times=None, seconds=0.4)
        output = tmp_path / "killed-run.log"
        proc = start_logged(command, env, output)
        try:
            deadline = time.monotonic() + 240
            while sim.request_count("/jira/rest/api/3/search/jql") < 4:
                assert proc.poll() is None, f"the run ended before it could be killed:\n{output.read_text()[-3000:]}"
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


def test_a_publish_killed_half_way_is_cleaned_up_by_the_next(tmp_path):
    """What a publish killed between its copies leaves (staged files of a dead process, nothing swapped in)
    is removed by the next publish, which swaps in whole files; staged files of a live publish are kept."""
    from operations.publish import PARQUET_DIR, PUBLISHED_FILE, publish_marts

    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.work_items AS SELECT range AS id FROM range(3)")
    out = tmp_path / "published"
    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    stamp = "20260101T000000000000"
    (out / PARQUET_DIR / "work_items").mkdir(parents=True)
    leftovers = [out / f".{PUBLISHED_FILE}.{dead.pid}.{stamp}.tmp", out / f".{PUBLISHED_FILE}.{dead.pid}.{stamp}.tmp.wal",
                 out / PARQUET_DIR / "work_items" / f".work_items.{dead.pid}.{stamp}.tmp"]
    live = out / f".{PUBLISHED_FILE}.{os.getpid()}.{stamp}.tmp"  # another publish, still running
    for path in [*leftovers, live]:
        path.write_bytes(b"half written")
    published = publish_marts(warehouse, out)
    assert published.row_counts == {"work_items": 3}
    assert [p for p in leftovers if p.exists()] == []
    assert live.exists()
    with duckdb.connect(str(out / PUBLISHED_FILE), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM work_items").fetchone() == (3,)
