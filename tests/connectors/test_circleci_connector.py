"""The CircleCI connector against the simulator: token pages, faults, one clear error for a bad token,
idempotent reruns, the newest-first stop at the cursor, unfinished workflows read again, and jobs
resumed after a run that died half way; the guarantees checked with the source kit's assertions
(connectors/kit), and the connector also read from the kit's loopback API in CircleCI's token pages.

scenarios.tiny_org gives project gh/acme/checkout 11 pipelines (6 CI + 5 deploy), one workflow each, and
26 jobs: 2 per CI workflow (12), build + approval + deploy for the 4 production deploys (12) and build +
deploy for the staging one (2).
"""

from __future__ import annotations

import json

import pytest

from connectors import circleci
from connectors.config import parse_config
from connectors.core.errors import AuthError, NotFoundError
from connectors.core.raw import RawStore
from connectors.kit import (
    ApiServer,
    TokenPages,
    assert_cursor,
    assert_each_record_once,
    assert_rerun_idempotent,
    source_config,
)
from simulator import SimulatorServer, tiny_org

SLUG = "gh/acme/checkout"


def source(url: str, *, token: str = "good", scope: dict | None = None, **options):
    entry = {"type": "circleci", "name": "cc", "base_url": f"{url}/circleci", "auth": {"token": token},
             "scope": scope or {"projects": [SLUG]}, "options": {"backoff_seconds": 0, **options}}
    return parse_config({"sources": [entry]}, env={}).sources[0]


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), mount_options={"circleci": {"tokens": {"good"}, "page_size": 4}}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as s:
        yield s


def count(store, stream):
    return store.con.execute(f"SELECT count(*) FROM raw.circleci__{stream}").fetchall()[0][0]


TABLES = ("circleci__pipelines", "circleci__workflows", "circleci__jobs")


def load(config, store, **kw):
    return circleci.extract("pipelines", config, store, **kw)


def test_everything_arrives_over_token_pages(sim, store):
    pipelines, rechecked, jobs = load(source(sim.url), store)
    assert (count(store, "pipelines"), count(store, "workflows"), count(store, "jobs")) == (11, 11, 26)
    # 11 pipelines in pages of 4 -> 3 pages; one workflow request per pipeline, one job request per workflow
    assert (pipelines.pages, pipelines.stats.requests, pipelines.child_records) == (3, 3 + 11, {"workflows": 11})
    assert (rechecked.records, jobs.records, jobs.stats.requests) == (0, 26, 11)
    assert sim.request_count("/circleci/api/v2/project/") == 3
    # jobs hang off their workflow, workflows off their pipeline, all under the project slug
    orphans = store.con.execute("""SELECT count(*) FROM raw.circleci__jobs j LEFT JOIN raw.circleci__workflows w
                                   ON w.record_key = j.parent_key WHERE w.record_key IS NULL""").fetchall()[0][0]
    assert orphans == 0
    assert store.con.execute("SELECT DISTINCT scope FROM raw.circleci__jobs").fetchall() == [(SLUG,)]
    api = sim.mounts["circleci"]
    assert_each_record_once(store, "circleci__pipelines", [p["id"] for p in api.projects[SLUG].pipelines])
    assert_each_record_once(store, "circleci__workflows", [w["id"] for ws in api.workflows.values() for w in ws])
    assert_each_record_once(store, "circleci__jobs", [j["id"] for js in api.jobs.values() for j in js])
    assert_cursor(store, "circleci__pipelines", source_instance="cc", stream="pipelines", scope=SLUG,
                  equals="2026-01-13T14:58:00.000000Z")  # the newest pipeline


def test_org_scope_lists_followed_projects_through_include_and_exclude(sim, store):
    load(source(sim.url, scope={"org": "gh/acme", "exclude": ["check*"]}), store)
    assert count(store, "pipelines") == 0
    load(source(sim.url, scope={"org": "gh/acme", "include": ["check*"]}), store)
    assert count(store, "pipelines") == 11


