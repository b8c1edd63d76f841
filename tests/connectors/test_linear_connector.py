"""The Linear connector against the source kit's loopback API (connectors/kit): GraphQL queries POSTed to /graphql,
answered with objects shaped as Linear's schema documents them (Issue, IssueHistory, WorkflowState, Cycle, Project,
Team; connections with `nodes` and `pageInfo { hasNextPage endCursor }`), paged by `first`/`after`.

The world: 5 issues of team ENG updated an hour apart from 2026-01-01T01:00Z (ENG-1 oldest); each has 2 history
entries except ENG-3, which has 53: 50 come with the issue, 3 by one `IssueHistory` query after the list. With
page_size 2 the issue list is 3 pages (2 + 2 + 1), newest first.
"""

from __future__ import annotations

import pytest

from connectors import linear
from connectors.core.errors import AuthError
from connectors.core.raw import RawStore
from connectors.kit import ApiServer, assert_cursor, assert_each_record_once, assert_rerun_idempotent, source_config
from simulator.linear_api import GraphQLError, answer

KEY = "lin_api_good"
CURSOR = dict(source_instance="lin", stream="issues", scope="all")
TEAM = {"id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "key": "ENG", "name": "Engineering",
        "createdAt": "2025-06-01T09:00:00.000Z", "updatedAt": "2025-06-01T09:00:00.000Z", "archivedAt": None}
STATES = [{"id": f"state-{kind}", "name": name, "type": kind, "position": float(i),
           "team": {"id": TEAM["id"], "key": "ENG"}, "archivedAt": None}
          for i, (name, kind) in enumerate((("Todo", "unstarted"), ("In Progress", "started"), ("Done", "completed")))]


def history_entry(issue: int, k: int, at: str, to_state: str) -> dict:
    return {"id": f"h-{issue}-{k:02d}", "createdAt": at, "fromStateId": "state-unstarted", "toStateId": to_state,
            "fromEstimate": None, "toEstimate": 3.0 if k == 0 else None, "fromCycleId": None, "toCycleId": None,
            "fromProjectId": None, "toProjectId": None, "fromParentId": None, "toParentId": None}


class World:
    """What `answer` reads: the team, its states, issues and their histories (nothing planned)."""

    def __init__(self):
        self.team, self.states, self.cycles, self.projects = TEAM, STATES, [], []
        self.issues, self.history = [], {}
        for n in range(1, 6):
            self.add(n, f"2026-01-01T{n:02d}:00:00.000Z", 53 if n == 3 else 2)

    def add(self, n: int, updated: str, entries: int) -> None:
        issue_id = f"issue-{n}"
        self.issues = [i for i in self.issues if i["id"] != issue_id] + [{
            "id": issue_id, "identifier": f"ENG-{n}", "title": f"Issue {n}",
            "url": f"https://linear.app/a/issue/ENG-{n}",
            "createdAt": "2025-12-30T10:00:00.000Z", "updatedAt": updated, "archivedAt": None,
            "startedAt": None, "completedAt": None, "canceledAt": None, "estimate": 3.0, "priority": 2.0,
            "state": {"id": "state-started", "name": "In Progress", "type": "started"},
            "team": {"id": TEAM["id"], "key": "ENG"}, "cycle": None, "project": None, "parent": None,
            "assignee": None, "labels": [{"id": "label-bug", "name": "Bug"}]}]
        self.history[issue_id] = [history_entry(n, k, "2025-12-31T10:00:00.000Z", "state-started")
                                  for k in range(entries)]


@pytest.fixture
def world():
    return World()


@pytest.fixture
def api(world):
    with ApiServer(auth={"Authorization": KEY}) as server:
        server.bodies = []
        server.limited = 0  # answer this many requests with Linear's rate-limit error first

        def graphql(query, match, base_url):
            server.bodies.append({"query": query.get("query"), "variables": query.get("variables") or {}})
            if server.limited:
                server.limited -= 1
                return 400, {"X-RateLimit-Requests-Remaining": "0"}, {
                    "errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}
            try:
                return 200, {}, {"data": answer(world, query.get("query"), query.get("variables") or {})}
            except GraphQLError as exc:
                return 400, {}, {"errors": [{"message": str(exc), "extensions": {"code": exc.code}}]}

        server.add_route("/graphql", graphql)
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "warehouse.duckdb") as raw_store:
        yield raw_store


def config(api, key=KEY, **options):
    return source_config({"type": "linear", "name": "lin", "base_url": api.url, "auth": {"api_key": "${LINEAR}"},
                          "options": {"page_size": 2, "backoff_seconds": 0, **options}}, env={"LINEAR": key})


def history_keys() -> list[str]:
    return [f"h-{n}-{k:02d}" for n in range(1, 6) for k in range(53 if n == 3 else 2)]


