"""The GitLab connector against the simulator: every stream whole over X-Next-Page and keyset pages,
rate limits (429 with and without Retry-After), 5xx, a bad token, reruns and incremental loads."""

from __future__ import annotations

import pytest

from connectors import gitlab
from connectors.config import parse_config
from connectors.core.errors import AuthError, ConfigError, NotFoundError
from connectors.core.raw import RawStore
from simulator.scenarios import tiny_org
from simulator.server import SimulatorServer
from simulator.timefmt import parse_ms

PROJECT = "acme/checkout-infra"
API = "/gitlab/api/v4/projects/acme%2Fcheckout-infra"
GROUPS = tuple(gitlab.SOURCE.groups)


def source(url: str, *, token: str = "good", scope: dict | None = None, auth: dict | None = None, **options):
    entry = {"type": "gitlab", "name": "gl", "base_url": f"{url}/gitlab", "auth": auth or {"token": token},
             "scope": scope or {"groups": ["acme"]},
             "options": {"backoff_seconds": 0, "start_date": "2026-01-01", **options}}
    return parse_config({"sources": [entry]}, env={}).sources[0]


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), mount_options={"gitlab": {"tokens": {"good"}}}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as s:
        yield s


def keys(store, stream):
    return sorted(r[0] for r in store.con.execute(f"SELECT record_key FROM raw.gitlab__{stream}").fetchall())


def load_all(config, store, **client_kw):
    return {group: gitlab.extract(group, config, store, **client_kw) for group in GROUPS}


def truth(sim):
    return sim.mounts["gitlab"].data.projects[PROJECT]


def test_every_stream_arrives_whole_over_offset_and_keyset_pages(sim, store):
    results = load_all(source(sim.url, page_size=2), store)
    p = truth(sim)
    assert keys(store, "projects") == [str(p.project["id"])]
    assert keys(store, "merge_requests") == sorted(str(m["id"]) for m in p.merge_requests.values())
    assert keys(store, "merge_request_commits") == sorted(
        f"{p.merge_requests[iid]['id']}:{c['id']}" for iid, cs in p.mr_commits.items() for c in cs)
    assert keys(store, "merge_request_notes") == sorted(str(n["id"]) for ns in p.mr_notes.values() for n in ns)
    assert keys(store, "pipelines") == sorted(str(x["id"]) for x in p.pipelines)
    assert keys(store, "jobs") == sorted(str(x["id"]) for x in p.jobs)
    assert keys(store, "environments") == sorted(str(e["id"]) for e in p.environments.values())
    assert keys(store, "deployments") == sorted(str(d["id"]) for d in p.deployments)
    assert keys(store, "issues") == [str(i["id"]) for i in p.issues if i["issue_type"] == "incident"]
    # Pages of 2: 3 MRs -> 2 pages; 6 pipelines -> 3; 24 jobs -> 12 keyset pages; 6 deployments -> 3.
    [mrs] = results["merge_requests"]
    # Notes: a system note per MR (3), a note per review (2, both approving) and their approval notes (2).
    assert (mrs.pages, mrs.records, mrs.child_records) == (2, 3, {"merge_request_commits": 4, "merge_request_notes": 7})
    assert [r.pages for r in results["pipelines"]] == [3]
    assert [r.pages for r in results["jobs"]] == [12]
    assert [(r.table, r.pages) for r in results["deployments"]] == [("gitlab__environments", 1), ("gitlab__deployments", 3)]
    # Scope and parent keys as the raw contract says.
    scopes = store.con.execute("SELECT DISTINCT scope FROM raw.gitlab__deployments").fetchall()
    assert scopes == [(PROJECT,)]
    orphans = store.con.execute("""SELECT count(*) FROM raw.gitlab__merge_request_notes n
        LEFT JOIN raw.gitlab__merge_requests m ON n.parent_key = m.record_key WHERE m.record_key IS NULL""").fetchone()
    assert orphans == (0,)


def test_explicit_projects_bearer_tokens_and_include_exclude(sim, store):
    config = source(sim.url, scope={"projects": [PROJECT]}, auth={"token": "good", "header": "bearer"})
    [result] = gitlab.extract("projects", config, store)
    assert (result.scope, result.records) == (PROJECT, 1)
    excluded = source(sim.url, scope={"groups": ["acme"], "exclude": ["checkout-*"]})
    assert gitlab.extract("deployments", excluded, store) == []
    by_full_path = source(sim.url, scope={"groups": ["acme"], "include": ["acme/checkout-*"]})
    assert [r.scope for r in gitlab.extract("pipelines", by_full_path, store)] == [PROJECT]


