"""The GitHub connector against the simulator: every stream whole, change sets from the compare API,
what a nightly run costs, rate limits (primary and secondary, several tokens) and the 1000-run cap."""

from __future__ import annotations

import time

import pytest
import requests

from connectors import github
from connectors.config import parse_config
from connectors.core.errors import AuthError, RateLimitExhaustedError
from connectors.core.raw import RawStore
from connectors.core.source import engine_for
from connectors.simulator.model import Org
from connectors.simulator.scenarios import tiny_org
from connectors.simulator.server import SimulatorServer

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
    # Pages of 2 through Link: 3 PRs -> 2 pages (+ reviews and commits of each PR, 100 at a time); 6 commits -> 3.
    assert settled_count(sim, f"/github/repos/{REPO}/pulls") == 2 + 3 + 3
    assert settled_count(sim, f"/github/repos/{REPO}/commits") == 3


def test_production_change_sets_come_from_the_compare_api(sim, store):
    load_all(source(sim.url), store)
    rows = store.con.execute(
        "SELECT parent_key, payload->>'$.commit.message' FROM raw.github__compare_commits ORDER BY parent_key, "
        "payload->>'$.commit.committer.date'").fetchall()
    # scenarios.tiny_org: production 101 (c1), 103 (c3), 104 (c4), 105 (c5); staging 102 is another environment.
    assert rows == [
        ("103", "Tweak checkout copy"), ("103", "Switch payment provider"),
        ("104", "FLOW-1 add cart (#1)"),
        ("105", "FLOW-2 fix tax (#2)"),
    ]
    assert settled_count(sim, f"/github/repos/{REPO}/compare/") == 3


def test_nightly_run_on_an_unchanged_repo_costs_one_free_request_per_stream(sim, store):
    config = source(sim.url)
    load_all(config, store)
    settled_count(sim, "/github")
    sim.reset_stats()
    load_all(config, store)
    # The first incremental run asks commits and runs from their new cursors (new URLs, no ETag yet),
    # and reads the jobs of the one run inside the runs' lookback; everything else is already 304.
    assert settled_count(sim, "/github") == len(GROUPS) + 1
    assert settled_count(sim, "/github", status=304) == len(GROUPS) - 1
    settled_count(sim, "/github")
    sim.reset_stats()
    before = sim.rate_limit_remaining("good")
    results = load_all(config, store)
    assert settled_count(sim, "/github") == len(GROUPS) == 7
    assert settled_count(sim, "/github", status=304) == len(GROUPS)
    assert sim.rate_limit_remaining("good") == before  # a 304 costs no quota
    metadata = [r.as_metadata() for rs in results.values() for r in rs]
    assert sum(m["not_modified"] for m in metadata) == 7 and sum(m["records"] for m in metadata) == 0


def test_a_reset_cursor_reads_everything_again_despite_the_etags(sim, store):
    config = source(sim.url)
    for _ in range(3):
        [steady] = github.extract("pull_requests", config, store)
    assert steady.stats.not_modified == 1 and steady.records == 0
    store.con.execute("DELETE FROM raw._state WHERE stream = 'pull_requests'")
    [reloaded] = github.extract("pull_requests", config, store)
    assert reloaded.records == 3 and reloaded.stats.not_modified == 0
    assert reloaded.child_records == {"pull_request_reviews": 2, "pull_request_commits": 4}


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
        # Requests were spread over both tokens until both were spent (20 answered). Each extraction group
        # learns the quotas afresh: issues' first try on spent token a is refused and b takes over; the
        # workflow runs group finds both refused and stops instead of waiting an hour.
        assert sim.rate_limit_remaining("a") == sim.rate_limit_remaining("b") == 0
        assert settled_count(sim, "/github", status=200) == 20 and settled_count(sim, "/github", status=403) == 3
    message = str(err.value)
    assert message.startswith("g: GET /github/repos/acme/checkout/actions/runs: the rate limit of every token (2)") and "auth.tokens" in message and "max_rate_limit_wait_seconds" in message
    assert "Bearer" not in message and "'a'" not in message
    # What was read before is committed with its cursor: the next run resumes from it.
    assert keys(store, "deployments") == ["101", "102", "103", "104", "105"]
    assert store.get_cursor("g", "deployments", REPO) == "2026-01-13T15:00:00.000000Z"


def test_a_token_spent_until_a_near_reset_waits_for_it(store):
    with SimulatorServer(tiny_org(), github_tokens={"good"}, github_rate_limit=4, github_rate_window=1) as sim:
        [result] = github.extract("pull_requests", source(sim.url), store)
        assert result.records == 3 and result.child_records == {"pull_request_reviews": 2, "pull_request_commits": 4}
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
    # the list, then reviews (unchanged: 304) and commits (200) of #3, reviews and commits of #2 (304)
    assert (result.stats.requests, result.stats.not_modified) == (5, 3)
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
