"""GraphQL endpoints as data (Linear's shape): the query and its variables in a POST body, pages by the
connection's pageInfo cursor, and the `errors` list of a 200 answer typed like an HTTP error."""

from datetime import UTC, datetime, timedelta

import pytest

from connectors.core.endpoint import Endpoint, iso_seconds
from connectors.core.engine import Engine, RunOptions
from connectors.core.errors import AuthError, BadRequestError
from connectors.core.http import HttpClient, RetryPolicy
from connectors.core.paginators import GraphQLCursorPaginator
from connectors.core.raw import RawStore
from tests.support.json_api import Answer, JsonApi

TOKEN = "lin_api_sekret"
QUERY = (
    "query Issues($team: String!, $first: Int, $after: String, $since: DateTime) { "
    "issues(filter: {team: {key: {eq: $team}}, updatedAt: {gte: $since}}, first: $first, after: $after, "
    "orderBy: updatedAt) { nodes { id updatedAt } pageInfo { hasNextPage endCursor } } }"
)
ISSUES = Endpoint(
    stream="issues",
    path="graphql",
    method="POST",
    graphql=True,
    body={"query": QUERY, "variables": {"team": "ENG"}},
    params_in="body.variables",
    records_path="data.issues.nodes",
    cursor_field="updatedAt",
    paginator=GraphQLCursorPaginator(),
    since_params=lambda since: {"since": iso_seconds(since)},
    order="ascending",
)


def page(nodes: list[tuple[str, str]], has_next: bool, end: str | None) -> dict:
    return {"data": {"issues": {"nodes": [{"id": i, "updatedAt": at} for i, at in nodes],
                                "pageInfo": {"hasNextPage": has_next, "endCursor": end}}}}


def engine(api: JsonApi, tmp_path, sleeps: list[float] | None = None) -> tuple[Engine, RawStore]:
    client = HttpClient(source="linear", base_url=api.url, auth_headers=lambda: {"Authorization": TOKEN},
                        sleep=(sleeps if sleeps is not None else []).append, retry=RetryPolicy(max_retries=2))
    store = RawStore(tmp_path / "w.duckdb")
    options = RunOptions(lookback=timedelta(hours=3), page_size=2, start_date=datetime(2026, 1, 1, tzinfo=UTC))
    return Engine(source_type="linear", source_instance="linear", client=client, store=store, options=options), store


def stored(store: RawStore) -> list[str]:
    return [k for (k,) in store.con.execute("SELECT record_key FROM raw.linear__issues ORDER BY record_key").fetchall()]


def test_a_graphql_connection_is_read_over_three_pages_by_its_end_cursor(tmp_path):
    with JsonApi([
        Answer(page([("a", "2026-01-02T08:00:00.000Z"), ("b", "2026-01-02T09:00:00.000Z")], True, "c2")),
        Answer(page([("c", "2026-01-02T10:00:00.000Z"), ("d", "2026-01-02T11:00:00.000Z")], True, "c4")),
        Answer(page([("e", "2026-01-03T07:15:00.000Z")], False, "c5")),
    ]) as api:
        eng, store = engine(api, tmp_path)
        result = eng.run(ISSUES, scope="ENG")

    assert ISSUES.paginator.page_info_path == "data.issues.pageInfo"  # beside records_path's nodes
    assert [(r.method, r.path) for r in api.requests] == [("POST", "/graphql")] * 3
    assert {r.body["query"] for r in api.requests} == {QUERY}
    assert [r.body["variables"] for r in api.requests] == [
        {"team": "ENG", "first": 2, "since": "2026-01-01T00:00:00Z"},
        {"team": "ENG", "first": 2, "since": "2026-01-01T00:00:00Z", "after": "c2"},
        {"team": "ENG", "first": 2, "since": "2026-01-01T00:00:00Z", "after": "c4"},
    ]
    assert (result.records, result.pages, result.stats.requests) == (5, 3, 3)
    assert result.cursor_after == "2026-01-03T07:15:00.000000Z"
    assert stored(store) == ["a", "b", "c", "d", "e"]