def test_every_issue_and_history_entry_arrives_once_and_the_cursor_is_the_newest(api, store):
    (result,) = linear.extract("issues", config(api, start_date="2026-01-01"), store)
    assert_each_record_once(store, "linear__issues", [f"issue-{n}" for n in range(1, 6)])
    assert_each_record_once(store, "linear__issue_history", history_keys())  # 2*4 + 53 = 61
    # 3 pages of issues, then the rest of ENG-3's history after the 50 its page carried
    assert [b["query"].split("(")[0] for b in api.bodies] == ["query Issues"] * 3 + ["query IssueHistory"]
    assert [b["variables"].get("after") is None for b in api.bodies[:3]] == [True, False, False]
    assert api.bodies[0]["variables"] == {"first": 2, "since": "2026-01-01T00:00:00Z"}
    assert api.bodies[3]["variables"]["id"] == "issue-3" and api.bodies[3]["variables"]["first"] == 250
    assert (result.records, result.child_records, result.stats.requests) == (5, {"issue_history": 61}, 4)
    assert_cursor(store, "linear__issues", **CURSOR, equals="2026-01-01T05:00:00.000000Z")  # ENG-5, the newest
    # the entries read with their issue name it as parent; the 3 read on name it in their payload
    rows = store.con.execute("SELECT count(parent_key), count(*) FILTER (WHERE payload ->> '$.issue.id' = 'issue-3') "
                             "FROM raw.linear__issue_history").fetchall()
    assert rows == [(58, 3)]


def test_a_rerun_changes_nothing_and_asks_from_the_cursor_minus_the_lookback(api, store, world):
    linear.extract("issues", config(api), store)
    api.bodies.clear()
    assert_rerun_idempotent(store, ["linear__issues", "linear__issue_history"],
                            lambda: linear.extract("issues", config(api), store))
    # the cursor (05:00) minus the 3 h lookback: ENG-2 to ENG-5 again (2 pages), then ENG-3's long history
    assert api.bodies[0]["variables"]["since"] == "2026-01-01T02:00:00Z"
    assert len(api.bodies) == 3
    world.add(1, "2026-01-02T08:00:00.000Z", 3)  # ENG-1 moves on: read again with its new entry
    (result,) = linear.extract("issues", config(api, lookback_hours=0), store)
    # from the cursor (05:00) itself: ENG-5 (2 entries) again and ENG-1 (3)
    assert result.records == 2 and result.child_records == {"issue_history": 5}
    assert_each_record_once(store, "linear__issue_history", [*history_keys(), "h-1-02"])
    assert_cursor(store, "linear__issues", **CURSOR, equals="2026-01-02T08:00:00.000000Z")


def test_linears_rate_limit_error_is_waited_out_and_retried(api, store):
    waits: list[float] = []
    api.limited = 2  # HTTP 400 with extensions.code RATELIMITED, as Linear answers
    (result,) = linear.extract("issues", config(api, max_backoff_seconds=4, backoff_seconds=1), store,
                               sleep=waits.append)
    assert len(waits) == 2 and result.stats.retry_reasons == {"graphql rate limit": 2}
    assert api.bodies[0] == api.bodies[1] == api.bodies[2]  # the same page asked again
    assert_each_record_once(store, "linear__issues", [f"issue-{n}" for n in range(1, 6)])


def test_a_429_with_retry_after_is_honoured(api, store):
    waits: list[float] = []
    api.faults.add(r"^/graphql", "rate_limit", times=1, retry_after=7)
    linear.extract("planning", config(api), store, sleep=waits.append)
    assert waits == [7.0]
    assert_each_record_once(store, "linear__workflow_states", ["state-unstarted", "state-started", "state-completed"])
    assert_each_record_once(store, "linear__teams", [TEAM["id"]])


def test_a_bad_key_is_one_fatal_error_without_the_secret(api, store):
    with pytest.raises(AuthError) as failure:
        linear.extract("issues", config(api, key="lin_api_wr0ng"), store)
    assert "source 'lin'" in str(failure.value) and "lin_api_wr0ng" not in str(failure.value)
    assert api.request_count("/graphql") == 1  # not retried


def test_teams_narrow_the_issue_query_and_the_doctor_names_an_unknown_team(api, store):
    linear.extract("issues", config(api, teams=["ENG"]), store)
    assert "team: {key: {in: $teams}}" in api.bodies[0]["query"]
    assert api.bodies[0]["variables"]["teams"] == ["ENG"]
    assert [(f.level, f.subject) for f in linear.check(config(api, teams=["ENG", "OPS"]))] == [
        ("ok", "lin: credentials"), ("ok", "lin: team ENG"), ("fail", "lin: team OPS")]
    assert [f.level for f in linear.check(config(api, key="nope"))] == ["fail"]
