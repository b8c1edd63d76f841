"""The GitHub connector against the simulator: every stream whole, change sets from the compare API,
what a nightly run costs, rate limits (primary and secondary, several tokens) and the 1000-run cap."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import pytest
import requests

from connectors import github
from connectors.config import parse_config
from connectors.core.errors import AuthError, RateLimitExhaustedError
from connectors.core.http import HttpClient
from connectors.core.raw import RawStore
from connectors.core.source import engine_for
from simulator.model import Org
from simulator.scenarios import tiny_org
from simulator.server import SimulatorServer

REPO = "acme/checkout"
GROUPS = tuple(github.SOURCE.groups)


def source(url: str, *, token: str = "good", tokens: list[str] | None = None, repo: str = REPO, **options):
    auth = {"tokens": tokens} if tokens else {"token": token}
    entry = {"type": "github", "name": "g", "base_url": f"{url}/github", "scope": {"repos": [repo]}, "auth": auth,
             "options": {"backoff_seconds": 0, "start_date": "2026-01-01", **options}}
    return parse_config({"sources": [entry]}, env={}).sources[0]


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), github_tokens={"good"}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as s:
        yield s


def keys(store, table):
    return sorted(r[0] for r in store.con.execute(f"SELECT record_key FROM raw.github__{table}").fetchall())


def settled_count(sim, prefix: str, **kw) -> int:
    """The simulator logs a request after it has answered: give its thread a moment to catch up."""
    deadline = time.monotonic() + 2
    count = sim.request_count(prefix, **kw)
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if sim.request_count(prefix, **kw) == count:
            return count
        count = sim.request_count(prefix, **kw)
    return count


def load_all(config, store, **client_kw):
    return {group: github.extract(group, config, store, **client_kw) for group in GROUPS}


def test_every_stream_arrives_whole_over_link_pages(sim, store):
    load_all(source(sim.url, page_size=2), store)
    repo = sim.org.repos[REPO]
    assert keys(store, "repositories") == [str(repo.repo["id"])]
    assert keys(store, "pull_requests") == sorted(str(p["id"]) for p in repo.pulls.values())
    assert keys(store, "pull_request_reviews") == sorted(str(r["id"]) for rs in repo.reviews.values() for r in rs)
    pr_ids = {p["number"]: p["id"] for p in repo.pulls.values()}
    assert keys(store, "pull_request_commits") == sorted(
        f"{pr_ids[n]}:{c['sha']}" for n, cs in repo.pr_commits.items() for c in cs)
    assert keys(store, "commits") == sorted(f"{REPO}:{c['sha']}" for c in repo.commits)
    assert keys(store, "deployments") == ["101", "102", "103", "104", "105"]
    assert len(keys(store, "deployment_statuses")) == 10
    assert keys(store, "workflow_runs") == ["201", "202", "203"]
    assert keys(store, "workflow_jobs") == sorted(
        str(j["id"]) for r in repo.runs for j in sim.org.github_jobs(REPO, r))
    # Pages of 2 through Link: 3 PRs -> 2 pages (+ reviews and commits of each PR, 100 at a time); 6 commits -> 3,
    # and one more /commits?sha= for the history of the first production deployment (101: 2 commits, 1 page).
    assert settled_count(sim, f"/github/repos/{REPO}/pulls") == 2 + 3 + 3
    assert settled_count(sim, f"/github/repos/{REPO}/commits") == 3 + 1


def test_production_change_sets_come_from_the_compare_api(sim, store):
    load_all(source(sim.url), store)
    rows = store.con.execute(
        "SELECT parent_key, payload->>'$.commit.message' FROM raw.github__compare_commits ORDER BY parent_key, "
        "payload->>'$.commit.committer.date'").fetchall()
    # scenarios.tiny_org: production 101 (c1), 103 (c3), 104 (c4), 105 (c5); staging 102 is another environment.
    # 101 is production's first deployment: its change set is c1's history since start_date (2026-01-01).
    assert rows == [
        ("101", "Initial commit"), ("101", "Cart page skeleton"),
        ("103", "Tweak checkout copy"), ("103", "Switch payment provider"),
        ("104", "FLOW-1 add cart (#1)"),
        ("105", "FLOW-2 fix tax (#2)"),
    ]
    assert settled_count(sim, f"/github/repos/{REPO}/compare/") == 3
    settled_count(sim, "/github")
    histories = [dict(parse_qsl(r.query)) for r in sim.requests
                 if r.path == f"/github/repos/{REPO}/commits" and "sha=" in r.query]
    assert histories == [{"sha": sim.org.repos[REPO].commits[1]["sha"], "since": "2026-01-01T00:00:00Z", "per_page": "100"}]


def test_nightly_run_on_an_unchanged_repo_costs_one_free_request_per_stream(sim, store):
    config = source(sim.url)
    load_all(config, store)
    settled_count(sim, "/github")
    sim.reset_stats()
    load_all(config, store)
    # The first incremental run asks commits and runs from their new cursors (new URLs, no ETag yet);
    # everything else is already 304. The one run inside the runs' lookback is listed again as it is
    # stored (finished, same updated_at), so its jobs are not asked again (stored_runs).
    # Top-level lists: one per group, plus tags, which the releases group reads too.
    lists = len(GROUPS) + 1
    assert settled_count(sim, "/github") == lists
    assert settled_count(sim, "/github", status=304) == lists - 2
    assert sim.request_count(f"/github/repos/{REPO}/actions/runs/") == 0
    settled_count(sim, "/github")
    sim.reset_stats()
    before = sim.rate_limit_remaining("good")
    results = load_all(config, store)
    assert settled_count(sim, "/github") == lists == 8
    assert settled_count(sim, "/github", status=304) == lists
    assert sim.rate_limit_remaining("good") == before  # a 304 costs no quota
    metadata = [r.as_metadata() for rs in results.values() for r in rs]
    assert sum(m["not_modified"] for m in metadata) == 8 and sum(m["records"] for m in metadata) == 0


def test_a_reset_cursor_reads_everything_again_despite_the_etags(sim, store):
    config = source(sim.url)
    for _ in range(3):
        [steady] = github.extract("pull_requests", config, store)
    assert steady.stats.not_modified == 1 and steady.records == 0
    store.con.execute("DELETE FROM raw._state WHERE stream = 'pull_requests'")
    [reloaded] = github.extract("pull_requests", config, store)
    assert reloaded.records == 3 and reloaded.stats.not_modified == 0
    assert reloaded.child_records == {"pull_request_reviews": 2, "pull_request_commits": 4,
                                      "pull_request_timeline_events": 4}


def test_a_new_production_deployment_reads_only_what_changed(sim, store):
    config = source(sim.url)
    load_all(config, store)
    load_all(config, store)
    c6 = sim.org.github_add_commit(REPO, "Faster checkout", "2026-01-14T10:00Z", author="ada")
    sim.org.github_add_deployment(REPO, "Production", "2026-01-14T11:00Z", sha=c6["sha"], deployment_id=106)
    sim.org.github_add_deployment_status(REPO, 106, "success", "2026-01-14T11:05Z")
    settled_count(sim, "/github")
    sim.reset_stats()
    [deployments, compare] = github.extract("deployments", config, store)
    # One list page, statuses of the deployments inside the lookback (105 and 106), one comparison.
    assert settled_count(sim, "/github") == 1 + 2 + 1
    assert deployments.records == 6 and deployments.child_records == {"deployment_statuses": 3}
    assert compare.records == 1
    assert store.con.execute(
        "SELECT payload->>'$.sha' FROM raw.github__compare_commits WHERE parent_key = '106'").fetchall() == [(c6["sha"],)]


def test_an_environments_first_deployment_ships_its_shas_history_since_start_date(sim, store):
    config = source(sim.url, start_date="2026-01-06")
    c = [commit["sha"] for commit in sim.org.repos[REPO].commits]
    # tiny_org commits: c0 01-02, c1 01-05 14:00, c2 01-06 14:00, c3 01-07, c4 01-08, c5 01-12 (committer dates).
    # Production's first deployment, 101 (c1), has no history on or after 2026-01-06: read once, empty.
    github.extract("deployments", config, store)
    assert sorted(keys(store, "compare_commits")) == sorted(["103:" + c[2], "103:" + c[3], "104:" + c[4], "105:" + c[5]])
    # The first deployment to `live` (production too) ships c5's history since 2026-01-06: c5, c4, c3, c2.
    sim.org.github_add_deployment(REPO, "live", "2026-01-14T11:00Z", sha=c[5], deployment_id=106)
    settled_count(sim, "/github")
    sim.reset_stats()
    github.extract("deployments", config, store)
    rows = store.con.execute("SELECT record_key, parent_key, scope FROM raw.github__compare_commits "
                             "WHERE parent_key = '106'").fetchall()
    assert sorted(rows) == sorted((f"106:{sha}", "106", REPO) for sha in c[2:6])
    settled_count(sim, "/github")
    assert [dict(parse_qsl(r.query)) for r in sim.requests if r.path.endswith("/commits")] == [
        {"sha": c[5], "since": "2026-01-06T00:00:00Z", "per_page": "100"}]  # 101 is not asked again
    assert settled_count(sim, f"/github/repos/{REPO}/compare/") == 0


def test_a_change_set_commit_that_cannot_be_stored_is_refused_and_the_rest_lands(sim, store, monkeypatch):
    real = HttpClient.get_json

    def half_an_emoji(self, path, params=None, **kw):
        """Cuts an emoji in c2's message as GitHub sent it (the simulator cannot serve one)."""
        body, response = real(self, path, params, **kw)
        for commit in body.get("commits", []) if isinstance(body, dict) else []:
            if commit["commit"]["message"] == "Tweak checkout copy":
                commit["commit"]["message"] = "Tweak \ud800 copy"
        return body, response

    monkeypatch.setattr(HttpClient, "get_json", half_an_emoji)
    c = sim.org.repos[REPO].commits
    [_, compare] = github.extract("deployments", source(sim.url), store)
    # 103 compares c1...c3: c3 lands, c2 is refused; the change set is settled all the same.
    assert sorted(k for k in keys(store, "compare_commits") if k.startswith("103:")) == ["103:" + c[3]["sha"]]
    assert compare.records == 5 and compare.rejected == 1
    [rejected] = store.rejected_records("g", "compare_commits")
    assert rejected.record_key == "103:" + c[2]["sha"] and "deployment 103" in rejected.reason
    assert "commit.message" in rejected.reason and store.owed("g", "compare_commits") == []


