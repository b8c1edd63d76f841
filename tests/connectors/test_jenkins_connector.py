"""The Jenkins connector against the simulator: folder walk, build ranges, stages, faults, one clear error
for a bad token, idempotent and incremental reruns by build number, running builds read again.

scenarios.tiny_org as Jenkins (simulator/jenkins_api.py): organization folder `acme`, multibranch
project `acme/checkout`, branch job `acme/checkout/main` with builds #1-#5 (one per GitHub deployment 101-105,
#3 failed), each a pipeline run with 4 stages (Checkout SCM, Build, Test, the deploy stage).
With page_size 2, the builds come in the ranges {0,2} (#5, #4), {2,4} (#3, #2) and {4,6} (#1, short: the last).
"""

from __future__ import annotations

import pytest

from connectors import jenkins
from connectors.config import parse_config
from connectors.core.errors import AuthError, NotFoundError, RetriesExhaustedError
from connectors.core.paginators import TreeRangePaginator
from connectors.core.raw import RawStore
from simulator import SimulatorServer, tiny_org

MAIN = "acme/checkout/main"
BUILDS = "/jenkins/job/acme/job/checkout/job/main/api/json"


def source(url: str, *, token: str = "s3cret", scope: dict | None = None, **options):
    entry = {"type": "jenkins", "name": "jk", "base_url": f"{url}/jenkins", "auth": {"user": "bot", "api_token": token},
             "scope": scope or {}, "options": {"backoff_seconds": 0, "page_size": 2, **options}}
    return parse_config({"sources": [entry]}, env={}).sources[0]


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), mount_options={"jenkins": {"users": {"bot": "s3cret"}}}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as s:
        yield s


def load(config, store, **kw):
    return jenkins.extract("builds", config, store, **kw)


def rows(store, stream, columns="record_key"):
    return store.con.execute(f"SELECT {columns} FROM raw.jenkins__{stream} ORDER BY record_key").fetchall()


def snapshot(store):
    return {s: rows(store, s, "record_key, parent_key, scope, cursor_value, payload::VARCHAR")
            for s in ("jobs", "builds", "stages")}


def test_folders_builds_in_ranges_and_stages(sim, store):
    jobs, builds = load(source(sim.url), store)
    assert rows(store, "jobs", "record_key, parent_key") == [
        ("acme", None), ("acme/checkout", "acme"), (MAIN, "acme/checkout")]
    assert [k for (k,) in rows(store, "builds")] == [f"{MAIN}#{n}" for n in range(1, 6)]
    # root, acme, acme/checkout: one listing each
    assert (jobs.records, jobs.stats.requests) == (3, 3)
    # 3 ranges of builds, then one wfapi/describe per build; 4 stages per build
    assert (builds.records, builds.pages, builds.stats.requests, builds.child_records) == (5, 3, 3 + 5, {"stages": 20})
    assert [q.query.split("%7B")[-1] for q in sim.requests if q.path == BUILDS] == ["0%2C2%7D", "2%2C4%7D", "4%2C6%7D"]
    assert store.get_cursor("jk", "builds", MAIN) == "5"
    stage = store.con.execute(f"SELECT parent_key, scope, payload->>'$.name' FROM raw.jenkins__stages "
                              f"WHERE record_key = '{MAIN}#3:21'").fetchall()
    assert stage == [(f"{MAIN}#3", MAIN, "Deploy to production")]


def test_rerun_is_idempotent_and_an_unchanged_job_costs_no_build_request(sim, store):
    config = source(sim.url)
    load(config, store)
    before = snapshot(store)
    sim.reset_stats()
    _, builds = load(config, store)
    assert snapshot(store) == before
    assert (builds.records, builds.stats.requests) == (0, 0)
    assert sim.request_count("/jenkins") == 3  # the three folder listings only


