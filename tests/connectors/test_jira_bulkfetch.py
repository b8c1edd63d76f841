"""Jira Cloud changelogs past the 100 the search embeds come from POST /changelog/bulkfetch: the issues of
several search pages in one request chain, stored exactly as the per-issue endpoint's histories were."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors import jira
from connectors.config import parse_config
from connectors.core.raw import RawStore
from connectors.core.source import engine_for
from simulator.scenarios import tiny_org
from simulator.server import SimulatorServer

SEARCH = "/jira/rest/api/3/search/jql"
BULK = "/jira/rest/api/3/changelog/bulkfetch"


def source(url: str, flavour: str = "cloud", **options):
    entry = {"type": "jira", "name": "j", "base_url": f"{url}/jira", "flavour": flavour,
             "scope": {"projects": ["FLOW"]}, "auth": {"email": "me@example.com", "api_token": "good"},
             "options": {"backoff_seconds": 0, "start_date": "2026-01-01", **options}}
    return parse_config({"sources": [entry]}, env={}).sources[0]


@pytest.fixture
def sim():
    """tiny_org's FLOW with 150, 20 and 230 histories on FLOW-1, FLOW-2 and FLOW-3 (FLOW-4 and FLOW-5: 1)."""
    org = tiny_org()
    start = datetime(2026, 1, 14, tzinfo=UTC)
    for key, total in (("FLOW-1", 150), ("FLOW-2", 20), ("FLOW-3", 230)):
        for n in range(total - len(org.jira_histories(key))):
            org.jira_add_transition(key, "In Review" if n % 2 == 0 else "In Progress", start + timedelta(minutes=n))
        start += timedelta(days=1)
    with SimulatorServer(org, jira_tokens={"good"}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as s:
        yield s


class Recording(requests.Session):
    """Keeps the JSON body of every POST (the simulator's log has paths only)."""

    def __init__(self):
        super().__init__()
        self.posted: list[tuple[str, dict]] = []

    def post(self, url, *args, json=None, **kw):
        self.posted.append((url, json))
        return super().post(url, *args, json=json, **kw)


def rows(store, sql, *params):
    return store.con.execute(sql, list(params)).fetchall()


def test_issues_past_the_embedded_100_are_read_in_one_bulkfetch_request(sim, store):
    session = Recording()
    [result] = jira.extract("issues", source(sim.url), store, session=session)

    # 1 search page (5 issues); FLOW-1 (150) and FLOW-3 (230) exceed the 100 embedded: one bulkfetch page
    # of up to 10000 histories holds their 380. FLOW-2's 20 and the others' single histories are embedded.
    assert sim.request_count(SEARCH) == 1 and sim.request_count(BULK) == 1
    assert sim.request_count("/jira/rest/api/3/issue/") == 0
    assert result.stats.requests == 2
    [asked] = [body for url, body in session.posted if url.endswith(BULK)]
    flow1, flow3 = sim.org.jira_issue("FLOW-1")["id"], sim.org.jira_issue("FLOW-3")["id"]
    assert asked == {"issueIdsOrKeys": [flow1, flow3], "maxResults": 10000}
    counts = dict(rows(store, "SELECT parent_key, count(*) FROM raw.jira__changelogs GROUP BY ALL"))
    assert counts == {flow1: 150, sim.org.jira_issue("FLOW-2")["id"]: 20, flow3: 230,
                      sim.org.jira_issue("FLOW-4")["id"]: 1, sim.org.jira_issue("FLOW-5")["id"]: 1}
    assert result.child_records == {"changelogs": 402}


def test_bulkfetch_records_are_the_histories_as_the_per_issue_endpoint_gives_them(sim, store):
    jira.extract("issues", source(sim.url), store)
    flow3 = sim.org.jira_issue("FLOW-3")["id"]
    stored = {key: json.loads(payload) for key, payload in
              rows(store, "SELECT record_key, payload::VARCHAR FROM raw.jira__changelogs WHERE parent_key = ?", flow3)}
    assert stored == {h["id"]: h for h in sim.org.jira_histories("FLOW-3")}
    # the columns staging reads (stg_jira__changelog_items, status changes): id, created, author, items
    assert set(next(iter(stored.values()))) >= {"id", "created", "author", "items"}


def test_bulkfetch_pages_by_next_page_token(sim, store):
    config = source(sim.url)
    engine = engine_for(config, store, jira.auth_headers(config))
    tz = jira.user_time_zone(engine, config)
    child = jira.changelog_child(config)
    small = replace(child, endpoint=replace(child.endpoint, max_page_size=100))
    sim.reset_stats()
    result = engine.run(jira.issues_endpoint(config, "FLOW", tz), scope="FLOW", children=(small,))
    # 380 histories of FLOW-1 and FLOW-3, interleaved by date, at 100 a page: ceil(380 / 100) = 4 requests
    assert sim.request_count(BULK) == 4 and result.stats.requests == 1 + 4
    assert rows(store, "SELECT count(*), count(DISTINCT record_key) FROM raw.jira__changelogs") == [(402, 402)]


def test_a_failing_bulkfetch_owes_both_issues_and_the_next_run_pays_them(sim, store):
    sim.faults.add("changelog/bulkfetch", "server_error", times=None)
    with pytest.raises(Exception, match="2 child read"):
        jira.extract("issues", source(sim.url, max_retries=1), store)
    flow1, flow3 = sim.org.jira_issue("FLOW-1")["id"], sim.org.jira_issue("FLOW-3")["id"]
    assert sorted(o.parent_key for o in store.owed("j", "changelogs")) == sorted([flow1, flow3])
    assert rows(store, "SELECT count(*) FROM raw.jira__issues") == [(5,)]
    assert rows(store, "SELECT count(*) FROM raw.jira__changelogs WHERE parent_key IN (?, ?)", flow1, flow3) == [(0,)]

    sim.faults.clear()
    sim.reset_stats()
    session = Recording()
    jira.extract("issues", source(sim.url, max_retries=1), store, session=session)
    # both owed issues in one chain first; the search from cursor - 3 h then lists FLOW-3 (the last updated)
    # again, unchanged: its changelog, just paid, is not asked again
    assert [body["issueIdsOrKeys"] for url, body in session.posted if url.endswith(BULK)] == [[flow1, flow3]]
    assert store.owed("j", "changelogs") == []
    assert rows(store, "SELECT count(*) FROM raw.jira__changelogs") == [(402,)]


def test_data_center_keeps_the_per_issue_changelog_endpoint():
    child = jira.changelog_child(source("http://jira.test", flavour="datacenter"))
    assert child.batch == 0 and child.endpoint.method == "GET"
    assert child.endpoint.path == "/rest/api/2/issue/{issue_id}/changelog"
    assert child.embedded({"changelog": {"histories": [{"id": "1"}], "total": 500}}) == ([{"id": "1"}], True)


def test_an_issue_listed_again_unchanged_costs_no_bulkfetch_and_a_changed_one_does(sim, store):
    jira.extract("issues", source(sim.url), store)
    # The lookback (3 h) lists FLOW-3 (230 histories) again, as it is stored: its changelog is not asked.
    sim.reset_stats()
    [result] = jira.extract("issues", source(sim.url), store)
    assert result.records == 1 and sim.request_count(BULK) == 0
    # A new history moves `updated`: the whole changelog (231) is read again by one bulkfetch.
    sim.org.jira_add_transition("FLOW-3", "Done", datetime(2026, 1, 20, tzinfo=UTC))
    sim.reset_stats()
    [result] = jira.extract("issues", source(sim.url), store)
    assert sim.request_count(BULK) == 1 and result.child_records == {"changelogs": 231}
    assert rows(store, "SELECT count(*) FROM raw.jira__changelogs") == [(403,)]