def test_bad_token_is_one_clear_error_without_the_token(sim, store):
    with pytest.raises(AuthError) as err:
        github.extract("pull_requests", source(sim.url, token="ghp_revoked_secret"), store)
    assert "source 'g'" in str(err.value) and "Bad credentials" in str(err.value)
    assert "ghp_revoked_secret" not in str(err.value)
    assert settled_count(sim, "/github") == 1


@pytest.mark.parametrize(
    ("retry_after", "times", "status", "waits"),
    [(None, 1, 403, [60.0]), (None, 2, 403, [60.0, 120.0]), (7, 1, 429, [7.0])],
)
def test_secondary_limit_waits_as_told_or_a_growing_minute(sim, store, retry_after, times, status, waits):
    sim.faults.add(rf"/github/repos/{REPO}/pulls\?", "rate_limit", times=times, retry_after=retry_after, status=status)
    slept: list[float] = []
    [result] = github.extract("pull_requests", source(sim.url), store, sleep=slept.append)
    assert slept == waits
    assert result.stats.retry_reasons == {f"http {status} secondary rate limit": times}
    assert keys(store, "pull_requests") == sorted(str(p["id"]) for p in sim.org.repos[REPO].pulls.values())


def test_an_exhausted_token_hands_over_to_the_next(store):
    with SimulatorServer(tiny_org(), github_tokens={"a", "b"}, github_rate_limit=3) as sim:
        for _ in range(3):  # another client spends all of token a
            requests.get(f"{sim.github_url}/repos/{REPO}", headers={"Authorization": "Bearer a"}, timeout=5)
        slept: list[float] = []
        [result] = github.extract("commits", source(sim.url, tokens=["a", "b"]), store, sleep=slept.append)
        assert result.records == 6
        assert result.stats.retry_reasons == {"http 403 primary rate limit": 1}
        assert sim.rate_limit_remaining("b") == 2 and slept == [0.0]