def test_graphql_errors_fail_the_stream_with_the_servers_message_after_the_pages_before_are_committed(tmp_path):
    with JsonApi([
        Answer(page([("a", "2026-01-02T08:00:00.000Z"), ("b", "2026-01-02T09:00:00.000Z")], True, "c2")),
        # GraphQL answers a query it cannot run with 200 and an `errors` list
        Answer({"data": None, "errors": [{"message": 'Cannot query field "estimat" on type "Issue".',
                                          "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}),
    ]) as api:
        eng, store = engine(api, tmp_path)
        with pytest.raises(BadRequestError) as failed:
            eng.run(ISSUES, scope="ENG")

    message = str(failed.value)
    assert message.startswith('linear: POST /graphql (issues) was answered with GraphQL errors '
                              '(GRAPHQL_VALIDATION_FAILED): Cannot query field "estimat" on type "Issue".')
    assert TOKEN not in message
    assert len(api.requests) == 2  # fatal: not retried
    assert failed.value.result.records == 2
    assert store.get_cursor("linear", "issues", "ENG") == "2026-01-02T09:00:00.000000Z"
    assert stored(store) == ["a", "b"]


@pytest.mark.parametrize("status", [200, 400])  # GitHub-like servers answer 200, Linear 400
def test_a_rate_limited_graphql_answer_is_retried_after_the_servers_wait(tmp_path, status):
    sleeps: list[float] = []
    limited = {"errors": [{"message": "Rate limit exceeded", "extensions": {"code": "RATELIMITED"}}]}
    with JsonApi([
        Answer(limited, status, {"Retry-After": "7"}),
        Answer(page([("a", "2026-01-02T08:00:00.000Z")], False, "c1")),
    ]) as api:
        eng, store = engine(api, tmp_path, sleeps)
        result = eng.run(ISSUES, scope="ENG")

    assert sleeps == [7.0]
    assert (result.stats.requests, result.stats.retry_reasons) == (2, {"graphql rate limit": 1})
    assert api.requests[0].body == api.requests[1].body
    assert (result.records, stored(store)) == (1, ["a"])


def test_an_unauthenticated_graphql_answer_is_an_auth_error_without_the_token(tmp_path):
    with JsonApi([Answer({"errors": [{"message": "Authentication required, not authenticated",
                                      "extensions": {"code": "UNAUTHENTICATED"}}]})]) as api:
        eng, _ = engine(api, tmp_path)
        with pytest.raises(AuthError) as failed:
            eng.run(ISSUES, scope="ENG")
    assert str(failed.value).startswith("linear: POST /graphql (issues) was refused (GraphQL (UNAUTHENTICATED): "
                                        "Authentication required, not authenticated)")
    assert TOKEN not in str(failed.value) and len(api.requests) == 1


def test_the_cursor_paginator_stops_at_the_last_page_an_empty_page_or_a_missing_cursor():
    paginator = GraphQLCursorPaginator(page_info_path="data.issues.pageInfo")
    params = {"first": 2, "after": "c2"}
    info = page([("x", "t")], True, "c4")
    assert paginator.first_params(50) == {"first": 50}
    assert paginator.next_request(params, info, None, 1, 2) == (None, {"first": 2, "after": "c4"})
    assert paginator.next_request(params, page([("x", "t")], False, "c4"), None, 1, 2) is None
    assert paginator.next_request(params, page([], True, "c4"), None, 0, 2) is None
    assert paginator.next_request(params, page([("x", "t")], True, None), None, 1, 2) is None
    with pytest.raises(ValueError, match="page_info_path"):
        GraphQLCursorPaginator().next_request(params, info, None, 1, 2)
    with pytest.raises(ValueError, match="page_info_path"):
        Endpoint(stream="s", path="graphql", method="POST", records_path="nodes", paginator=GraphQLCursorPaginator())