def test_429_with_and_without_retry_after_is_waited_out(sim, store):
    sim.faults.add(API + "/deployments", "rate_limit", times=1, retry_after=7)
    sim.faults.add(API + "/deployments", "rate_limit", times=1, retry_after=None)
    waits: list[float] = []
    [_, deployments] = gitlab.extract("deployments", source(sim.url, max_backoff_seconds=60), store, sleep=waits.append)
    assert keys(store, "deployments") == sorted(str(d["id"]) for d in truth(sim).deployments)
    assert deployments.stats.retries == 2 and deployments.stats.retry_reasons == {"http 429": 2}
    # The first wait is Retry-After; the second, with no Retry-After, runs to RateLimit-Reset (an epoch
    # second about 1 s ahead: between 0 and 2 s from the moment the client reads it).
    assert waits[0] == 7 and 0 <= waits[1] <= 2


def test_server_errors_and_resets_are_retried(sim, store):
    sim.faults.add(API + "/pipelines", "server_error", times=1)
    sim.faults.add(API + "/pipelines", "server_error", times=1, status=502)
    sim.faults.add(API + "/jobs", "connection_reset", times=1)
    sim.faults.add(API + "/jobs", "malformed_json", times=1)
    [pipelines] = gitlab.extract("pipelines", source(sim.url), store)
    [jobs] = gitlab.extract("jobs", source(sim.url), store)
    assert pipelines.stats.retry_reasons == {"http 500": 1, "http 502": 1}
    assert jobs.stats.retry_reasons == {"connection error": 1, "malformed json": 1}
    assert len(keys(store, "pipelines")) == 6 and len(keys(store, "jobs")) == 24


def test_a_bad_token_is_one_clear_fatal_error_without_the_token(sim, store):
    with pytest.raises(AuthError) as caught:
        gitlab.extract("deployments", source(sim.url, token="wrong-secret-123", scope={"projects": [PROJECT]}), store)
    message = str(caught.value)
    assert "401" in message and "'gl'" in message and "wrong-secret-123" not in message
    # Exactly one request: a refused token is not retried.
    assert sim.request_count("/gitlab/") == 1
    with pytest.raises(NotFoundError, match="404"):
        gitlab.extract("pipelines", source(sim.url, scope={"projects": ["acme/nope"]}), store)


def test_config_errors_name_the_source_and_the_field():
    with pytest.raises(ConfigError, match=r"source 'gl', field 'base_url'.*without /api/v4|ends with /api/v4"):
        parse_config({"sources": [{"type": "gitlab", "name": "gl", "base_url": "https://gitlab.com/api/v4",
                                   "auth": {"token": "t"}, "scope": {"groups": ["acme"]}}]}, env={})
    with pytest.raises(ConfigError, match=r"source 'gl', field 'scope'.*list projects"):
        parse_config({"sources": [{"type": "gitlab", "name": "gl", "auth": {"token": "t"}, "scope": {}}]}, env={})
    config = parse_config({"sources": [{"type": "gitlab", "name": "gl", "auth": {"token": "${GL}"},
                                        "scope": {"projects": ["a/b"]}}]}, env={"GL": "s3cret"})
    assert "s3cret" not in repr(config) and config.sources[0].base_url == "https://gitlab.com"


def test_rerun_is_idempotent_and_cheap(sim, store):
    config = source(sim.url, page_size=2)
    load_all(config, store)
    before = {s: keys(store, s) for s in gitlab.SOURCE.streams()}
    payloads = store.con.execute("SELECT payload FROM raw.gitlab__deployments ORDER BY record_key").fetchall()
    sim.reset_stats()
    load_all(config, store)
    assert {s: keys(store, s) for s in gitlab.SOURCE.streams()} == before
    assert store.con.execute("SELECT payload FROM raw.gitlab__deployments ORDER BY record_key").fetchall() == payloads
    # The cursor (minus 3 h lookback) leaves only the last updates to read again: the latest deployment
    # (01-13 16:10) is the one on the last page of 2.
    assert sim.request_count(API + "/deployments") == 1


def test_incremental_run_reads_new_and_finished_deployments(sim, store):
    config = source(sim.url)
    data = sim.mounts["gitlab"].data
    running = data.add_deployment(PROJECT, "production", "2026-01-20T10:00:00Z", status="running")
    gitlab.extract("deployments", config, store)
    state = store.get_cursor("gl", "deployments", PROJECT)
    assert state == "2026-01-20T10:00:00.000000Z"
    data.finish_deployment(PROJECT, running["iid"], "failed", "2026-01-20T10:12:00Z")
    new = data.add_deployment(PROJECT, "production", "2026-01-20T11:00:00Z", finished_at="2026-01-20T11:08:00Z")
    sim.reset_stats()
    [_, result] = gitlab.extract("deployments", config, store)
    # Asked from 07:00 (cursor minus 3 h): only the finished one and the new one are listed, in one request;
    # the new one succeeded in production, so its shipped merge requests are asked (one more request, under
    # the same path prefix); the failed one has none to ask for.
    assert result.records == 2 and sim.request_count(API + "/deployments") == 2
    assert sim.request_count(API + "/deployments/") == 1
    assert sim.request_count(f"{API}/deployments/{new['id']}/merge_requests") == 1
    status = dict(store.con.execute(
        "SELECT record_key, payload->>'$.status' FROM raw.gitlab__deployments").fetchall())
    assert status[str(running["id"])] == "failed" and status[str(new["id"])] == "success"
    assert store.get_cursor("gl", "deployments", PROJECT) == "2026-01-20T11:08:00.000000Z"