def test_all_tokens_spent_stops_cleanly_with_state_saved(store):
    with SimulatorServer(tiny_org(), github_tokens={"a", "b"}, github_rate_limit=10) as sim:
        config = source(sim.url, tokens=["a", "b"], max_rate_limit_wait_seconds=60)
        with pytest.raises(RateLimitExhaustedError) as err:
            load_all(config, store)
        # Requests were spread over both tokens until both were spent (20 answered: repository 1, pull
        # requests 1 + 3 x reviews/commits/timeline, commits 1, deployments 1 + 5 statuses, the history of
        # the first production deployment and the first of 3 compares). The last answers on each token said
        # 0 remaining, so the second compare is not even sent: the deployments group stops instead of
        # waiting an hour.
        assert sim.rate_limit_remaining("a") == sim.rate_limit_remaining("b") == 0
        assert settled_count(sim, "/github", status=200) == 20 and settled_count(sim, "/github", status=403) == 0
    message = str(err.value)
    assert message.startswith("g: GET /github/repos/acme/checkout/compare/")
    assert ": the rate limit of every token (2)" in message
    assert "auth.tokens" in message and "max_rate_limit_wait_seconds" in message
    assert "Bearer" not in message and "'a'" not in message
    # What was read before is committed with its cursor: the next run resumes from it.
    assert keys(store, "deployments") == ["101", "102", "103", "104", "105"]
    assert store.get_cursor("g", "deployments", REPO) == "2026-01-13T15:00:00.000000Z"