def test_a_running_build_is_read_again_until_it_finishes(sim, store):
    config = source(sim.url)
    load(config, store)
    api = sim.mounts["jenkins"]
    api.add_build(MAIN, timestamp_ms=1_768_500_000_000, duration_ms=None, result=None, sha="f" * 40, branch="main",
                  stages=[("Deploy to production", "IN_PROGRESS", 1_768_500_060_000, 0)])
    sim.reset_stats()
    _, builds = load(config, store)
    # range {0,2} holds #6 (new) and #5 (the state): the end; plus #6's stages
    assert (builds.records, builds.stats.requests) == (1, 2)
    assert store.get_cursor("jk", "builds", MAIN) == "5"  # held below the running #6

    api.finish_build(MAIN, 6, "SUCCESS", 120_000)
    api.add_build(MAIN, timestamp_ms=1_768_600_000_000, duration_ms=60_000, result="FAILURE", sha="e" * 40,
                  branch="main", stages=[("Deploy to production", "FAILED", 1_768_600_000_000, 60_000)])
    sim.reset_stats()
    _, builds = load(config, store)
    # {0,2} = #7, #6 (both new, a full page), {2,4} = #5 (the state): 2 ranges + 2 describes
    assert (builds.records, builds.stats.requests) == (2, 4)
    assert store.get_cursor("jk", "builds", MAIN) == "7"
    stage = store.con.execute(f"SELECT payload->>'$.status' FROM raw.jenkins__stages WHERE parent_key = '{MAIN}#6'")
    assert stage.fetchall() == [("SUCCESS",)]
    result = store.con.execute(f"SELECT payload->>'$.result' FROM raw.jenkins__builds WHERE record_key = '{MAIN}#6'")
    assert result.fetchall() == [("SUCCESS",)]


def test_rate_limits_and_server_errors_are_retried(sim, store):
    waits: list[float] = []
    sim.faults.add(r"/jenkins/api/json", "rate_limit", times=1, retry_after=7)
    sim.faults.add(r"allBuilds", "rate_limit", times=1, retry_after=None)
    sim.faults.add(r"wfapi", "server_error", times=1, status=503)
    sim.faults.add(r"wfapi", "server_error", times=1, status=500)
    sim.faults.add(r"wfapi", "connection_reset", times=1)
    jobs, builds = load(source(sim.url), store, sleep=waits.append)
    # Retry-After 7 is honoured; no Retry-After means backoff (0 here); Jenkins' 503 page asks for 1 s
    assert waits == [7.0, 0.0, 1.0, 0.0, 0.0]
    assert (jobs.stats.retries, builds.stats.retries) == (1, 4)
    assert len(rows(store, "builds")) == 5 and len(rows(store, "stages")) == 20


def test_a_bad_token_fails_at_once_with_one_clear_error(sim, store):
    with pytest.raises(AuthError) as err:
        load(source(sim.url, token="wrong"), store)
    message = str(err.value)
    assert "jk" in message and "auth.api_token" in message and "401" in message
    assert "wrong" not in message
    assert sim.request_count("/jenkins") == 1


def test_a_run_that_dies_half_way_keeps_its_pages_and_the_next_run_completes(sim, store):
    sim.faults.add(r"allBuilds.*%7B2%2C4%7D", "server_error", times=None)
    with pytest.raises(RetriesExhaustedError):
        load(source(sim.url, max_retries=1), store)
    # the first range (#5, #4) and its stages were committed; the state did not move
    assert [k for (k,) in rows(store, "builds")] == [f"{MAIN}#4", f"{MAIN}#5"]
    assert store.get_cursor("jk", "builds", MAIN) is None
    sim.faults.clear()
    load(source(sim.url), store)
    assert len(rows(store, "builds")) == 5 and store.get_cursor("jk", "builds", MAIN) == "5"