def test_rerun_is_idempotent_and_stops_at_the_cursor(sim, store):
    config = source(sim.url, lookback_hours=0)
    load(config, store)
    sim.reset_stats()
    pipelines, _, jobs = assert_rerun_idempotent(store, TABLES, lambda: load(config, store))
    # Newest first: the first page already reaches the cursor, so one page; only the newest pipeline is at
    # the cursor (not older than it), so its workflow is read again; that workflow ended and its 3 stored
    # jobs too, so they are not asked again.
    assert sim.request_count("/circleci/api/v2/project/") == 1
    assert (pipelines.child_records, jobs.records) == ({"workflows": 1}, 0)
    assert sim.request_count("/circleci/api/v2/workflow/") == 0


def test_a_rerun_in_a_pipeline_already_read_is_found_and_only_its_jobs_are_asked(sim, store):
    config = source(sim.url, lookback_hours=0)
    load(config, store)
    api = sim.mounts["circleci"]
    [(pipeline_id, payload)] = store.con.execute(
        "SELECT record_key, payload::VARCHAR FROM raw.circleci__pipelines ORDER BY payload->>'$.created_at' DESC "
        "LIMIT 1").fetchall()
    pipeline = json.loads(payload)
    [first] = api.workflows[pipeline_id]
    # A rerun is a new workflow of the same pipeline; the pipeline itself does not change.
    rerun = api.add_workflow(pipeline, "build-test", [
        ("build", "build", "2026-01-20T10:00:10Z", "2026-01-20T10:02:00Z", "success"),
        ("test", "build", "2026-01-20T10:02:10Z", "2026-01-20T10:05:00Z", "success"),
    ])
    sim.reset_stats()
    pipelines, _, jobs = load(config, store)
    assert pipelines.child_records == {"workflows": 2} and jobs.records == 2
    assert sim.request_count(f"/circleci/api/v2/workflow/{rerun['id']}/job") == 1
    assert sim.request_count(f"/circleci/api/v2/workflow/{first['id']}/job") == 0
    assert store.con.execute("SELECT count(*) FROM raw.circleci__jobs WHERE parent_key = ?",
                             [rerun["id"]]).fetchall() == [(2,)]


def test_new_pipelines_arrive_and_a_held_workflow_is_read_again_until_it_ends(sim, store):
    # tiny_org's history is from January 2026: a window of 1000 days still covers it.
    config = source(sim.url, lookback_hours=0, recheck_unfinished_days=1000)
    load(config, store)
    api = sim.mounts["circleci"]
    sha = "f" * 40
    held = api.add_pipeline(SLUG, "2026-01-14T10:00:00Z", sha, "main", "build-test-deploy", [
        ("build", "build", "2026-01-14T10:00:10Z", "2026-01-14T10:02:00Z", "success"),
        ("hold-deploy-production", "approval", "2026-01-14T10:02:00Z", None, "on_hold"),
        ("deploy-production", "build", None, None, "blocked"),
    ])
    load(config, store)
    (workflow_id,) = [w["id"] for w in api.workflows[held["id"]]]
    status = "SELECT payload->>'$.status' FROM raw.circleci__{} WHERE record_key = ?"
    assert store.con.execute(status.format("workflows"), [workflow_id]).fetchall() == [("on_hold",)]
    # Two newer pipelines push the held one below the cursor (this run still reads it: it is at the cursor).
    for day in ("15", "16"):
        api.add_pipeline(SLUG, f"2026-01-{day}T10:00:00Z", sha, "main", "build-test",
                         [("build", "build", f"2026-01-{day}T10:00:10Z", f"2026-01-{day}T10:02:00Z", "success")])
    load(config, store)
    assert store.get_cursor("cc", "pipelines", SLUG) == "2026-01-16T10:00:00.000000Z"
    # Approved and deployed: the list no longer reaches the held pipeline, the re-check does.
    api.finish_workflow(workflow_id, "success", "2026-01-16T12:00:00Z")
    # With the default window (14 days before now) the January pipeline is too old to be re-checked.
    _, rechecked, _ = load(source(sim.url, lookback_hours=0), store)
    assert rechecked.records == 0
    sim.reset_stats()
    _, rechecked, _ = load(config, store)
    assert rechecked.records == 1 and sim.request_count(f"/circleci/api/v2/pipeline/{held['id']}/workflow") == 1
    assert store.con.execute(status.format("workflows"), [workflow_id]).fetchall() == [("success",)]
    deploy = api.jobs[workflow_id][-1]["id"]
    assert store.con.execute(status.format("jobs"), [deploy]).fetchall() == [("success",)]
    assert count(store, "pipelines") == 14
    # Ended: no longer re-checked.
    _, rechecked, _ = load(config, store)
    assert rechecked.records == 0