def test_a_token_spent_until_a_near_reset_waits_for_it(store):
    # The group makes 10 requests (the list, then reviews, commits and timeline of 3 PRs): 7 fit the window.
    with SimulatorServer(tiny_org(), github_tokens={"good"}, github_rate_limit=7, github_rate_window=1) as sim:
        [result] = github.extract("pull_requests", source(sim.url), store)
        assert result.records == 3 and result.child_records == {
            "pull_request_reviews": 2, "pull_request_commits": 4, "pull_request_timeline_events": 4}
        assert result.stats.rate_limit_waits == 1 and result.stats.retries == 0
        assert 1.0 <= result.stats.waited_seconds <= 2.5
        assert settled_count(sim, "/github", status=403) == 0


def runs_org(n: int) -> Org:
    org = Org()
    org.github_add_repo("acme/busy")
    sha = org.github_add_commit("acme/busy", "Initial commit", "2026-03-01T00:00Z")["sha"]
    org.github_add_workflow("acme/busy", "CI", ".github/workflows/ci.yml")
    for i in range(n):  # one run a minute from 2026-03-01T00:00
        org.github_add_run("acme/busy", "CI", sha, 1_772_323_200_000 + i * 60_000)
    return org


def test_an_actions_window_over_1000_runs_is_split_until_every_run_is_read(store):
    with SimulatorServer(runs_org(2500), github_tokens={"good"}) as sim:
        config = source(sim.url, repo="acme/busy", start_date="2026-03-01")
        engine = engine_for(config, store, lambda: {}, tokens=github.token_pool(config))
        result = engine.run(github.WORKFLOW_RUNS, scope="acme/busy", path_vars={"repo": "acme/busy"})
        assert result.records == 2500
        assert len(keys(store, "workflow_runs")) == 2500
        pages = [int(dict(p.split("=", 1) for p in r.query.split("&")).get("page", 1)) for r in sim.requests]
        assert max(pages) <= 10  # never past the 1000th result of a window


