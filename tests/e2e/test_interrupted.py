"""A run killed with SIGKILL (during extraction, during dbt, during publish), then run again at once: the rerun
succeeds with no help, nothing is lost or duplicated, and no process of the killed run is left."""

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
from tests.support.e2e import private_dagster_home


def start_logged(command: list[str], env: dict[str, str], output: Path) -> subprocess.Popen:
    """The run to kill, its output kept to say why it ended if it ends before the kill."""
    with output.open("w") as log_file:
        return subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)


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


# Marts that hold facts of the data (pipeline_runs holds run ids and times, different by design), less the
# columns that say when the data was read (as of the run, so later in the rerun).
SNAPSHOT = ("work_items", "deployments", "deployment_changes", "pull_request_cycle_times", "dora_metrics_weekly",
            "flow_metrics_weekly")
RUN_TIME_COLUMNS = {"data_complete_to", "stream_data_as_of"}


def _snapshot(path) -> dict[str, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        raw = {t: con.execute(f"SELECT count(*), count(DISTINCT (source_instance, record_key)) FROM raw.{t}").fetchone()
               for (t,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' "
                                       "AND table_name NOT LIKE '\\_%' ESCAPE '\\'").fetchall()}
        marts = {}
        for mart in SNAPSHOT:
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = ? "
                "ORDER BY ordinal_position", [mart]).fetchall() if c not in RUN_TIME_COLUMNS]
            marts[mart] = con.execute(f"SELECT {', '.join(columns)} FROM marts.{mart} ORDER BY ALL").fetchall()
        return {"raw": raw, **marts}
    finally:
        con.close()


def _tiny_env(tmp_path, url: str, name: str) -> dict[str, str]:
    from tests.support.e2e import tiny_config

    folder = tmp_path / name
    folder.mkdir()
    config = folder / "throughline.yml"
    config.write_text(tiny_config(url))
    return {**os.environ, "THROUGHLINE_CONFIG": str(config), "THROUGHLINE_WAREHOUSE": str(folder / "w.duckdb"),
            "DAGSTER_HOME": str(private_dagster_home(folder)), "E2E_TOKEN": "e2e-token"}


@pytest.mark.slow(142)  # CI, one worker
def test_sigkill_during_dbt_then_an_immediate_rerun_equals_a_clean_run(tmp_path):
    """The run is killed while its dbt builds (dbt holds the warehouse): the reaper kills the orphaned dbt at
    once, and the rerun started right after succeeds and leaves what a clean run leaves."""
    from simulator import tiny_org
    from operations.processes import marked

    command = [sys.executable, "-m", "operations.cli", "run"]
    with SimulatorServer(tiny_org()) as sim:
        clean_env = _tiny_env(tmp_path, sim.url, "clean")
        clean = subprocess.run(command, env=clean_env, capture_output=True, text=True, timeout=900)
        assert clean.returncode == 0, clean.stderr[-3000:]

        env = _tiny_env(tmp_path, sim.url, "killed")
        output = tmp_path / "killed-run.log"
        proc = start_logged(command, env, output)
        try:
            deadline = time.monotonic() + 600
            children: list[int] = []
            while not children:  # dbt is the run's only child process: it carries the run's mark
                assert proc.poll() is None, f"the run ended before dbt started:\n{output.read_text()[-3000:]}"
                assert time.monotonic() < deadline, "dbt never started"
                children = [pid for pid in marked(proc.pid) if b"dbt" in Path(f"/proc/{pid}/cmdline").read_bytes()]
                time.sleep(0.05)
            time.sleep(1.0)  # dbt has opened the warehouse and is building
        finally:
            proc.kill()
            proc.wait()
        deadline = time.monotonic() + 10
        while marked(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marked(proc.pid) == [], "a child of the killed run is still alive"

        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert "was interrupted earlier: marked failed and its warehouse slot freed" in rerun.stderr

    killed, expected = _snapshot(Path(env["THROUGHLINE_WAREHOUSE"])), _snapshot(Path(clean_env["THROUGHLINE_WAREHOUSE"]))
    assert killed == expected
    assert all(total == distinct for total, distinct in killed["raw"].values())  # nothing stored twice
    # the rerun published too
    published = Path(env["THROUGHLINE_WAREHOUSE"]).parent / "marts.duckdb"
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM work_items").fetchone() == (5,)


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
