"""The dashboards build from a demo warehouse's published marts and every page renders in Chromium.

Chromium runs headless with --headless --no-sandbox --disable-gpu --disable-background-networking
(dashboards/scripts/check-pages.mjs). Screenshots land in dashboards/screenshots/ for review.
"""

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

pytestmark = [
    pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                       reason="Node.js and npm are not installed (.ci/run installs them)"),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                       reason=f"no Chromium at {CHROMIUM} (`make browser` installs Debian's chromium)"),
]


def run(command, cwd, env=None, timeout=1800):
    out = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(map(str, command))} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """`throughline demo` into a fresh warehouse: the nightly job loads, builds and publishes."""
    warehouse = tmp_path_factory.mktemp("dashboards") / "warehouse" / "throughline.duckdb"
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "THROUGHLINE_PUBLISHED_DIR")}
    run([sys.executable, "-m", "operations.cli", "demo", "--warehouse", str(warehouse)], cwd=ROOT, env=env)
    assert (warehouse.parent / "marts.duckdb").exists()
    return warehouse.parent


@pytest.fixture(scope="module")
def site(published):
    if not (DASHBOARDS / "node_modules" / ".bin" / "evidence").exists():
        run(["npm", "ci", "--no-audit", "--no-fund"], cwd=DASHBOARDS)
    run([str(DASHBOARDS / "build.sh"), str(published)], cwd=DASHBOARDS)
    handler = functools.partial(QuietHandler, directory=str(DASHBOARDS / "build"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_every_page_renders_its_charts_and_tables_with_data_and_no_error(site):
    screenshots = DASHBOARDS / "screenshots"
    out = subprocess.run(
        ["node", "scripts/check-pages.mjs", site, str(screenshots)],
        cwd=DASHBOARDS, capture_output=True, text=True, timeout=600, env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert out.stdout.strip(), out.stderr
    report = {page["route"]: page for page in json.loads(out.stdout)}
    assert set(report) == {"/", "/dora", "/flow", "/scorecard", "/signals"}
    for route, page in report.items():
        assert page["errors"] == [], (route, page["errors"])
        assert page["charts"] == page["expected"]["charts"], route
        assert page["tables"] >= page["expected"]["tables"], route
        assert Path(page["screenshot"]).stat().st_size > 10_000, route
    # Flow: velocity, flow time, efficiency, load, distribution + aging WIP table;
    # DORA: frequency, lead time, fail and rework rates, recovery time + tiers and per-service tables
    assert report["/flow"]["expected"] == {"charts": 5, "tables": 1, "values": 0}
    assert report["/dora"]["expected"] == {"charts": 4, "tables": 2, "values": 0}
    assert report["/"]["expected"]["values"] == 5
    # Scorecard: velocity and load, distribution, speed, quality + this month's and one stream's tables;
    # Signals: signals per week + latest signals and bottleneck tables
    assert report["/scorecard"]["expected"] == {"charts": 4, "tables": 2, "values": 0}
    assert report["/signals"]["expected"] == {"charts": 1, "tables": 2, "values": 0}
    assert out.returncode == 0, out.stderr


def test_each_page_is_a_dbt_exposure_reading_published_marts():
    import yaml

    exposures = yaml.safe_load((ROOT / "dbt_project" / "models" / "exposures.yml").read_text())["exposures"]
    pages = {p.stem for p in (DASHBOARDS / "pages").glob("*.md")}
    assert {e["name"] for e in exposures} == {"overview" if p == "index" else p for p in pages}
    source_marts = {p.stem for p in (DASHBOARDS / "sources" / "throughline").glob("*.sql")}
    for exposure in exposures:
        marts = {ref.split("'")[1] for ref in exposure["depends_on"]}
        page = DASHBOARDS / "pages" / ("index.md" if exposure["name"] == "overview" else f"{exposure['name']}.md")
        # the exposure lists exactly the marts the page's SQL reads, and each has a source query
        assert set(re.findall(r"\bthroughline\.(\w+)", page.read_text())) == marts, exposure["name"]
        assert marts <= source_marts, exposure["name"]


def test_every_page_query_runs_on_the_published_marts(published):
    """The SQL of each page (as the query benchmark resolves it) runs on the published file and returns rows."""
    import duckdb

    sys.path.insert(0, str(DASHBOARDS / "scripts"))
    try:
        from bench_queries import page_queries
    finally:
        sys.path.pop(0)
    con = duckdb.connect(str(published / "marts.duckdb"), read_only=True)
    try:
        for page in sorted((DASHBOARDS / "pages").glob("*.md")):
            for name, sql in page_queries(page.read_text(), con).items():
                assert con.execute(sql).fetchall(), f"{page.stem}/{name} returned no rows"
    finally:
        con.close()