def test_force_pushed_pr_branch_replaces_that_prs_commits_only(sim, store):
    config = source(sim.url)
    github.extract("pull_requests", config, store)
    github.extract("pull_requests", config, store)
    repo = sim.org.repos[REPO]
    ids = {p["number"]: str(p["id"]) for p in repo.pulls.values()}
    before = dict(store.con.execute(
        "SELECT parent_key, count(*) FROM raw.github__pull_request_commits GROUP BY 1").fetchall())
    assert before[ids[3]] == len(repo.pr_commits[3]) >= 1
    pushed = sim.org.github_force_push_pull(REPO, 3, [("FLOW-4 wip, squashed", "2026-01-15T08:00Z")],
                                            "2026-01-15T09:00Z")
    [result] = github.extract("pull_requests", config, store)
    # Children are asked for PRs updated since cursor - lookback: #3 (pushed) and #2 (3 h before the cursor),
    # whose unchanged commits page answers 304 and so keeps its stored commits.
    assert result.child_records["pull_request_commits"] == 1
    # the list, then reviews and timeline (unchanged: 304) and commits (200) of #3, all three of #2 (304)
    assert (result.stats.requests, result.stats.not_modified) == (7, 5)
    after = dict(store.con.execute(
        "SELECT parent_key, list(payload->>'$.sha') FROM raw.github__pull_request_commits GROUP BY 1").fetchall())
    assert after[ids[3]] == [pushed["head"]["sha"]]
    assert {k: len(v) for k, v in after.items() if k != ids[3]} == {k: n for k, n in before.items() if k != ids[3]}


def test_org_scope_picks_repos_by_glob_and_a_deleted_repo_just_drops_out(store):
    org = tiny_org()
    org.github_add_repo("acme/payments")
    org.github_add_repo("acme/sandbox-demo")
    org.github_add_repo("acme/legacy", archived=True)
    with SimulatorServer(org, github_tokens={"good"}) as sim:
        config = parse_config({"sources": [{
            "type": "github", "name": "g", "base_url": f"{sim.url}/github", "auth": {"token": "good"},
            "scope": {"org": "acme", "exclude": ["sandbox-*"]}, "options": {"backoff_seconds": 0},
        }]}, env={}).sources[0]
        [repos] = github.extract("repositories", config, store)
        assert repos.records == 2 and repos.scope == "acme"
        assert sorted(r[0] for r in store.con.execute("SELECT scope FROM raw.github__repositories").fetchall()) == [
            "acme/checkout", "acme/payments"]
        first = github.extract("pull_requests", config, store)
        assert [r.scope for r in first] == ["acme/checkout", "acme/payments"]
        del sim.org.repos["acme/payments"]  # deleted on GitHub between two runs
        second = github.extract("pull_requests", config, store)
        assert [r.scope for r in second] == ["acme/checkout"]
    # what was read of the deleted repository stays in the warehouse
    assert len(keys(store, "repositories")) == 2


def test_a_run_that_died_after_page_one_reads_page_two_next_time(sim, store):
    config = source(sim.url, page_size=2)
    github.extract("pull_requests", config, store)
    cursor = store.get_cursor("g", "pull_requests", REPO)
    for hour in (10, 11, 12):  # three new PRs: newest first they fill page one and half of page two
        sim.org.github_add_pull(REPO, f"new at {hour}", f"2026-01-20T{hour}:00Z")
    # Page two fails for good: page one is committed, the cursor (moved only at the end) is not.
    sim.faults.add(rf"/github/repos/{REPO}/pulls\?.*[?&]page=2", "server_error", times=None, status=500)
    failing = config.model_copy(update={"options": config.options.model_copy(update={"max_retries": 0})})
    with pytest.raises(Exception, match="still failing"):
        github.extract("pull_requests", failing, store)
    assert len(keys(store, "pull_requests")) == 3 + 2 and store.get_cursor("g", "pull_requests", REPO) == cursor
    sim.faults.clear()
    # Page one is unchanged, but its ETag was not kept: it is read again, and so is page two.
    github.extract("pull_requests", config, store)
    assert keys(store, "pull_requests") == sorted(str(p["id"]) for p in sim.org.repos[REPO].pulls.values())


