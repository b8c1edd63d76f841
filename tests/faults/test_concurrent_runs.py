"""Two runs started at once on one warehouse.

Two Dagster runs in two processes on one instance with the project's settings (dagster_home/dagster.yaml:
every warehouse writer is in the `duckdb_warehouse` pool, limit 1): the second waits for the first's slot
instead of opening the warehouse beside it, then runs; both succeed and the warehouse holds every record once.
Two `throughline run` without a shared instance: the first owns the warehouse (its lock file) for its whole
length, and the second stops at once saying so. (Two bare loads: tests/faults/test_processes.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from connectors.core.raw import RawStore
from tests.faults.targets import BY_NAME, SECRETS, assert_matches_truth, config_yaml, simulator
from tests.faults.test_processes import hold_after_two_pages, wait_until_held

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_run_waits_for_the_writer_pool(tmp_path):
    jira, github = BY_NAME["jira"], BY_NAME["github"]
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    warehouse = tmp_path / "w.duckdb"
    with simulator() as sim:
        config = tmp_path / "throughline.yml"
        # a long timeout: the first run must wait at its stalled page, not give up on it
        config.write_text(config_yaml(sim.url, ("jira", "github"), timeout_seconds=60))
        env = {**os.environ, **SECRETS, "DAGSTER_HOME": str(home), "THROUGHLINE_CONFIG": str(config),
               "THROUGHLINE_WAREHOUSE": str(warehouse)}

        def run(step: str) -> subprocess.Popen:
            return subprocess.Popen([sys.executable, "-m", "tests.faults.loader", "--dagster", step], cwd=ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        release = threading.Event()
        held = hold_after_two_pages(sim, jira, release)  # the first run stalls there, holding its pool slot
        first = run("extract_jira__issues")
        wait_until_held(held, lambda: first.poll() is None)
        second = run("extract_github__pull_requests")
        blocked = False
        deadline = time.monotonic() + 120
        while not blocked and second.poll() is None and time.monotonic() < deadline:
            # Dagster's own words for a step waiting on the pool, in the instance's event log
            blocked = b"blocked by limit for pool duckdb_warehouse" in b"".join(
                p.read_bytes() for p in home.rglob("*.db"))
            time.sleep(0.2)
        assert blocked, "the second run was not held back by the writer pool"
        assert sim.request_count("/github/") == 0  # it waits: no GitHub request while the first writes
        release.set()
        first_out, _ = first.communicate(timeout=120)
        second_out, _ = second.communicate(timeout=120)
        assert first.returncode == 0, first_out[-3000:]
        assert second.returncode == 0, second_out[-3000:]
        with RawStore(warehouse) as store:
            assert_matches_truth(store, sim, jira)
            assert_matches_truth(store, sim, github)


def test_two_throughline_runs_started_together_the_first_owns_the_warehouse(tmp_path):
    """Two `throughline run` started at the same moment on one warehouse, without a shared Dagster instance:
    whichever takes the warehouse's lock first runs whole (held at its third Jira page until the other is
    over); the other stops at once, exit 1, one line naming the holder's pid and start time, no traceback."""
    jira, github = BY_NAME["jira"], BY_NAME["github"]
    warehouse = tmp_path / "w.duckdb"
    with simulator() as sim:
        config = tmp_path / "throughline.yml"
        config.write_text(config_yaml(sim.url, ("jira", "github"), timeout_seconds=60))
        env = {**os.environ, **SECRETS, "THROUGHLINE_CONFIG": str(config), "THROUGHLINE_WAREHOUSE": str(warehouse)}
        env.pop("DAGSTER_HOME", None)
        release = threading.Event()
        held = hold_after_two_pages(sim, jira, release)
        runs = [subprocess.Popen([sys.executable, "-m", "operations.cli", "run"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        started = time.monotonic()
        try:
            while all(run.poll() is None for run in runs):
                assert time.monotonic() - started < 120, "neither run stopped"
                time.sleep(0.05)
            [second] = [run for run in runs if run.poll() is not None]
            [first] = [run for run in runs if run is not second]
            _, err = second.communicate(timeout=30)
            deadline = time.monotonic() + 600  # the first was still reading all along: it reaches the held page
            while held.fired == 0 and first.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert held.fired and first.poll() is None, first.communicate()[1][-3000:] if first.poll() is not None else ""
        finally:
            release.set()
        first_out, first_err = first.communicate(timeout=900)
    assert second.returncode == 1
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.strip()]
    assert line.startswith(f"error: warehouse {warehouse} is in use by another run (`throughline run`, pid {first.pid} ")
    assert "started 20" in line and "this run did not start" in line
    assert first.returncode == 0, first_err[-3000:]
    with RawStore(warehouse) as store:
        assert_matches_truth(store, sim, jira)
        assert_matches_truth(store, sim, github)
