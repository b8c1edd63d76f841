"""Connectors against the loopback simulator: every record once, under faults, incrementally."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors import github, jira
from connectors.config import parse_config
from connectors.core.endpoint import parse_timestamp
from connectors.core.errors import AuthError
from connectors.core.raw import RawStore
from simulator.scenarios import tiny_org
from simulator.server import SimulatorServer


def source(kind: str, url: str, **options):
    if kind == "jira":
        entry = {"type": "jira", "name": "j", "base_url": f"{url}/jira", "scope": {"projects": ["FLOW"]},
                 "auth": {"email": "me@example.com", "api_token": "good"}}
    else:
        entry = {"type": "github", "name": "g", "base_url": f"{url}/github", "scope": {"repos": ["acme/checkout"]},
                 "auth": {"token": "good"}}
    entry["options"] = {"backoff_seconds": 0, "start_date": "2026-01-01", **options}
    return parse_config({"sources": [entry]}, env={}).sources[0]


@pytest.fixture
def sim():
    # Embedding at most 2 histories forces the changelog endpoint for 3 of the 5 issues.
    with SimulatorServer(tiny_org(), changelog_embed_limit=2, jira_tokens={"good"}, github_tokens={"good"}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as s:
        yield s


def keys(store, table):
    return sorted(r[0] for r in store.con.execute(f"SELECT record_key FROM raw.{table}").fetchall())


def truth_histories(org):
    return sorted(h["id"] for hs in org.jira_changelogs.values() for h in hs)


def test_jira_survives_every_retryable_fault_and_loses_nothing(sim, store):
    search = r"/jira/rest/api/3/search/jql"
    sim.faults.add(search, "rate_limit", times=1, retry_after=0)
    sim.faults.add(search, "malformed_json", times=1)
    sim.faults.add(r"/jira/rest/api/3/changelog/bulkfetch", "server_error", times=1, status=503)
    sim.faults.add(r"/jira/rest/api/3/changelog/bulkfetch", "connection_reset", times=1)
    [result] = jira.extract("issues", source("jira", sim.url, page_size=2), store)
    assert keys(store, "jira__issues") == sorted(sim.org.jira_issues)
    assert keys(store, "jira__changelogs") == truth_histories(sim.org)
    assert result.stats.retries == 4
    assert result.stats.retry_reasons == {"http 429": 1, "malformed json": 1, "http 503": 1, "connection error": 1}
    # 5 issues in pages of 2 = 3 pages; FLOW-1, FLOW-2 and FLOW-3 exceed the 2 embedded: one bulkfetch reads all three
    assert result.pages == 3
    assert result.stats.requests == 3 + 1 + 4


def test_github_streams_arrive_whole_through_rate_limits(sim, store):
    sim.faults.add(r"/github/repos/acme/checkout/pulls", "rate_limit", times=1, retry_after=0, status=403)
    config = source("github", sim.url, page_size=2)
    results = {g: github.extract(g, config, store)[0] for g in ("pull_requests", "deployments", "workflow_runs")}
    repo = sim.org.repos["acme/checkout"]
    assert keys(store, "github__pull_requests") == sorted(str(p["id"]) for p in repo.pulls.values())
    assert keys(store, "github__deployments") == sorted(str(d) for d in repo.deployments)
    assert keys(store, "github__deployment_statuses") == sorted(
        str(s["id"]) for ss in repo.deployment_statuses.values() for s in ss)
    assert keys(store, "github__workflow_runs") == sorted(str(r) for r in repo.runs)
    assert results["pull_requests"].stats.retries == 1
    parents = store.con.execute(
        "SELECT count(*) FROM raw.github__deployment_statuses s JOIN raw.github__deployments d "
        "ON s.parent_key = d.record_key").fetchall()[0][0]
    assert parents == len(keys(store, "github__deployment_statuses"))


def test_revoked_token_fails_at_once_with_what_to_check(sim, store):
    bad = source("jira", sim.url)
    bad = bad.model_copy(update={"auth": bad.auth.model_copy(update={"api_token": type(bad.auth.api_token)("revoked")})})
    with pytest.raises(AuthError) as err:
        jira.extract("issues", bad, store)
    assert "check the credentials of source 'j'" in str(err.value)
    assert "revoked" not in str(err.value)
    assert sim.request_count("/jira") == 1


def test_incremental_run_reads_only_the_change_in_the_users_time_zone(sim, store):
    config = source("jira", sim.url, lookback_hours=0, page_size=50)
    jira.extract("issues", config, store)
    cursor = parse_timestamp(store.get_cursor("j", "issues", "FLOW"))
    # One minute after the cursor: a UTC literal read as New York time would skip it (5 hours later).
    sim.org.jira_add_transition("FLOW-4", "Done", cursor + timedelta(minutes=1))
    sim.reset_stats()
    [result] = jira.extract("issues", config, store)
    assert result.records >= 1
    assert sim.request_count("/jira/rest/api/3/search/jql") == 1
    done = store.con.execute(
        "SELECT payload->>'$.fields.status.name' FROM raw.jira__issues WHERE payload->>'$.key' = 'FLOW-4'"
    ).fetchall()
    assert done == [("Done",)]
    assert keys(store, "jira__changelogs") == truth_histories(sim.org)