def test_tags_are_keyed_by_repo_and_name_and_a_moved_tag_is_updated(sim, store):
    repo = sim.org.repos[REPO]
    first, third = repo.commits[0]["sha"], repo.commits[2]["sha"]
    repo.tags.update({"v1.0.0": first, "v1.1.0": third, "v1.1.0-rc.1": third})
    config = source(sim.url, page_size=2)
    github.extract("releases", config, store)
    rows = store.con.execute(
        "SELECT record_key, scope, payload->>'$.commit.sha' FROM raw.github__tags ORDER BY record_key").fetchall()
    assert rows == [
        (f"{REPO}:v1.0.0", REPO, first),
        (f"{REPO}:v1.1.0", REPO, third),
        (f"{REPO}:v1.1.0-rc.1", REPO, third),
    ]
    # Three tags in pages of 2, served name-descending: page 1 = v1.1.0-rc.1, v1.1.0; page 2 = v1.0.0.
    assert settled_count(sim, f"/github/repos/{REPO}/tags") == 2

    # No cursor on tags: the next run reads the list again, so a force-moved tag takes its new commit.
    repo.tags["v1.0.0"] = third
    github.extract("releases", config, store)
    moved = store.con.execute(
        f"SELECT payload->>'$.commit.sha' FROM raw.github__tags WHERE record_key = '{REPO}:v1.0.0'").fetchall()
    assert moved == [(third,)]
    assert store.con.execute("SELECT count(*) FROM raw.github__tags").fetchone() == (3,)


def test_pr_timelines_hold_each_review_request_and_review_keyed_by_pr(sim, store):
    repo = sim.org.repos[REPO]
    # PR #3 (ada's draft, opened 01-08 13:00) still waits for linus: requested, never reviewed.
    repo.pulls[3]["requested_reviewers"] = [sim.org.github_user("linus")]
    [result] = github.extract("pull_requests", source(sim.url), store)
    ids = {p["number"]: str(p["id"]) for p in repo.pulls.values()}
    rows = store.con.execute("""
        SELECT parent_key, payload->>'$.event', coalesce(payload->>'$.actor.login', payload->>'$.user.login'),
               coalesce(payload->>'$.created_at', payload->>'$.submitted_at'), payload->>'$.requested_reviewer.login',
               record_key = parent_key || ':' || (payload->>'$.id')
        FROM raw.github__pull_request_timeline_events ORDER BY 1, 4""").fetchall()
    # scenarios.tiny_org: #1 by ada opened 01-06 10:00, grace approved 01-08 10:00; #2 by grace opened
    # 01-10 11:00, ada approved 01-12 08:00. Reviewers are requested by the author when the PR opens.
    assert sorted(rows) == sorted([
        (ids[1], "review_requested", "ada", "2026-01-06T10:00:00Z", "grace", True),
        (ids[1], "reviewed", "grace", "2026-01-08T10:00:00Z", None, True),
        (ids[2], "review_requested", "grace", "2026-01-10T11:00:00Z", "ada", True),
        (ids[2], "reviewed", "ada", "2026-01-12T08:00:00Z", None, True),
        (ids[3], "review_requested", "ada", "2026-01-08T13:00:00Z", "linus", True),
    ])
    assert result.child_records["pull_request_timeline_events"] == 5
    assert settled_count(sim, f"/github/repos/{REPO}/issues/") == 3  # one timeline page per PR


