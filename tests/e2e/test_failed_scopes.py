"""A nightly run in which some scopes fail among healthy ones: a repository answering 403, one answering 503
past its retries, a Jira project that was deleted, and a whole second GitHub source whose token was revoked
(401). The healthy scopes land exactly as in a clean extraction, dbt builds the marts, publish runs, and the run
ends non-zero with one Slack message naming every failed source, asset and scope with its error, without a
secret; the run report and marts.pipeline_runs hold the failed streams with what they cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest
import requests

from connectors.config import load_config
from connectors.core.raw import RawStore
from connectors.registry import source_types
from simulator import SimulatorServer, tiny_org
from tests.support.e2e import private_dagster_home

HEALTHY_REPOS = ["acme/checkout", "acme/payments"]
FORBIDDEN, FLAKY, DELETED = "acme/secret", "acme/flaky", "GONE"
HOOK_SECRET = "hook-secret-5150"
GOOD, REVOKED = "x", "e2e-revoked-token-4242"  # the simulator's GitHub accepts only the good one
REVOKED_SOURCE = "revoked-github"


class _Hook(BaseHTTPRequestHandler):
    """Slack's incoming webhook: keeps every message posted."""

    def do_POST(self):  # noqa: N802
        self.server.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def organisation():
    """The tiny organisation plus three repositories with a pull request and a commit each."""
    org = tiny_org()
    for n, repo in enumerate(("acme/payments", FORBIDDEN, FLAKY), start=1):
        org.github_add_repo(repo, created_at="2025-06-01T09:00:00Z")
        org.github_add_commit(repo, f"Start {repo}", f"2026-01-0{n + 1}T10:00Z", author="ada")
        org.github_add_pull(repo, f"FLOW-1 part {n}", f"2026-01-0{n + 2}T10:00Z", user="ada", number=1,
                            commits=[(f"Part {n}", f"2026-01-0{n + 2}T09:00Z")])
    return org


class _Forbidding(BaseHTTPRequestHandler):
    """Forwards to the simulator, but answers GitHub's 403 for one repository (a token that lost access);
    Link headers are rewritten to point back here."""

    def do_GET(self):  # noqa: N802
        if self.path.startswith(f"/github/repos/{FORBIDDEN}"):
            body = json.dumps({"message": "Resource not accessible by personal access token"}).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        upstream = requests.get(self.server.upstream + self.path, headers={
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}, timeout=30)
        self.send_response(upstream.status_code)
        for name, value in upstream.headers.items():
            if name.lower() in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                continue
            self.send_header(name, value.replace(self.server.upstream, self.server.url))
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    def log_message(self, *args):
        pass


def _serve(handler, **attrs) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    for name, value in attrs.items():
        setattr(server, name, value)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def config_text(jira_url: str, github_url: str, repos: list[str], projects: list[str], head: str = "",
                tail: str = "") -> str:
    quick = 'start_date: "2026-01-01", backoff_seconds: 0, max_retries: 2'
    return f"""{head}
sources:
  - type: jira
    name: tiny-jira
    base_url: {jira_url}/jira
    auth: {{email: e2e@example.com, api_token: x}}
    scope: {{projects: [{", ".join(projects)}]}}
    options: {{{quick}}}
  - type: github
    name: tiny-github
    base_url: {github_url}/github
    auth: {{token: {GOOD}}}
    scope: {{repos: [{", ".join(repos)}]}}
    options: {{{quick}, max_concurrent_repos: 2}}
{tail}"""


RAW_ROWS = """SELECT '{table}', source_instance, record_key, parent_key, scope, cursor_value, payload::VARCHAR
              FROM raw.{table}"""