def test_jobs_resume_after_a_run_that_died_half_way(sim, store):
    config = source(sim.url)
    sim.faults.add(r"/job", "server_error", times=None, status=500)
    with pytest.raises(Exception, match="still failing"):
        load(config, store, sleep=lambda s: None)
    assert (count(store, "workflows"), count(store, "jobs")) == (11, 0)
    assert_cursor(store, "circleci__jobs", source_instance="cc", stream="jobs", scope=SLUG, equals=None)
    assert_cursor(store, "circleci__pipelines", source_instance="cc", stream="pipelines", scope=SLUG)
    sim.faults.clear()
    load(config, store)
    assert count(store, "jobs") == 26


def test_rate_limits_and_server_errors_are_retried(sim, store):
    waits: list[float] = []
    sim.faults.add(r"/pipeline($|\?)", "rate_limit", times=1, retry_after=3)
    sim.faults.add(r"/workflow", "rate_limit", times=1, retry_after=None)
    sim.faults.add(r"/job", "server_error", times=2, status=503)
    sim.faults.add(r"/job", "server_error", times=1, status=500)
    pipelines, _, jobs = load(source(sim.url, backoff_seconds=0.5, max_backoff_seconds=1), store, sleep=waits.append)
    assert (count(store, "pipelines"), count(store, "workflows"), count(store, "jobs")) == (11, 11, 26)
    assert pipelines.stats.retry_reasons == {"http 429": 2}
    assert jobs.stats.retry_reasons == {"http 503": 2, "http 500": 1}
    # Retry-After (3 s) is honoured in full, past max_backoff_seconds=1, which caps only our own backoff (with
    # jitter) for the 429 without one and the 5xx.
    assert waits[0] == 3 and all(0 < w <= 1 for w in waits[1:])


def test_a_bad_token_is_one_clear_fatal_error_without_the_secret(sim, store):
    with pytest.raises(AuthError) as failure:
        load(source(sim.url, token="s3cret-token"), store)
    message = str(failure.value)
    assert "source 'cc'" in message and "401" in message and "You must log in first" in message
    assert "s3cret" not in message
    assert sim.request_count("/circleci/") == 1  # not retried


def test_an_unknown_project_names_the_source(sim, store):
    with pytest.raises(NotFoundError, match="source 'cc'"):
        load(source(sim.url, scope={"projects": ["gh/acme/nope"]}), store)