def test_timeline_events_without_an_id_are_not_stored():
    # `committed` events repeat pull_request_commits and have no id to key a rerun on.
    page = [{"event": "committed", "sha": "abc"}, {"id": 7, "event": "commented"}, {"event": "cross-referenced"}]
    assert github.PULL_REQUEST_TIMELINE_EVENTS.records_of(page) == [{"id": 7, "event": "commented"}]


def test_a_pr_whose_user_head_or_base_is_null_lands_with_the_rest(sim, store):
    # A deleted account leaves `user` null; a deleted fork leaves `head` (and in recorded data `base`) null.
    # Nothing in the connector reads them: the PR, its reviews, commits and timeline land like any other.
    repo = sim.org.repos[REPO]
    repo.pulls[1].update(user=None, head=None)
    repo.pulls[2]["base"] = None
    sim.org.invalidate()
    [result] = github.extract("pull_requests", source(sim.url), store)
    assert result.records == 3 and result.child_records == {
        "pull_request_reviews": 2, "pull_request_commits": 4, "pull_request_timeline_events": 4}
    assert store.con.execute("SELECT count(*) FROM raw.github__pull_requests WHERE json_type(payload, '$.user') = "
                             "'NULL' OR json_type(payload, '$.base') = 'NULL'").fetchone() == (2,)


def test_a_list_element_that_is_not_an_object_reaches_the_engine_rather_than_failing_a_filter():
    # The engine refuses such a record with its reason; a `keep` must not raise on it first.
    assert github.PULL_REQUEST_TIMELINE_EVENTS.records_of([None, {"id": 7}]) == [None, {"id": 7}]
    assert github.ISSUES.records_of([None, {"id": 1, "pull_request": {}}, {"id": 2}]) == [None, {"id": 2}]


def two_repo_org() -> Org:
    org = Org()
    for name in ("acme/api", "acme/web"):
        org.github_add_repo(name)
        org.github_add_commit(name, "Initial commit", "2026-01-05T09:00Z")
        org.github_add_pull(name, "Add health check", "2026-01-06T10:00Z", user="ada", number=1,
                            commits=[("Health check", "2026-01-06T09:30Z")])
        org.github_add_review(name, 1, "APPROVED", "2026-01-06T12:00Z", user="grace")
    return org


def test_repositories_are_read_in_parallel_and_load_exactly_what_a_sequential_run_does(tmp_path):
    tables = ("pull_requests", "pull_request_reviews", "pull_request_commits", "pull_request_timeline_events")
    loaded, slow, seconds = {}, {}, {}
    for workers in (1, 2):
        with SimulatorServer(two_repo_org(), github_tokens={"good"}) as sim:
            for name in ("api", "web"):  # each repo's PR list answers after a second
                sim.faults.add(rf"/repos/acme/{name}/pulls\?", "slow", times=1, seconds=1.0)
            config = parse_config({"sources": [{
                "type": "github", "name": "g", "base_url": f"{sim.url}/github", "auth": {"token": "good"},
                "scope": {"repos": ["acme/api", "acme/web"]},
                "options": {"backoff_seconds": 0, "start_date": "2026-01-01", "max_concurrent_repos": workers},
            }]}, env={}).sources[0]
            with RawStore(tmp_path / f"{workers}.duckdb") as store:
                started = time.monotonic()
                results = github.extract("pull_requests", config, store)
                seconds[workers] = time.monotonic() - started
                assert [r.scope for r in results] == ["acme/api", "acme/web"]  # repository order, either way
                loaded[workers] = {
                    t: store.con.execute(f"SELECT record_key, parent_key, scope, cursor_value, payload::VARCHAR "
                                         f"FROM raw.github__{t} ORDER BY ALL").fetchall()
                    for t in tables
                } | {"state": store.con.execute("SELECT stream, scope, cursor_value FROM raw._state ORDER BY ALL")
                     .fetchall()}
            settled_count(sim, "/github")
            slow[workers] = sorted((r.started, r.started + r.seconds) for r in sim.requests if r.fault == "slow")

    assert loaded[2] == loaded[1]
    # Each repo: its PR, review, commit and 2 timeline events (request, review); a cursor per repo.
    assert [len(loaded[1][t]) for t in tables] == [2, 2, 2, 4] and len(loaded[1]["state"]) == 2
    (first_start, first_end), (second_start, second_end) = slow[1]
    assert second_start >= first_end  # one worker: the second repo waits for the first
    (first_start, first_end), (second_start, second_end) = slow[2]
    assert second_start < first_end  # two workers: both slow lists were in flight at once
    assert seconds[2] < 0.8 * seconds[1]