def raw_rows(path, healthy_only: bool) -> tuple[list[tuple], int]:
    """Every raw row of the healthy scopes (without extracted_at), and how many rows there are in all."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' "
            "AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY 1").fetchall()]
        rows = []
        for table in tables:
            rows += con.execute(RAW_ROWS.format(table=table)).fetchall()
        total = len(rows)
        if healthy_only:
            rows = [r for r in rows if r[4] not in (FORBIDDEN, FLAKY, DELETED)]
        return sorted(rows, key=repr), total
    finally:
        con.close()


def clean_extraction(tmp_path, sim_url: str):
    """The healthy scopes alone, read straight through the connectors: what the failing run must equal."""
    config = tmp_path / "clean.yml"
    config.write_text(config_text(sim_url, sim_url, HEALTHY_REPOS, ["FLOW"]))
    with RawStore(tmp_path / "clean.duckdb") as store:
        for source in load_config(config).sources:
            source_type = source_types()[source.type]
            for group in source_type.groups:
                source_type.extract(group, source, store)
    return tmp_path / "clean.duckdb"


@pytest.mark.slow(87)  # CI, one worker (tests/conftest.py starts the slowest first)
def test_failed_scopes_cost_only_themselves(tmp_path):
    hook = _serve(_Hook, received=[])
    with SimulatorServer(organisation(), github_tokens={GOOD}) as sim:
        proxy = _serve(_Forbidding, upstream=sim.url)
        try:
            clean = clean_extraction(tmp_path, sim.url)
            sim.reset_stats()
            # acme/flaky answers 503 to everything: three requests (max_retries 2), then its scope fails.
            sim.faults.add(r"^/github/repos/acme/flaky", "server_error", times=None, status=503)
            config = tmp_path / "throughline.yml"
            config.write_text(config_text(
                sim.url, proxy.url, [*HEALTHY_REPOS, FORBIDDEN, FLAKY], ["FLOW", DELETED],
                head=f'alerts:\n  slack: {{webhook_url: "{hook.url}/hook/${{E2E_HOOK_SECRET}}"}}',
                tail=f"""  - type: github
    name: {REVOKED_SOURCE}
    base_url: {sim.url}/github
    auth: {{token: "${{E2E_GITHUB_TOKEN}}"}}
    scope: {{repos: [acme/checkout]}}
    options: {{start_date: "2026-01-01", max_retries: 0}}