def test_scope_folders_include_exclude_and_start_date(sim, store, tmp_path):
    jobs, builds = load(source(sim.url, scope={"folders": ["acme/checkout"]}, start_date="2026-01-08"), store)
    assert jobs.stats.requests == 1 and rows(store, "jobs") == [(MAIN,)]
    # #5 (01-13) and #4 (01-08 14:56) started after 2026-01-08; #3 (01-07) ends the first load
    assert [k for (k,) in rows(store, "builds")] == [f"{MAIN}#4", f"{MAIN}#5"]

    with RawStore(tmp_path / "other.duckdb") as other:
        results = load(source(sim.url, scope={"exclude": ["acme/checkout"]}), other)
        assert len(results) == 1 and rows(other, "jobs") == [("acme",)]  # excluded folder: not walked
        results = load(source(sim.url, scope={"include": ["*/release-*"]}), other)
        assert len(results) == 1  # main is listed but not read

    with pytest.raises(NotFoundError) as err:
        load(source(sim.url, scope={"folders": ["acme/nope"]}), store)
    assert "acme/nope" in str(err.value) and "scope.folders" in str(err.value)


def test_tree_range_paginator_and_next_state():
    pager = TreeRangePaginator("allBuilds[number]")
    first = pager.first_params(100)
    assert first == {"tree": "allBuilds[number]{0,100}"}
    assert pager.next_request(first, None, None, 100, 100) == (None, {"tree": "allBuilds[number]{100,200}"})
    assert pager.next_request(first, None, None, 99, 100) is None

    # the highest finished build; below the oldest running one; never lower than before
    assert jenkins.next_state(None, [(3, False), (2, False)]) == 3
    assert jenkins.next_state(None, [(3, False), (2, True), (1, False)]) == 1
    assert jenkins.next_state(5, [(7, False), (6, True)]) == 5
    assert jenkins.next_state(5, [(8, False), (7, True), (6, False)]) == 6
    assert jenkins.next_state(None, [(1, True)]) is None


def test_the_example_config_block_and_clear_config_errors():
    from pathlib import Path

    import yaml

    from connectors.core.errors import ConfigError

    example = yaml.safe_load((Path(__file__).resolve().parents[2] / "throughline.example.yml").read_text())
    (block,) = [s for s in example["sources"] if s["type"] == "jenkins"]
    config = parse_config({"sources": [block]}, env={"JENKINS_API_TOKEN": "s3cr3t-value"}).sources[0]
    assert (config.auth.user, config.options.page_size, config.options.deployments.job_pattern) == (
        "throughline", 100, "deploy|release|rollout|promote")
    assert "s3cr3t-value" not in repr(config)
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": [{**block, "scope": {"folders": ["job/acme/job/x"]}}]}, env={"JENKINS_API_TOKEN": "t"})
    assert "source 'acme-jenkins', field 'scope.folders'" in str(err.value) and "acme/payments-api" in str(err.value)


def test_a_branch_job_with_a_slash_and_freestyle_builds_without_stages(sim, store):
    api = sim.mounts["jenkins"]
    api.add_item("acme/checkout/feature%2Fcart", "org.jenkinsci.plugins.workflow.job.WorkflowJob")
    api.add_build("acme/checkout/feature%2Fcart", timestamp_ms=1_768_000_000_000, duration_ms=60_000,
                  result="SUCCESS", stages=[("Build", "SUCCESS", 1_768_000_000_000, 60_000)])
    api.add_item("ops", "com.cloudbees.hudson.plugins.folder.Folder")
    api.add_item("ops/deploy-db-prod", "hudson.model.FreeStyleProject")
    api.add_build("ops/deploy-db-prod", timestamp_ms=1_768_000_000_000, duration_ms=1_000, result="FAILURE")
    load(source(sim.url, read_stages=True), store)
    builds = dict(rows(store, "builds", "record_key, cursor_value"))
    assert builds["acme/checkout/feature%2Fcart#1"] == "1" and builds["ops/deploy-db-prod#1"] == "1"
    # the branch's URL segment is feature%252Fcart; the freestyle build has no wfapi/describe to ask
    assert sim.request_count("/jenkins/job/acme/job/checkout/job/feature%252Fcart/1/wfapi/describe") == 1
    assert sim.request_count("/jenkins/job/ops/job/deploy-db-prod/1/wfapi") == 0
    assert len(rows(store, "stages")) == 20 + 1

    with RawStore(store.path.parent / "no-stages.duckdb") as other:
        load(source(sim.url, read_stages=False), other)
        assert len(rows(other, "builds")) == 7 and len(rows(other, "stages")) == 0
