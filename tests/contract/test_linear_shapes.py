"""Contract between the Linear simulator (simulator/linear_api.py), the connector and the staging models: what the
connector stores from the simulator's GraphQL answers carries every JSON path the staging views read, every issue
and history entry arrives once (the long history through its IssueHistory pages too), and the simulator's
rate-limit and authentication errors are Linear's (HTTP 400, `extensions.code` RATELIMITED /
AUTHENTICATION_ERROR).

There are no recorded Linear answers in ../shared/fixtures: the shapes follow Linear's schema
(packages/sdk/src/schema.graphql of linear/linear). The generated Org (seed 7) gives the Mobile team 60 issues;
MOB-2 has 62 history entries (Todo, 30 rounds of In Progress -> In Review, Done), more than the 50 an issue
page carries.
"""

from __future__ import annotations

import pytest

from connectors import linear
from connectors.config import DBT_PROJECT_DIR
from connectors.core.errors import AuthError
from connectors.core.raw import RawStore
from connectors.kit import assert_each_record_once, source_config
from simulator import SimulatorServer, generate_org
from tests.contract.test_pagerduty_shapes import has_path, payload_paths, payloads

STAGING = DBT_PROJECT_DIR / "models" / "staging" / "linear"


@pytest.fixture(scope="module")
def sim():
    with SimulatorServer(generate_org(), mount_options={"linear": {"tokens": {"lin_api_good"}}}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as raw_store:
        yield raw_store


def config(sim, key="lin_api_good"):
    return source_config({"type": "linear", "name": "lin", "base_url": f"{sim.url}/linear",
                          "auth": {"api_key": "${K}"}, "options": {"backoff_seconds": 0}}, env={"K": key})


def test_what_the_connector_stores_has_every_path_staging_reads(sim, store):
    (issues,) = linear.extract("issues", config(sim), store)
    linear.extract("planning", config(sim), store)
    world = sim.mounts["linear"].world
    assert_each_record_once(store, "linear__issues", [i["id"] for i in world.issues])
    assert_each_record_once(store, "linear__issue_history", [h["id"] for e in world.history.values() for h in e])
    assert len(world.issues) == 60 and len(world.history[world.issues[1]["id"]]) == 62
    # 60 issues in pages of 50, then MOB-2's last 12 entries by one IssueHistory query
    assert (issues.pages, issues.stats.requests) == (3, 3)
    for table in ("issues", "issue_history", "workflow_states", "cycles", "projects", "teams"):
        paths = payload_paths(STAGING / f"stg_linear__{table}.sql")
        assert paths, table
        stored = payloads(store, f"linear__{table}")
        assert stored, table
        for record in stored:
            missing = [p for p in sorted(paths) if not has_path(record, p) and p != "issue.id"]
            assert not missing, f"{table} {record['id']}: staging reads {missing}"
    assert {s["type"] for s in payloads(store, "linear__workflow_states")} == {
        "triage", "backlog", "unstarted", "started", "completed", "canceled"}


def test_linears_rate_limit_answer_is_waited_out(sim, store):
    sim.faults.add(r"^/linear/graphql", "rate_limit", times=1)
    waits: list[float] = []
    linear.extract("planning", config(sim), store, sleep=waits.append)
    assert len(waits) == 1  # HTTP 400, RATELIMITED: retried after the backoff
    assert_each_record_once(store, "linear__teams", [sim.mounts["linear"].world.team["id"]])


def test_a_bad_key_is_refused_once(sim, store):
    before = sim.request_count("/linear/")
    with pytest.raises(AuthError) as failure:
        linear.extract("issues", config(sim, key="lin_api_wrong"), store)
    assert "lin_api_wrong" not in str(failure.value) and sim.request_count("/linear/") == before + 1