"""))
            warehouse = tmp_path / "w.duckdb"
            env = {**os.environ, "THROUGHLINE_CONFIG": str(config), "THROUGHLINE_WAREHOUSE": str(warehouse),
                   "DAGSTER_HOME": str(private_dagster_home(tmp_path)), "E2E_HOOK_SECRET": HOOK_SECRET,
                   "E2E_GITHUB_TOKEN": REVOKED}
            run = subprocess.run([sys.executable, "-m", "operations.cli", "run"], env=env, capture_output=True,
                                 text=True, timeout=900)
        finally:
            proxy.shutdown()
            proxy.server_close()
            hook.shutdown()
            hook.server_close()

    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr.split("error: nightly run failed", 1)[-1], run.stderr[-3000:]
    assert HOOK_SECRET not in run.stdout + run.stderr and REVOKED not in run.stdout + run.stderr

    # The healthy scopes hold exactly what a clean extraction of them holds: nothing lost, nothing twice.
    expected, _ = raw_rows(clean, healthy_only=True)
    landed, _ = raw_rows(warehouse, healthy_only=True)
    assert landed == expected
    assert len(set(landed)) == len(landed)

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        # dbt built the marts from what landed: the five FLOW issues and the healthy repositories' PRs
        assert con.execute("SELECT count(*) FROM marts.work_items").fetchone() == (5,)
        assert con.execute("SELECT count(DISTINCT scope) FROM raw.github__pull_requests").fetchone() == (2,)
        run_id = con.execute("SELECT DISTINCT run_id FROM ops.stream_runs").fetchall()
        assert len(run_id) == 1
        failed = con.execute(
            """SELECT source_instance, stream, scope, requests, retries FROM ops.stream_runs
               WHERE status = 'failed' AND error IS NOT NULL ORDER BY ALL""").fetchall()
        marts = con.execute(
            """SELECT source_instance, stream, requests, retries FROM marts.pipeline_runs
               WHERE status = 'failed' ORDER BY ALL""").fetchall()
        pull_cost = con.execute(
            """SELECT sum(requests), sum(retries) FROM ops.stream_runs
               WHERE stream = 'github__pull_requests' AND source_instance = 'tiny-github'""").fetchone()
    finally:
        con.close()
    by_scope = {}
    for source, stream, scope, requests_made, retries in failed:
        by_scope.setdefault(scope if source != REVOKED_SOURCE else REVOKED_SOURCE, []).append(
            (stream, requests_made, retries))
    # Every group of the forbidden and the flaky repository and of the revoked source failed, and the deleted
    # project's two groups
    assert sorted(by_scope) == sorted([DELETED, FLAKY, FORBIDDEN, REVOKED_SOURCE])
    github_groups = 7  # repositories, pull_requests, commits, deployments, releases, issues, workflow_runs
    assert len(by_scope[FORBIDDEN]) == len(by_scope[FLAKY]) == len(by_scope[REVOKED_SOURCE]) == github_groups
    # a revoked token is asked once per group, not retried
    assert all(requests_made == 1 and retries == 0 for _, requests_made, retries in by_scope[REVOKED_SOURCE])
    # a 403 is not retried: one request per group; a 503 is asked 1 + max_retries (2) = 3 times per group
    assert all(requests_made == 1 and retries == 0 for _, requests_made, retries in by_scope[FORBIDDEN])
    assert all(requests_made == 3 and retries == 2 for _, requests_made, retries in by_scope[FLAKY])
    # projects group: missing from /project/search (no request of its own); issues group: the JQL's 400
    assert sorted(stream for stream, _, _ in by_scope[DELETED]) == ["jira__boards", "jira__issues"]
    # marts.pipeline_runs shows the failed streams with their cost (summed over scopes)
    failed_streams = {(source, stream) for source, stream, _, _ in marts}
    assert ("tiny-github", "github__pull_requests") in failed_streams
    assert ("revoked-github", "github__pull_requests") in failed_streams
    assert ("tiny-jira", "jira__issues") in failed_streams
    # the stream's cost over its scopes: the healthy repositories' requests, the forbidden one's 1 and the
    # flaky one's 3 (2 of them retries)
    pulls = {s: (r, t) for s, st, r, t in marts if st == "github__pull_requests"}
    assert pulls == {"tiny-github": pull_cost, REVOKED_SOURCE: (1, 0)}
    assert pull_cost[0] >= 2 + 1 + 3 and pull_cost[1] >= 2

    # publish ran: the published marts hold the five work items
    with duckdb.connect(str(tmp_path / "marts.duckdb"), read_only=True) as published:
        assert published.execute("SELECT count(*) FROM work_items").fetchone() == (5,)

    # one alert for the failed run, one line per failed source, stream and scope, no secret
    [message] = [m["text"] for m in hook.received if m["text"].startswith("Throughline: nightly run")]
    head, *lines = message.splitlines()
    assert head.endswith(" failed")
    assert len(lines) == 3 * github_groups + 2
    for scope in (FORBIDDEN, FLAKY, DELETED):
        assert any(f"scope '{scope}'" in line for line in lines)
    sources = ("- source 'tiny-github', asset raw/github__", "- source 'tiny-jira', asset raw/jira__",
               f"- source '{REVOKED_SOURCE}', asset raw/github__")
    assert all(line.startswith(sources) for line in lines)
    assert any("403" in line for line in lines if FORBIDDEN in line)
    assert any("503" in line for line in lines if FLAKY in line)
    revoked = [line for line in lines if line.startswith(sources[2])]
    assert len(revoked) == github_groups
    assert all("401" in line and line.endswith("(1 request(s), 0 retries)") for line in revoked)
    assert HOOK_SECRET not in message and REVOKED not in message


def test_each_scope_goes_past_a_failed_scope_and_stops_only_for_what_every_scope_would_meet():
    """The shared loop of every connector (connectors/core/source.py): a 403 or 404 costs its scope, the others
    are read and the first failure is raised with its own type, carrying every result and failed scope; a 401
    stops the loop and fails the scopes not tried."""
    from types import SimpleNamespace

    from connectors.core.engine import StreamResult
    from connectors.core.errors import AuthError, NotFoundError
    from connectors.core.source import each_scope, extraction_of

    source = SimpleNamespace(name="s")
    answers = {"a": None, "b": AuthError("GET /b was refused (403 Forbidden)"), "c": NotFoundError("GET /c (404)"),
               "d": None, "e": AuthError("GET /e was refused (401 Bad credentials)"), "f": None}

    def read(scope: str) -> list[StreamResult]:
        if answers[scope] is not None:
            raise answers[scope]
        return [StreamResult("s", "x__items", scope, records=1)]

    with pytest.raises(AuthError) as raised:
        each_scope(source, "x__items", list(answers), read)
    assert raised.value is answers["b"]  # the first failure, as it was raised
    extraction = extraction_of(raised.value)
    assert [r.scope for r in extraction.results] == ["a", "d"]
    assert [(f.scope, f.result.table) for f in extraction.failed] == [
        ("b", "x__items"), ("c", "x__items"), ("e", "x__items"), ("f", "x__items")]
    assert extraction.failed[-1].error.startswith("not read: the source stopped at 'e' (GET /e was refused (401")
    # without a failure it is a plain loop
    assert [r.scope for r in each_scope(source, "x__items", ["a", "d"], read)] == ["a", "d"]
