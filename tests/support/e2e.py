"""What the end-to-end tests share: the tiny organisation's config, a private Dagster instance and a BI reader of
the published marts."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUICK = 'start_date: "2026-01-01", backoff_seconds: 0'


def tiny_config(url: str, *, jira_token: str = "${E2E_TOKEN}", github_token: str = "${E2E_TOKEN}",
                jira_options: str = QUICK, github_options: str = QUICK, head: str = "") -> str:
    """throughline.yml for tests.simulator.conftest.tiny_org(): Jira project FLOW and repo acme/checkout.

    Tokens are written as given: pass "${VAR}" to read one from the environment as users do. ``head`` is
    YAML put before `sources:` (alerts, freshness, ...).
    """
    return f"""{head}
sources:
  - type: jira
    name: tiny-jira
    base_url: {url}/jira
    auth: {{email: e2e@example.com, api_token: "{jira_token}"}}
    scope: {{projects: [FLOW]}}
    options: {{{jira_options}}}
  - type: github
    name: tiny-github
    base_url: {url}/github
    auth: {{token: "{github_token}"}}
    scope: {{repos: [acme/checkout]}}
    options: {{{github_options}}}
"""


def private_dagster_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the project's instance settings (one-writer pool) that no other run shares.

    Its SQLite storage commits every event with an fsync: on a busy disk that was half of a tiny nightly's
    time (~5000 commits of 12 ms). Where there is a memory file system (/dev/shm), the home lives there,
    linked from ``tmp_path`` and removed when the test process ends.
    """
    home = tmp_path / "dagster_home"
    memory = Path("/dev/shm")
    if memory.is_dir() and os.access(memory, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="throughline-dagster-home-", dir=memory))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        home.symlink_to(folder, target_is_directory=True)
    else:
        home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


# Pinned, so that the shared demo's data does not change with the day the tests run.
SHARED_DEMO_AS_OF = "2026-10-31"


def start_logged(command: list[str], env: dict[str, str], output: Path) -> subprocess.Popen:
    """A run to kill, its output kept to say why it ended if it ends before the kill."""
    with output.open("w") as log_file:
        return subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)


def run_demo(warehouse: Path, as_of: str, dagster_home: Path) -> subprocess.CompletedProcess:
    """`throughline demo --as-of` into ``warehouse`` as a user runs it, with none of this run's own settings."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("THROUGHLINE_CONFIG", "THROUGHLINE_PUBLISHED_DIR", "THROUGHLINE_WAREHOUSE")}
    env["DAGSTER_HOME"] = str(dagster_home)
    return subprocess.run([sys.executable, "-m", "operations.cli", "demo", "--warehouse", str(warehouse),
                           "--as-of", as_of], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def shared_demo(tmp_path_factory) -> Path:
    """`throughline demo` into a fresh warehouse, as a user runs it, once per test run.

    The demo takes minutes, so the tests that only read its result share one: the workers of a distributed
    run (pytest-xdist) meet in their common temporary folder and the first one builds under a file lock. A
    failed demo is recorded there too, so the others report it instead of running it again. The warehouse's
    folder also holds the published marts.duckdb and the demo's demo/throughline.yml. Tests must not write
    into any of it.
    """
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder above every worker's own
    folder = root / "shared-demo"
    warehouse = folder / "warehouse" / "throughline.duckdb"
    failure = folder / "failed.txt"
    with FileLock(str(root / "shared-demo.lock")):
        if not folder.exists():
            folder.mkdir()
            run = run_demo(warehouse, SHARED_DEMO_AS_OF, private_dagster_home(folder))
            # What the user's terminal showed: tests/unit/test_cli_demo.py checks it instead of running a demo of its own.
            (folder / "stdout.txt").write_text(run.stdout)
            (folder / "stderr.txt").write_text(run.stderr)
            if run.returncode != 0:
                failure.write_text(run.stdout[-3000:] + run.stderr[-3000:])
    if failure.exists():
        pytest.fail(f"`throughline demo` failed for this test run:\n{failure.read_text()}")
    return warehouse


# A BI tool in another process: opens the file read-only, answers one query, then holds the
# connection until told to query again (one line on stdin) and exit.
READER = textwrap.dedent("""
    import json, sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(json.dumps(con.execute(sys.argv[2]).fetchall(), default=str), flush=True)
    sys.stdin.readline()
    print(json.dumps(con.execute(sys.argv[2]).fetchall(), default=str), flush=True)
    con.close()
""")


class Reader:
    def __init__(self, path, sql):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", READER, str(path), sql],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.first = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("reader failed: " + self.proc.stderr.read())
        return json.loads(line)

    def again(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        rows = self._read()
        assert self.proc.wait(timeout=60) == 0, self.proc.stderr.read()
        return rows

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def read_once(path, sql):
    reader = Reader(path, sql)
    reader.stop()
    return reader.first