def test_a_repo_renamed_between_runs_keeps_loading_under_its_configured_name(sim, store, caplog):
    tables = ("repositories", "pull_requests", "pull_request_reviews", "pull_request_commits", "commits",
              "deployments", "deployment_statuses", "workflow_runs", "workflow_jobs")  # tiny_org has no issues
    config = source(sim.url)
    load_all(config, store)
    before = {t: keys(store, t) for t in tables}
    sim.org.github_rename_repo(REPO, "acme/checkout-web")
    sha = sim.org.github_add_commit("acme/checkout-web", "After the rename", "2026-01-14T09:00Z")["sha"]
    settled_count(sim, "/github")
    sim.reset_stats()
    with caplog.at_level("WARNING", logger="connectors.github"):
        load_all(config, store)
    # Every request named the old repo and was redirected (requests follows the 301 for a GET).
    redirected = settled_count(sim, f"/github/repos/{REPO}", status=301)
    assert redirected > 0 and redirected == settled_count(sim, "/github/repos/acme/checkout-web")
    after = {t: keys(store, t) for t in tables}
    # Nothing doubled: the one new commit, keyed and scoped by the configured name, is the only new row.
    assert after == {**before, "commits": sorted([*before["commits"], f"{REPO}:{sha}"])}
    scopes = {t: store.con.execute(f"SELECT DISTINCT scope FROM raw.github__{t}").fetchall() for t in tables}
    assert {t: rows for t, rows in scopes.items() if rows != [(REPO,)]} == {}
    assert "'acme/checkout' is now 'acme/checkout-web'" in caplog.text and "scope.repos" in caplog.text


def test_jobs_are_asked_again_only_for_a_run_that_changed(sim, store):
    config = source(sim.url)
    org = sim.org
    sha = org.repos[REPO].commits[-1]["sha"]
    run = org.github_add_run(REPO, "CI", sha, "2026-01-20T10:00:00Z", status="in_progress")
    jobs_of = f"/github/repos/{REPO}/actions/runs/{run['id']}/jobs"
    github.extract("workflow_runs", config, store)
    assert settled_count(sim, jobs_of) == 1
    # Finished: its updated_at moves, so its jobs are read again.
    org.github_complete_run(REPO, run["id"], "success", "2026-01-20T10:05:00Z")
    github.extract("workflow_runs", config, store)
    assert settled_count(sim, jobs_of) == 2
    # Listed again unchanged (inside the lookback): not asked.
    github.extract("workflow_runs", config, store)
    assert settled_count(sim, jobs_of) == 2
    # A re-run attempt moves updated_at (the jobs list shows the new attempt): asked.
    run.update(run_attempt=2, updated_at="2026-01-20T11:00:00Z")
    org.github_add_jobs(REPO, run["id"], [{**job, "id": job["id"] + 1_000_000, "run_attempt": 2}
                                         for job in org.github_jobs(REPO, run["id"])])
    github.extract("workflow_runs", config, store)
    assert settled_count(sim, jobs_of) == 3
    assert store.con.execute("SELECT count(*) FROM raw.github__workflow_jobs WHERE payload->>'$.run_attempt' = '2'"
                             ).fetchall() == [(len(org.github_jobs(REPO, run["id"])),)]