def test_jobs_stop_at_the_cursor_and_a_running_job_holds_it(sim, store):
    config = source(sim.url, page_size=5)
    data = sim.mounts["gitlab"].data
    data.add_deployment(PROJECT, "production", "2026-01-20T10:00:00Z", status="running")
    gitlab.extract("jobs", config, store)
    # The running job (created 01-20 10:00) holds the cursor at itself, not at the newest job.
    assert store.get_cursor("gl", "jobs", PROJECT) == "2026-01-20T10:00:00.000000Z"
    sim.reset_stats()
    gitlab.extract("jobs", config, store)
    # Newest first, 5 a page: the first page already reaches jobs older than the cursor minus 3 h.
    assert sim.request_count(API + "/jobs") == 1

def test_unchanged_merge_requests_keep_their_children_without_a_request(sim, store):
    config = source(sim.url)
    gitlab.extract("projects", config, store)
    gitlab.extract("merge_requests", config, store)
    notes = keys(store, "merge_request_notes")
    sim.reset_stats()
    gitlab.extract("merge_requests", config, store)
    # The lookback lists the latest merge requests again; their updated_at is unchanged, so no child list.
    assert sim.request_count(API + "/merge_requests/") == 0
    assert keys(store, "merge_request_notes") == notes
    # A new note moves the merge request's updated_at (as on GitLab): its notes and commits are read again.
    data = sim.mounts["gitlab"].data
    project = truth(sim)
    iid, mr = max(project.merge_requests.items(), key=lambda kv: kv[1]["updated_at"])
    at = parse_ms(mr["updated_at"].replace("Z", "+00:00")) + 60_000
    with sim.org.lock:
        note = data._note(mr, mr["author"], "late review", at, system=False)
        project.mr_notes[iid].append(note)
        mr["updated_at"] = note["created_at"]
    sim.reset_stats()
    gitlab.extract("merge_requests", config, store)
    assert sim.request_count(API + f"/merge_requests/{iid}/") == 2  # commits and notes of that one only
    assert sim.request_count(API + "/merge_requests/") == 2
    assert keys(store, "merge_request_notes") == sorted([*notes, str(note["id"])])


def test_successful_production_deployments_bring_the_merge_requests_they_shipped(sim, store):
    # tiny_org's acme/checkout-infra (module docstring of simulator/gitlab_api.py): deployments
    # iid 1 prod success, 2 staging success, 3 prod failed, 4 prod rollback to iid 1's sha, 5 and 6 prod
    # success. Only the successful production ones are asked for their merge requests: 1, 4, 5, 6.
    config = source(sim.url)
    gitlab.extract("deployments", config, store)
    project = truth(sim)
    by_iid = {d["iid"]: d for d in project.deployments}
    asked = sorted(d["iid"] for d in project.deployments
                   if sim.request_count(f"{API}/deployments/{d['id']}/merge_requests"))
    assert asked == [1, 4, 5, 6]
    rows = store.con.execute("""SELECT record_key, parent_key, scope, payload->>'$.iid' FROM raw.gitlab__deployment_merge_requests
        ORDER BY record_key""").fetchall()
    shipped = {(d["id"], mr["id"], mr["iid"]) for d in project.deployments
               for mr in sim.mounts["gitlab"].data.shipped_merge_requests(project, d)}
    assert sorted(rows) == sorted((f"{did}:{mid}", str(did), PROJECT, str(iid)) for did, mid, iid in shipped)
    # The rollback (iid 4) redeploys an older sha: GitLab links nothing to it.
    assert sim.mounts["gitlab"].data.shipped_merge_requests(project, by_iid[4]) == []
    # By hand: MR !1 merged 01-08 12:30, the time of the commit iid 5 deploys (01-08 12:30; the previous
    # success, iid 4, runs the 01-05 14:30 commit): shipped by iid 5. MR !2 merged 01-12 09:30 = the commit of
    # iid 6: shipped by iid 6. Iid 1 (the first, 01-05 14:30) precedes both merges; !3 is still open.
    assert {(by_iid_of(project, did), iid) for did, _, iid in shipped} == {(5, 1), (6, 2)}
    # A rerun lists the latest deployments again (lookback); unchanged, they are not asked again.
    sim.reset_stats()
    gitlab.extract("deployments", config, store)
    assert sim.request_count(API + "/deployments/") == 0


def by_iid_of(project, deployment_id: int) -> int:
    return next(d["iid"] for d in project.deployments if d["id"] == deployment_id)
