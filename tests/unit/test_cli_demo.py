"""`throughline demo`: a quiet terminal (progress, phases, report, the log's path) with everything in its log."""

from __future__ import annotations

import re

from connectors.core.engine import StreamResult
from connectors.core.http import RequestStats
from connectors.core.source import FailedScope
from operations.run_report import progress_to, report_progress, stream_lines
from tests.support.e2e import SHARED_DEMO_AS_OF


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


def test_the_demo_prints_progress_phases_and_the_report_and_logs_everything(demo_warehouse):
    """The real demo (minutes; the session's shared run, tests/support/e2e.py): at most 150 lines, everything else
    in the log file it names."""
    warehouse = demo_warehouse
    folder = warehouse.parent.parent
    # shared_demo has failed the test already if the demo exited non-zero
    stdout, stderr = (folder / "stdout.txt").read_text(), (folder / "stderr.txt").read_text()
    log = warehouse.parent / "demo" / "demo.log"
    lines = (stdout + stderr).splitlines()
    assert len(lines) <= 150
    assert stderr == ""
    assert lines[-1] == f"full log: {log}"
    assert f"history up to {SHARED_DEMO_AS_OF}" in lines[0]
    sources = re.findall(r"^    name: (\S+)$", (warehouse.parent / "demo" / "throughline.yml").read_text(), re.M)
    assert {"demo-jira", "demo-github"} <= set(sources)
    for source in sources:  # every source's streams, with records and requests
        assert any(re.fullmatch(rf"  {source}: \w+: \d+ records, \d+ requests", line) for line in lines), source
    for phase in (f"extract: {len(sources)} sources", "dbt build: ", "tests: ", "publish: "):
        assert sum(line.startswith(phase) for line in lines) == 1, phase
    assert re.search(r"^tests: \d+ passed, 0 failed$", stdout, re.M)
    assert "marts.work_items: " in stdout
    # dbt's node lines and the vars it was given are in the log, not on the terminal
    text = log.read_text()
    assert re.search(r"OK created sql \w+ model marts\.work_items", text)
    assert "--vars" in text and "--vars" not in stdout
    assert "OK created sql" not in stdout


def test_the_demo_warehouse_keeps_its_world_until_a_night_falls_outside_it(tmp_path):
    import json

    from operations.cli import demo_horizon

    warehouse = tmp_path / "throughline.duckdb"
    said: list[str] = []
    world = tmp_path / "demo" / "world.json"
    # a first night on 10-24 starts the world ending 10-31 (the default day is a horizon)
    assert demo_horizon(warehouse, "2026-10-24", 7, 1, said.append) == "2026-10-31"
    warehouse.write_text("loaded")
    assert json.loads(world.read_text()) == {"seed": 7, "scale": 1, "horizon": "2026-10-31", "last_as_of": "2026-10-24"}
    # the next nights, a rerun of the last one included, serve it further on
    assert demo_horizon(warehouse, "2026-10-31", 7, 1, said.append) == "2026-10-31"
    assert demo_horizon(warehouse, "2026-10-31", 7, 1, said.append) == "2026-10-31"
    assert warehouse.read_text() == "loaded" and json.loads(world.read_text())["last_as_of"] == "2026-10-31"
    # past its horizon: the next world (eight weeks on), in a fresh warehouse; the old one kept aside
    assert demo_horizon(warehouse, "2026-11-01", 7, 1, said.append) == "2026-12-26"
    assert not warehouse.exists() and (tmp_path / "throughline.duckdb.previous").read_text() == "loaded"
    assert "2026-11-01 is not one of them" in said[-1]
    warehouse.write_text("loaded again")
    # an earlier night than the last, or another seed, cannot be served by it either
    assert demo_horizon(warehouse, "2026-10-31", 7, 1, said.append) == "2026-10-31"
    assert not warehouse.exists()
    # without a warehouse the world file is not trusted: a first night again
    assert demo_horizon(warehouse, "2026-12-05", 8, 1, said.append) == "2026-12-26"
    assert json.loads(world.read_text())["seed"] == 8
