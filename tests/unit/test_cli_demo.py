"""`throughline demo`: a quiet terminal (progress, phases, report, the log's path) with everything in its log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from connectors.core.engine import StreamResult
from connectors.core.http import RequestStats
from connectors.core.source import FailedScope
from operations.run_report import progress_to, report_progress, stream_lines

ROOT = Path(__file__).resolve().parents[2]


def test_one_progress_line_per_stream_sums_its_scopes_and_counts_failed_ones():
    results = [
        StreamResult("acme-github", "github__pulls", "acme/api", records=40, stats=RequestStats(requests=2)),
        StreamResult("acme-github", "github__pulls", "acme/web", records=5, stats=RequestStats(requests=1)),
        StreamResult("acme-github", "github__commits", "acme/api", records=7, stats=RequestStats(requests=3)),
    ]
    failed = [FailedScope("acme/old", "404 Not Found",
                          StreamResult("acme-github", "github__pulls", "acme/old", records=0,
                                       stats=RequestStats(requests=1)))]
    assert stream_lines("github", "acme-github", results, failed) == [
        "  acme-github: github__pulls: 45 records, 4 requests, 1 scope(s) FAILED",
        "  acme-github: github__commits: 7 records, 3 requests",
    ]


def test_progress_reaches_the_listener_only_while_it_listens():
    heard: list[str] = []
    with progress_to(heard.append):
        report_progress("dbt build: 3 models and seeds built in 1s")
    report_progress("publish: nobody hears this")
    assert heard == ["dbt build: 3 models and seeds built in 1s"]


def test_the_demo_prints_progress_phases_and_the_report_and_logs_everything(tmp_path):
    """The real demo (minutes): at most 150 lines, everything else in the log file it names."""
    warehouse = tmp_path / "warehouse" / "throughline.duckdb"
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text())
    env = {k: v for k, v in os.environ.items()
           if k not in ("THROUGHLINE_CONFIG", "THROUGHLINE_PUBLISHED_DIR", "THROUGHLINE_WAREHOUSE")}
    env["DAGSTER_HOME"] = str(home)
    run = subprocess.run(
        [sys.executable, "-m", "operations.cli", "demo", "--warehouse", str(warehouse), "--as-of", "2026-10-31"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )
    log = warehouse.parent / "demo" / "demo.log"
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    lines = (run.stdout + run.stderr).splitlines()
    assert len(lines) <= 150
    assert run.stderr == ""
    assert lines[-1] == f"full log: {log}"
    assert "history up to 2026-10-31" in lines[0]
    sources = re.findall(r"^    name: (\S+)$", (warehouse.parent / "demo" / "throughline.yml").read_text(), re.M)
    assert {"demo-jira", "demo-github"} <= set(sources)
    for source in sources:  # every source's streams, with records and requests
        assert any(re.fullmatch(rf"  {source}: \w+: \d+ records, \d+ requests", line) for line in lines), source
    for phase in (f"extract: {len(sources)} sources", "dbt build: ", "tests: ", "publish: "):
        assert sum(line.startswith(phase) for line in lines) == 1, phase
    assert re.search(r"^tests: \d+ passed, 0 failed$", run.stdout, re.M)
    assert "marts.work_items: " in run.stdout
    # dbt's node lines and the vars it was given are in the log, not on the terminal
    text = log.read_text()
    assert re.search(r"OK created sql \w+ model marts\.work_items", text)
    assert "--vars" in text and "--vars" not in run.stdout
    assert "OK created sql" not in run.stdout
