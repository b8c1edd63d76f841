"""Alerts reach Slack/Teams webhooks and SMTP on loopback, name source, asset and error, and carry no secret."""

from __future__ import annotations

import json
import socketserver
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from connectors.config import parse_config
from connectors.core.raw import RawStore
from operations.alerts import (
    Alert, Problem, failed_scopes, problems_from_events, run_problems, scope_line, send_alert, stale_streams,
)
from operations.run_report import write_rows

TOKEN = "ghp_s3cr3t-token-value-1234"
HOOK_SECRET = "T000/B000/hook-secret-XYZ"


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, json.loads(body)))
        status = 500 if "broken" in self.path else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) for smtplib: greeting, EHLO, MAIL, RCPT, DATA, QUIT."""

    def handle(self):
        self.wfile.write(b"220 localhost ready\r\n")
        while line := self.rfile.readline():
            command = line.decode().strip().upper()
            if command.startswith("EHLO") or command.startswith("HELO"):
                self.wfile.write(b"250 localhost\r\n")
            elif command.startswith("DATA"):
                self.wfile.write(b"354 go ahead\r\n")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk.decode())
                self.server.messages.append("".join(data))
                self.wfile.write(b"250 queued\r\n")
            elif command.startswith("QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.messages = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def config_with(alerts: dict, freshness: dict | None = None):
    return parse_config({
        "alerts": alerts,
        "freshness": freshness or {},
        "sources": [
            {"type": "github", "name": "acme-github", "auth": {"token": "${GH_TOKEN}"}, "scope": {"org": "acme"}},
            {"type": "jira", "name": "acme-jira", "base_url": "https://acme.atlassian.net",
             "auth": {"token": "jira-pat-000000"}, "scope": {"projects": ["PAY"]}},
        ],
    }, env={"GH_TOKEN": TOKEN})


def test_slack_and_teams_get_one_message_naming_source_asset_and_error_without_secrets(hook_server):
    base = f"http://127.0.0.1:{hook_server.server_address[1]}"
    config = config_with({
        "slack": {"webhook_url": f"{base}/slack/{HOOK_SECRET}"},
        "teams": {"webhook_url": f"{base}/teams/{HOOK_SECRET}"},
    })
    # An error text that (wrongly) quotes a token and the webhook URL: neither may leave the process.
    alert = Alert("Throughline: nightly run 1a2b3c4d failed", [
        Problem(source="acme-github", asset="raw/github__pull_requests",
                error=f"401 Bad credentials for token {TOKEN} (posting to {base}/slack/{HOOK_SECRET})"),
    ])
    assert send_alert(alert, config) == []
    (slack_path, slack), (teams_path, teams) = sorted(hook_server.received, key=lambda r: r[0])
    assert slack_path == f"/slack/{HOOK_SECRET}" and teams_path == f"/teams/{HOOK_SECRET}"
    assert slack == {"text": "Throughline: nightly run 1a2b3c4d failed\n"
                             "- source 'acme-github', asset raw/github__pull_requests: 401 Bad credentials for "
                             "token *** (posting to ***)"}
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert [block["text"] for block in card["content"]["body"]] == slack["text"].splitlines()


def test_undeliverable_webhook_is_reported_not_raised_and_stays_secret_free(hook_server):
    url = f"http://127.0.0.1:{hook_server.server_address[1]}/broken/{HOOK_SECRET}"
    failures = send_alert(Alert("t", [Problem("e")]), config_with({"slack": {"webhook_url": url}}))
    assert len(failures) == 1
    assert failures[0].startswith("alert to Slack not delivered: HTTP 500")
    assert HOOK_SECRET not in failures[0]


def test_email_alert_goes_through_smtp(smtp_server):
    config = config_with({"email": {
        "smtp_host": "127.0.0.1", "smtp_port": smtp_server.server_address[1], "starttls": False,
        "sender": "throughline@acme.test", "recipients": ["data-team@acme.test", "oncall@acme.test"],
    }})
    alert = Alert("Throughline: stale data", [Problem(source="acme-jira", error="data is 50.0 h old")])
    assert send_alert(alert, config) == []
    (message,) = smtp_server.messages
    assert "Subject: Throughline: stale data" in message
    assert "To: data-team@acme.test, oncall@acme.test" in message
    assert "- source 'acme-jira': data is 50.0 h old" in message


def _failure(step_key: str, message: str):
    return SimpleNamespace(is_step_failure=True, step_key=step_key, event_type_value="STEP_FAILURE",
                           step_failure_data=SimpleNamespace(error=SimpleNamespace(message=message)))


def _check(asset: list[str], name: str, passed: bool):
    return SimpleNamespace(
        is_step_failure=False, step_key="dbt_models", event_type_value="ASSET_CHECK_EVALUATION",
        event_specific_data=SimpleNamespace(passed=passed, check_name=name, asset_key=SimpleNamespace(path=asset)),
    )


def test_problems_name_each_failed_source_and_each_failed_mart_test():
    events = [
        _failure("extract_github__pulls", "2 github source(s) failed while reading pulls:\n"
                                          "acme-github: 401 Bad credentials\nacme-ghe: 404 Not Found: repo x"),
        _check(["marts", "work_items"], "not_null_work_items_work_item_id", passed=False),
        _check(["marts", "work_items"], "unique_work_items_work_item_id", passed=True),
        _failure("dbt_models", "dbt build failed\nsee the logs"),
    ]
    assert problems_from_events(events) == [
        Problem(error="401 Bad credentials", source="acme-github", asset="raw/github__pulls"),
        Problem(error="404 Not Found: repo x", source="acme-ghe", asset="raw/github__pulls"),
        Problem(error="check not_null_work_items_work_item_id failed", asset="marts/work_items"),
        Problem(error="dbt build failed", asset="dbt_models"),
    ]


def test_stale_sources_by_their_own_limits(tmp_path):
    """acme-github last read 30 h before `now` (limit 36: fresh); acme-jira 50 h (limit 24: stale, 50.0 h);
    a third source never succeeded (its only run failed)."""
    warehouse = tmp_path / "w.duckdb"
    now = datetime(2026, 3, 10, 8, 0)

    def row(source, status, finished):
        return ("r", "x", source, "g", "x__s", None, status, 1, 1, 0, 1, 0, 0, 0, 0.0, None, None, 1.0, None,
                finished, finished)

    with RawStore(warehouse) as store:
        write_rows(store, [
            row("acme-github", "success", datetime(2026, 3, 9, 2, 0)),
            row("acme-jira", "success", datetime(2026, 3, 8, 6, 0)),
            row("acme-jira", "failed", datetime(2026, 3, 9, 6, 0)),  # a failure does not refresh
            row("acme-new", "failed", datetime(2026, 3, 9, 6, 0)),
        ])
    config = parse_config({
        "freshness": {"sources": {"acme-jira": 24}},
        "sources": [
            {"type": "github", "name": "acme-github", "auth": {"token": "t"}, "scope": {"org": "acme"}},
            {"type": "jira", "name": "acme-jira", "base_url": "https://a.test", "auth": {"token": "t"},
             "scope": {"projects": ["A"]}},
            {"type": "jira", "name": "acme-new", "base_url": "https://b.test", "auth": {"token": "t"},
             "scope": {"projects": ["B"]}},
        ],
    }, env={})
    assert stale_streams(warehouse, config, now) == [
        Problem(source="acme-jira", error="data is 50.0 h old (last successful read 2026-03-08 06:00 UTC), "
                                          "over its freshness limit of 24 h"),
        Problem(source="acme-new", error="never read successfully; run the nightly job"),
    ]


class _Echo(BaseHTTPRequestHandler):
    """A webhook that refuses every message and echoes the URL it was called on (as some proxies do)."""

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        body = f"no such hook: http://{self.headers['Host']}{self.path}".encode()
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_an_undeliverable_alert_warns_with_channel_and_status_never_the_webhook_url(caplog):
    """The webhook URL's path is the secret: neither a refusing server (which echoes the URL in its body) nor a
    connection that cannot be made may put it, or any part of it, in the warning."""
    echo = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    refused = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    closed_port = refused.server_address[1]
    refused.server_close()  # nothing listens there any more: the connection is refused
    try:
        echo_url = f"http://127.0.0.1:{echo.server_address[1]}/services/{HOOK_SECRET}"
        config = config_with({"slack": {"webhook_url": echo_url},
                              "teams": {"webhook_url": f"http://127.0.0.1:{closed_port}/webhook/{HOOK_SECRET}"}})
        with caplog.at_level("WARNING", logger="operations.alerts"):
            failures = send_alert(Alert("t", [Problem("e")]), config)
    finally:
        echo.shutdown()
        echo.server_close()
    assert failures == [
        "alert to Slack not delivered: HTTP 404 Not Found; check alerts.slack.webhook_url (a revoked webhook "
        "answers 403, 404 or 410)",
        "alert to Teams not delivered: ConnectionError (ConnectionRefusedError); check alerts.teams.webhook_url "
        "and the network",
    ]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged == "\n".join(failures)
    for part in (HOOK_SECRET, "/services/", "/webhook/", "T000"):
        assert part not in logged


def test_failed_scopes_and_stale_scopes_come_from_the_run_report(tmp_path):
    """Run r2 failed on repository acme/b (403, 1 request) and on the whole Jira source (stream `*`), while
    acme/a loaded. acme/b last loaded in r1, 40 h before `now` (limit 36: stale on its own); acme/a 2 h ago."""
    warehouse = tmp_path / "w.duckdb"
    now = datetime(2026, 3, 10, 8, 0)

    def row(run, source, source_type, group, stream, scope, status, finished, error=None, requests=1, retries=0):
        return (run, source_type, source, group, stream, scope, status, 1, 1, 0, requests, retries, 0, 0, 0.0,
                None, None, 1.0, error, finished, finished)

    r1, r2 = datetime(2026, 3, 8, 16, 0), datetime(2026, 3, 10, 6, 0)
    with RawStore(warehouse) as store:
        write_rows(store, [
            row("r1", "acme-github", "github", "pull_requests", "github__pull_requests", "acme/a", "success", r1),
            row("r1", "acme-github", "github", "pull_requests", "github__pull_requests", "acme/b", "success", r1),
            row("r1", "acme-jira", "jira", "issues", "jira__issues", "PAY", "success", r1),
            row("r2", "acme-github", "github", "pull_requests", "github__pull_requests", "acme/a", "success", r2),
            row("r2", "acme-github", "github", "pull_requests", "github__pull_requests", "acme/b", "failed", r2,
                error="403 Resource not accessible", requests=1),
            row("r2", "acme-jira", "jira", "issues", "*", None, "failed", r2, error="401 Unauthorized",
                requests=3, retries=2),
        ])
    assert failed_scopes(warehouse, "r2") == [
        Problem(source="acme-github", asset="raw/github__pull_requests", scope="acme/b",
                error="403 Resource not accessible (1 request(s), 0 retries)"),
        Problem(source="acme-jira", asset="raw/jira__issues", error="401 Unauthorized (3 request(s), 2 retries)"),
    ]
    config = config_with({}, {"raw_hours": 36})
    # acme-jira: last success r1, 40 h old, over the default 36 h; acme-github is fresh (acme/a, 2 h) but its
    # scope acme/b was last read whole in r1, 40 h ago
    assert stale_streams(warehouse, config, now) == [
        Problem(source="acme-jira", error="data is 40.0 h old (last successful read 2026-03-08 16:00 UTC), "
                                          "over its freshness limit of 36 h"),
        Problem(source="acme-github", scope="acme/b", error="pull_requests: data is 40.0 h old (last successful "
                                                            "read 2026-03-08 16:00 UTC), over its freshness limit of 36 h"),
    ]


def test_the_last_steps_scope_lines_become_one_problem_each_and_the_report_adds_none_twice(tmp_path):
    message = ("dagster._core.definitions.events.Failure: 2 source(s) or scope(s) of this run failed; the marts "
               "were built and published from everything else:\n"
               + scope_line("acme-github", "acme/b", "raw/github__pull_requests", "403: no (1 request(s), 0 retries)")
               + "\n" + scope_line("acme-jira", None, "raw/jira__issues", "401: bad key (3 request(s), 2 retries)"))
    events = [_failure("ops__run_outcome", message)]
    expected = [
        Problem(source="acme-github", asset="raw/github__pull_requests", scope="acme/b",
                error="403: no (1 request(s), 0 retries)"),
        Problem(source="acme-jira", asset="raw/jira__issues", error="401: bad key (3 request(s), 2 retries)"),
    ]
    assert problems_from_events(events) == expected
    # the run report names the same two (no third line), and a warehouse without a report adds nothing
    assert run_problems(events, tmp_path / "none.duckdb", "r2") == expected
