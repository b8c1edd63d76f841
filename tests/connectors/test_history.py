"""History loads window by window: resumable, progress per window, and the nightly cursor continues after.

The tiny org's issues were last updated (UTC): FLOW-4 01-08 12:00 (1 history), FLOW-1 01-09 09:00 (3),
FLOW-5 01-09 12:00 (1), FLOW-2 01-12 10:00 (4), FLOW-3 01-13 08:00 (4). From 2026-01-05 to 01-17 in
4-day windows: [01-05, 01-09) holds FLOW-4; [01-09, 01-13) FLOW-1, FLOW-5, FLOW-2; [01-13, 01-17) FLOW-3.
The Jira user is in America/New_York: the JQL bounds are written in that zone and must still cut there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.config import parse_config
from connectors.core.raw import RawStore
from simulator import SimulatorServer, tiny_org
from connectors.core.source import windows
from operations.history import load_history

NOW = datetime(2026, 1, 17, tzinfo=UTC)
SINCE = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org()) as server:
        yield server


def jira_source(sim):
    config = parse_config({"sources": [{
        "type": "jira", "name": "tiny-jira", "base_url": f"{sim.url}/jira",
        "auth": {"email": "h@example.com", "api_token": "t"}, "scope": {"projects": ["FLOW"]},
        "options": {"backoff_seconds": 0},
    }]}, env={})
    return config.sources[0]


def test_windows_cut_the_range_without_gap_or_overlap():
    assert windows(SINCE, NOW, timedelta(days=5)) == [
        (SINCE, datetime(2026, 1, 10, tzinfo=UTC)),
        (datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 1, 15, tzinfo=UTC)),
        (datetime(2026, 1, 15, tzinfo=UTC), NOW),
    ]


def test_stopped_history_resumes_at_the_first_unfinished_window(sim, tmp_path):
    source = jira_source(sim)
    printed: list[str] = []
    with RawStore(tmp_path / "w.duckdb") as store:
        first = load_history(source, store, since=SINCE, window=timedelta(days=4), now=NOW, max_windows=2,
                             on_progress=lambda p: printed.append(p.line()))
        assert [(p.records_window, p.records_total, p.windows_done, p.windows_total) for p in first] == [
            (1, 1, 1, 3), (3, 4, 2, 3)]
        assert printed[0].startswith("tiny-jira issues 2026-01-05..2026-01-09: 1 records; 1 so far, "
                                     "2 of 3 windows left, about ")

        sim.reset_stats()
        second = load_history(source, store, since=SINCE, window=timedelta(days=4), now=NOW)
        assert [(p.window_start, p.records_window, p.windows_done, p.windows_left) for p in second] == [
            (datetime(2026, 1, 13, tzinfo=UTC), 1, 3, 0)]
        assert sim.request_count("/jira/rest/api/3/search/jql") == 1  # only the unfinished window

        assert load_history(source, store, since=SINCE, window=timedelta(days=4), now=NOW) == []

        counts = store.con.execute("""
            SELECT (SELECT count(*) FROM raw.jira__issues), (SELECT count(*) FROM raw.jira__changelogs),
                   (SELECT cursor_value FROM raw._state WHERE stream = 'issues' AND scope = 'FLOW')
        """).fetchall()
        # every issue and history once; the nightly run goes on from the newest issue read
        assert counts == [(5, 13, "2026-01-13T08:00:00.000000Z")]
        report = store.con.execute("""
            SELECT stream, sum(records) FROM ops.stream_runs
            WHERE run_id LIKE 'history-%' AND extraction_group = 'issues' GROUP BY stream ORDER BY stream
        """).fetchall()
        assert report == [("jira__changelogs", 13), ("jira__issues", 5)]


def test_github_commits_by_window_and_other_streams_read_once(sim, tmp_path):
    """acme/checkout's 6 commits (UTC): 01-02 10:00 | 01-05 14:00, 01-06, 01-07, 01-08 12:00 | 01-12 09:00,
    in 4-day windows from 01-01 to 01-13: 1, 4 and 1 commits, one /commits request per window."""
    config = parse_config({"sources": [{
        "type": "github", "name": "tiny-github", "base_url": f"{sim.url}/github", "auth": {"token": "t"},
        "scope": {"repos": ["acme/checkout"]}, "options": {"backoff_seconds": 0},
    }]}, env={})
    with RawStore(tmp_path / "w.duckdb") as store:
        progress = load_history(config.sources[0], store, since=datetime(2026, 1, 1, tzinfo=UTC),
                                window=timedelta(days=4), now=datetime(2026, 1, 13, tzinfo=UTC))
        assert [(p.group, p.records_window, p.windows_done, p.windows_total) for p in progress] == [
            ("commits", 1, 1, 3), ("commits", 4, 2, 3), ("commits", 1, 3, 3)]
        commit_lists = [r for r in sim.requests if r.path == "/github/repos/acme/checkout/commits"]
        # one request per window; the fourth is the deployments group's first production deployment, whose
        # change set is its sha's history (`sha=`), read once like the other streams
        assert len(commit_lists) == 4 and sum("sha=" in r.query for r in commit_lists) == 1
        pull_lists = [r for r in sim.requests if r.path == "/github/repos/acme/checkout/pulls"]
        assert len(pull_lists) == 1  # not windowed: read whole, once
        assert store.con.execute("SELECT count(*) FROM raw.github__commits").fetchall() == [(6,)]
