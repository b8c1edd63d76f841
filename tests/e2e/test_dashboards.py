"""The dashboards build and serve the way the README says, and every page renders in Chromium.

From a fresh-clone-like copy of the checkout (the files git would hand a newcomer), with the demo's published
marts in the copy's warehouse/ (the session's shared demo, copied): `make dashboards`, then
`make dashboards-serve PORT=<free port>`, both from the copy's root with the Makefile's relative paths. The copy
shares this checkout's .venv and dashboards/node_modules (symlinks; installing them again would take minutes and
change nothing).
Chromium runs headless with --headless --no-sandbox --disable-gpu --disable-background-networking
(dashboards/scripts/check-pages.mjs). Screenshots land in dashboards/screenshots/ for review.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PARTIAL = re.compile(r'\{@partial\s+"(.*?)"\s*\}')

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


def page_text(page: Path) -> str:
    """The page as Evidence reads it: each {@partial "x.md"} replaced by dashboards/partials/x.md."""
    return PARTIAL.sub(lambda m: (DASHBOARDS / "partials" / m.group(1)).read_text(), page.read_text())


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """The files a fresh clone holds (tracked and new, not ignored)."""
    if not (DASHBOARDS / "node_modules" / ".installed").exists():
        run(["make", "dashboards-install"], cwd=ROOT)
    target = tmp_path_factory.mktemp("clone") / "throughline"
    files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for name in filter(None, files.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    (target / "dashboards" / "node_modules").symlink_to(DASHBOARDS / "node_modules")
    return target


@pytest.fixture(scope="module")
def published(clone, demo_warehouse):
    """The demo's published marts in the copy's warehouse/, where `make demo` leaves them. They are the session's
    shared demo's (tests/support/e2e.py: `throughline demo` as a user runs it, which tests/unit/test_cli_demo.py
    checks), copied: a demo of the copy's own would load and build the same organisation again, minutes."""
    folder = clone / "warehouse"
    folder.mkdir()
    shutil.copyfile(demo_warehouse.parent / "marts.duckdb", folder / "marts.duckdb")
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def site(clone, published):
    """`make dashboards` then `make dashboards-serve PORT=...`, as the README gives them. `-o` keeps make from
    reinstalling the shared .venv and node_modules: an editable install from the copy would point the
    checkout's .venv at a temporary folder."""
    run(["make", "-o", ".venv/bin/.installed", "-o", "dashboards/node_modules/.installed", "dashboards"], cwd=clone)
    port = free_port()
    server = subprocess.Popen(["make", "dashboards-serve", f"PORT={port}"], cwd=clone,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, "make dashboards-serve exited"
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=10)


# With its module's fixtures, in CI on one worker: `make dashboards` (Evidence's build, 2-3 minutes of both cores)
# and Chromium on every page: `make test-dashboards` (CI runs it after `make test`), so that `make test` stays under
# 15 minutes on two cores.
@pytest.mark.dashboards
@pytest.mark.slow(120)
def test_every_page_renders_its_charts_and_tables_with_data_and_no_error(site, clone):
    screenshots = DASHBOARDS / "screenshots"
    out = subprocess.run(
        ["node", "scripts/check-pages.mjs", site, str(screenshots)],
        cwd=clone / "dashboards", capture_output=True, text=True, timeout=600,
        env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert out.stdout.strip(), out.stderr
    report = {page["route"]: page for page in json.loads(out.stdout)}
    # every page, and the templated signals page at the first team the signals page links to
    team_pages = [route for route in report if route.startswith("/signals/")]
    assert len(team_pages) == 1, report.keys()
    assert set(report) == {"/", "/dora", "/flow", "/scorecard", "/signals", "/forecasts", *team_pages}
    for route, page in report.items():
        assert page["errors"] == [], (route, page["errors"])
        assert page["charts"] >= page["expected"]["charts"], route
        assert page["tables"] >= page["expected"]["tables"], route
        assert Path(page["screenshot"]).stat().st_size > 10_000, route
        # the "as of" line with real timestamps, and the way to every page (dashboards/partials/as-of.md)
        assert re.search(r"Data as of \d{4}-\d\d-\d\d \d\d:\d\d UTC", page["text"]), (route, page["text"][:500])
        assert {"/", "/flow", "/dora", "/scorecard", "/signals", "/forecasts"} <= set(page["links"]), (route, page["links"])
    # the signals page links each team's page (the overview lists every page in its text too)
    assert report["/signals"]["links"].count(team_pages[0]) >= 1
    # Flow: velocity, flow time, efficiency, load, distribution + aging WIP table;
    # DORA: frequency, lead time, fail and rework rates, recovery time + tiers and per-service tables
    assert report["/flow"]["expected"] == {"charts": 5, "tables": 1, "values": 0}
    assert report["/dora"]["expected"] == {"charts": 4, "tables": 2, "values": 0}
    assert report["/"]["expected"]["values"] == 5
    # Scorecard: velocity and load, distribution, speed, quality + this month's two tables and one stream's;
    # Signals: signals per week + latest signals and bottleneck tables; a team: five control-limit trends +
    # its signals (the chosen week's items in progress, completed and deployed may each be none)
    assert report["/scorecard"]["expected"] == {"charts": 4, "tables": 3, "values": 0}
    assert report["/signals"]["expected"] == {"charts": 1, "tables": 2, "values": 0}
    # Forecasts: the fan per initiative + every forecast and the drift tables
    assert report["/forecasts"]["expected"] == {"charts": 1, "tables": 2, "values": 0}
    # (its five control-limit charts may be empty for a team without 6 weeks of history, so they are not
    # required in general; the first team linked, Checkout, has the four flow metrics' bands at least; its
    # change lead time has too few weeks with deployments in the demo for a band)
    assert report[team_pages[0]]["expected"] == {"charts": 0, "tables": 1, "values": 0}
    assert report[team_pages[0]]["charts"] >= 4, report[team_pages[0]]
    # the drill-down: besides the team's signals, the latest signal week has items behind it (Evidence draws a
    # DataTable with rows as two <table>s, so /flow's one table counts 2 and this page's two count 4)
    assert report["/flow"]["tables"] == 2
    assert report[team_pages[0]]["tables"] >= 4, report[team_pages[0]]
    # no table is wider than the page at 1280 px (the scorecard and DORA tiers were cut)
    for route, page in report.items():
        assert page["overflowing_tables"] == 0, route
    assert out.returncode == 0, out.stderr


def test_each_page_is_a_dbt_exposure_reading_published_marts():
    import yaml

    exposures = yaml.safe_load((ROOT / "dbt_project" / "models" / "exposures.yml").read_text())["exposures"]
    # pages/index.md is `overview`, pages/signals/[team].md `signals_team`
    pages = {}
    for page in (DASHBOARDS / "pages").rglob("*.md"):
        path = page.relative_to(DASHBOARDS / "pages").with_suffix("").as_posix()
        pages["overview" if path == "index" else re.sub(r"\W+", "_", path).strip("_")] = page
    assert {e["name"] for e in exposures} == set(pages)
    source_marts = {p.stem for p in (DASHBOARDS / "sources" / "throughline").glob("*.sql")}
    for exposure in exposures:
        marts = {ref.split("'")[1] for ref in exposure["depends_on"]}
        # the exposure lists exactly the marts the page's SQL reads, and each has a source query
        assert set(re.findall(r"\bthroughline\.(\w+)", page_text(pages[exposure["name"]]))) == marts, exposure["name"]
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
            for name, sql in page_queries(page_text(page), con).items():
                assert con.execute(sql).fetchall(), f"{page.stem}/{name} returned no rows"
    finally:
        con.close()
