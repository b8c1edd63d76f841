"""The azure_devops connector against the simulator's Azure DevOps (simulator/azure_devops_api.py): WIQL ids then
work items 200 (here page_size) at a time with their updates, pull requests with threads and commits, builds and
environment deployment records, every object shaped as Microsoft's REST 7.1 reference documents it.

The world is the demo's Data project laid out over 2026-06-01 .. 2026-11-30 (seed 7): 42 work items (40, the
Feature they hang under and its Epic), 24 pull requests, the builds of the completed ones and the deployment records of the
successful builds. Counts below are taken from the world itself, so the test says "every one, once".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors import azure_devops
from connectors.core.endpoint import format_cursor, parse_timestamp
from connectors.core.errors import AuthError, NotFoundError
from connectors.core.raw import RawStore
from connectors.core.source import extraction_of
from connectors.kit import assert_each_record_once, assert_rerun_idempotent, source_config
from simulator.model import Org
from simulator.server import SimulatorServer

PAT = "ado-pat"
START, ANCHOR = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
TABLES = ["azure_devops__work_items", "azure_devops__work_item_updates", "azure_devops__pull_requests",
          "azure_devops__pull_request_threads", "azure_devops__pull_request_commits", "azure_devops__builds",
          "azure_devops__environments", "azure_devops__environment_deployment_records", "azure_devops__teams",
          "azure_devops__iterations"]


@pytest.fixture
def sim():
    org = Org()
    org.history_window_ms = (int(START.timestamp() * 1000), int(ANCHOR.timestamp() * 1000))
    with SimulatorServer(org, mount_options={"azure_devops": {"tokens": {PAT}}}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "warehouse.duckdb") as raw_store:
        yield raw_store


def config(sim, token=PAT, projects=("Data",), **options):
    return source_config({
        "type": "azure_devops", "name": "ado", "base_url": f"{sim.url}/azure_devops", "auth": {"token": "${PAT}"},
        "scope": {"organization": "acme", "projects": list(projects)},
        "options": {"page_size": 7, "backoff_seconds": 0, "start_date": "2026-05-01", **options}}, env={"PAT": token})


def extract_all(source, store, **kw):
    return {(r.table, r.scope): r for group in azure_devops.SOURCE.groups
            for r in azure_devops.extract(group, source, store, **kw)}


def count(sim, fragment: str, method: str = "GET") -> int:
    return sum(1 for r in sim.requests if fragment in r.path and r.method == method)


def test_every_record_arrives_once_and_the_work_item_cursor_is_the_newest_change(sim, store):
    world = sim.azure_devops.world
    results = extract_all(config(sim), store)

    items = results[("azure_devops__work_items", "Data")]
    assert (items.records, items.child_records) == (42, {"work_item_updates": sum(map(len, world.updates.values()))})
    assert count(sim, "/wit/wiql", "POST") == 1
    assert count(sim, "/wit/workitemsbatch", "POST") == 6  # 42 ids, 7 a batch
    assert_each_record_once(store, "azure_devops__work_items", [str(i) for i in world.items])
    assert_each_record_once(store, "azure_devops__work_item_updates",
                            [f"{i}:{u['id']}" for i, us in world.updates.items() for u in us])
    newest = max(parse_timestamp(i["fields"]["System.ChangedDate"]) for i in world.items.values())
    assert items.cursor_after == format_cursor(newest)

    assert_each_record_once(store, "azure_devops__pull_requests",
                            [str(p["pullRequestId"]) for p in world.pull_requests])
    assert_each_record_once(store, "azure_devops__pull_request_threads",
                            [f"{n}:{t['id']}" for n, ts in world.threads.items() for t in ts])
    assert_each_record_once(store, "azure_devops__pull_request_commits",
                            [f"{n}:{c['commitId']}" for n, cs in world.commits.items() for c in cs])
    assert_each_record_once(store, "azure_devops__builds", [str(b["id"]) for b in world.builds])
    assert_each_record_once(store, "azure_devops__environment_deployment_records",
                            [f"{e}:{r['id']}" for e, rs in world.records.items() for r in rs])
    team = world.team["id"]
    assert_each_record_once(store, "azure_devops__iterations", [f"{team}:{i['id']}" for i in world.iterations])
    # two-week sprints: the 14 from the one holding 2026-06-01 (05-21 .. 06-03) to the one holding 2026-11-30
    # (11-19 .. 12-02), and the next one, planned
    assert len(world.iterations) == 15
    assert [i["attributes"]["timeFrame"] for i in world.iterations[-2:]] == ["current", "future"]
    # builds page by continuation token: 7 a page
    assert results[("azure_devops__builds", "Data")].pages == -(-len(world.builds) // 7)


def test_a_rerun_changes_nothing_and_asks_no_updates_of_an_unchanged_work_item(sim, store):
    source = config(sim)
    first = extract_all(source, store)
    sim.reset_stats()
    again = assert_rerun_idempotent(store, TABLES, lambda: extract_all(source, store))

    cursor = parse_timestamp(first[("azure_devops__work_items", "Data")].cursor_after)
    (wiql,) = [r for r in sim.requests if r.path.endswith("/wit/wiql")]
    assert "timePrecision=true" in wiql.query
    # one short page of updates is the last: no empty page is asked after it
    # only the work items changed within the lookback of the newest change are read again, without updates
    recent = [i for i in sim.azure_devops.world.items.values()
              if parse_timestamp(i["fields"]["System.ChangedDate"]) >= cursor - timedelta(hours=3)]
    assert again[("azure_devops__work_items", "Data")].records == len(recent) >= 1
    assert count(sim, "/updates") == 0
    # closed pull requests listed again keep their threads and commits: only the active one's are asked
    assert count(sim, "/threads") == count(sim, "/commits") == 1


def test_a_work_item_changed_since_is_read_with_its_new_updates(sim, store):
    source = config(sim)
    extract_all(source, store)
    world = sim.azure_devops.world
    later = ANCHOR + timedelta(hours=5)
    world.move(1040, "Removed", int(later.timestamp() * 1000))  # a Task, the newest
    sim.reset_stats()

    result = azure_devops.extract("work_items", source, store)[0]
    assert result.cursor_after == format_cursor(later)
    assert [r.path.rsplit("/", 2)[-2] for r in sim.requests if r.path.endswith("/updates")] == ["1040"]
    assert_each_record_once(store, "azure_devops__work_item_updates",
                            [f"{i}:{u['id']}" for i, us in world.updates.items() for u in us])


def test_more_changes_than_one_wiql_answer_are_read_in_changed_date_windows(sim, store, monkeypatch):
    # WIQL answers at most WIQL_MAX ids: a full answer is asked again from the newest ChangedDate read
    monkeypatch.setattr(azure_devops, "WIQL_MAX", 10)
    (result,) = azure_devops.extract("work_items", config(sim), store)
    assert result.records == 42
    assert_each_record_once(store, "azure_devops__work_items", [str(i) for i in sim.azure_devops.world.items])
    # 10 new ids, then 9 new ones past the boundary item each time (42 = 10 + 9 + 9 + 9 + 5)
    assert count(sim, "/wit/wiql", "POST") == 5


def test_a_429_with_retry_after_is_waited_out(sim, store):
    sleeps: list[float] = []
    sim.faults.add(r"/wit/wiql", "rate_limit", times=1, retry_after=4)
    sim.faults.add(r"/git/pullrequests", "rate_limit", times=1, retry_after=2)
    results = extract_all(config(sim), store, sleep=sleeps.append)
    assert sleeps == [4.0, 2.0]
    assert results[("azure_devops__work_items", "Data")].records == 42
    assert results[("azure_devops__work_items", "Data")].stats.retries == 1


def test_a_failing_project_costs_only_that_project(sim, store):
    with pytest.raises(NotFoundError) as raised:
        azure_devops.extract("pull_requests", config(sim, projects=("Ghost", "Data")), store)
    extraction = extraction_of(raised.value)
    assert [f.scope for f in extraction.failed] == ["Ghost"]
    assert "GET /azure_devops/acme/Ghost/_apis/git/pullrequests does not exist (404)" in extraction.failed[0].error
    assert {r.scope for r in extraction.results} == {"Data"}
    assert_each_record_once(store, "azure_devops__pull_requests",
                            [str(p["pullRequestId"]) for p in sim.azure_devops.world.pull_requests])


def test_a_bad_token_is_one_fatal_error_without_the_secret(sim, store):
    with pytest.raises(AuthError) as raised:
        azure_devops.extract("work_items", config(sim, token="wrong-secret-pat"), store)
    assert "wrong-secret-pat" not in str(raised.value)
    assert "401" in str(raised.value)
    findings = azure_devops.check(config(sim, projects=("Data", "Ghost")))
    assert [(f.level, f.subject) for f in findings] == [("ok", "ado: project Data"), ("fail", "ado: project Ghost")]


def test_a_server_keeps_its_collection_and_api_version(sim, store):
    source = config(sim, api_version="7.0")
    azure_devops.extract("pipelines", source, store)
    (builds,) = [r for r in sim.requests if r.path.endswith("/build/builds")][:1]
    assert builds.path == "/azure_devops/acme/Data/_apis/build/builds"
    assert "api-version=7.0" in builds.query and "queryOrder=finishTimeAscending" in builds.query