@pytest.mark.parametrize("entry, message", [
    ({"scope": {"projects": ["acme/checkout"]}}, "field 'scope.projects': 'acme/checkout' is not a project slug"),
    ({"scope": {}}, "field 'scope': list projects"),
    ({"scope": {"org": "acme"}}, "field 'scope.org': 'acme' is not an org slug"),
    ({"base_url": "https://circleci.com/api/v2"}, "field 'base_url': 'https://circleci.com/api/v2' ends with"),
])
def test_config_errors_name_the_source_and_the_field(entry, message):
    from connectors.core.errors import ConfigError

    base = {"type": "circleci", "name": "cc", "auth": {"token": "${CIRCLECI_TOKEN}"}, "scope": {"projects": [SLUG]}}
    with pytest.raises(ConfigError) as failure:
        parse_config({"sources": [{**base, **entry}]}, env={"CIRCLECI_TOKEN": "s3cret"})
    text = str(failure.value)
    assert "source 'cc'" in text and "s3cret" not in text
    assert message in text


def test_a_pipeline_still_setting_up_holds_the_cursor_until_its_workflows_exist(sim, store):
    config = source(sim.url, lookback_hours=0)
    api = sim.mounts["circleci"]
    pending = api.add_pipeline(SLUG, "2026-01-14T10:00:00Z", "e" * 40, "main", None, [], state="setup-pending")
    api.add_pipeline(SLUG, "2026-01-15T10:00:00Z", "e" * 40, "main", "build-test",
                     [("build", "build", "2026-01-15T10:00:10Z", "2026-01-15T10:02:00Z", "success")])
    load(config, store)
    # Held at the pending pipeline (plus the lookback, 0 here), not at the newest one.
    assert store.get_cursor("cc", "pipelines", SLUG) == "2026-01-14T10:00:00.000000Z"
    pending["state"] = "created"
    api.add_workflow(pending, "build-test-deploy",
                     [("deploy-production", "build", "2026-01-14T10:01:00Z", "2026-01-14T10:09:00Z", "success")])
    load(config, store)
    assert store.get_cursor("cc", "pipelines", SLUG) == "2026-01-15T10:00:00.000000Z"
    names = store.con.execute("SELECT j.payload->>'$.name' FROM raw.circleci__jobs j JOIN raw.circleci__workflows w "
                              "ON w.record_key = j.parent_key WHERE w.parent_key = ?", [pending["id"]]).fetchall()
    assert names == [("deploy-production",)]


def test_the_kit_api_in_circleci_token_pages(store):
    """The same connector against the source kit's ApiServer: 5 pipelines newest first in pages of 2 (3 pages),
    one workflow each, one job per workflow; every record once, the cursor at the newest, a rerun a no-op."""
    pages = TokenPages(records_key="items", token_param="page-token", token_key="next_page_token", size_param=None,
                       default_size=2)
    created = [f"2026-03-0{n}T10:00:00.000Z" for n in range(1, 6)]
    with ApiServer(auth={"Circle-Token": "good"}, unauthorized=(401, {}, {"message": "You must log in first."})) as api:
        api.add_list("/api/v2/project/gh/acme/shop/pipeline",
                     [{"id": f"p{n}", "created_at": at, "state": "created"} for n, at in enumerate(created)],
                     pages=pages, cursor_field="created_at", order="descending")
        for n in range(5):
            api.add_list(f"/api/v2/pipeline/p{n}/workflow", [{"id": f"w{n}", "status": "success"}], pages=pages)
            api.add_list(f"/api/v2/workflow/w{n}/job", [{"id": f"j{n}", "name": "build"}], pages=pages)
        config = source_config({"type": "circleci", "name": "cc", "base_url": api.url, "auth": {"token": "good"},
                                "scope": {"projects": ["gh/acme/shop"]}, "options": {"lookback_hours": 0}})
        pipelines, _, jobs = load(config, store)
        assert (pipelines.pages, jobs.records) == (3, 5)
        for table, prefix in zip(TABLES, "pwj", strict=True):
            assert_each_record_once(store, table, [f"{prefix}{n}" for n in range(5)])
        assert_cursor(store, "circleci__pipelines", source_instance="cc", stream="pipelines", scope="gh/acme/shop",
                      equals="2026-03-05T10:00:00.000000Z")
        assert_rerun_idempotent(store, TABLES, lambda: load(config, store))
