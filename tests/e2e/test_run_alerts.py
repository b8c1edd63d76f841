"""A real nightly run through the CLI with one source's token revoked: the run fails, the other source loads and
its marts are built, and one Slack message names the source, the asset, the scope and the error, without the
secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb

from simulator import SimulatorServer, tiny_org
from tests.support.e2e import private_dagster_home, tiny_config
GOOD, REVOKED = "e2e-good-token-31337", "e2e-revoked-token-4242"


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.server.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_failed_source_alerts_once_with_source_asset_and_error(tmp_path):
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    hook.received = []
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        with SimulatorServer(tiny_org(), github_tokens={GOOD}) as sim:
            config = tmp_path / "throughline.yml"
            config.write_text(tiny_config(
                sim.url, jira_token="x", jira_options='start_date: "2026-01-01"',
                github_token="${E2E_GITHUB_TOKEN}", github_options='start_date: "2026-01-01", max_retries: 0',
                head=f'alerts:\n  slack: {{webhook_url: "http://127.0.0.1:{hook.server_address[1]}/hook/${{E2E_HOOK_SECRET}}"}}',
            ))
            home = private_dagster_home(tmp_path)
            env = {**os.environ, "THROUGHLINE_CONFIG": str(config), "DAGSTER_HOME": str(home),
                   "THROUGHLINE_WAREHOUSE": str(tmp_path / "w.duckdb"),
                   "E2E_GITHUB_TOKEN": REVOKED, "E2E_HOOK_SECRET": "hook-secret-77"}
            run = subprocess.run([sys.executable, "-m", "operations.cli", "run"], env=env, capture_output=True,
                                 text=True, timeout=600)
    finally:
        hook.shutdown()
        hook.server_close()
    assert run.returncode == 1
    (message,) = [m["text"] for m in hook.received if "failed" in m["text"].splitlines()[0]]
    lines = message.splitlines()
    assert lines[0].startswith("Throughline: nightly run ") and lines[0].endswith(" failed")
    # every GitHub group failed on the revoked token, one line each (7 groups); nothing else failed
    github_lines = [line for line in lines[1:] if line.startswith("- source 'tiny-github', asset raw/github__")]
    assert len(github_lines) == len(lines) - 1 == 7
    assert all("401" in line and line.endswith("(1 request(s), 0 retries)") for line in github_lines)
    for secret in (REVOKED, "hook-secret-77"):
        assert secret not in message and secret not in run.stdout + run.stderr
    # the Jira source loaded and the marts were built from it
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.jira__issues").fetchall() == [(5,)]
        assert con.execute("SELECT count(*) FROM marts.work_items").fetchall() == [(5,)]
