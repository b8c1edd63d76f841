"""POST endpoints as data: a search whose query, lower bound and paging travel in a JSON body, read by the one
engine against a loopback server, and the client's POST path (retries, redirects, credentials' origin)."""

from datetime import UTC, datetime, timedelta

import pytest

from connectors.core.endpoint import Endpoint, iso_seconds
from connectors.core.engine import Engine, RunOptions
from connectors.core.errors import AuthError, ForeignHostError
from connectors.core.http import HttpClient, RequestStats, RetryPolicy
from connectors.core.paginators import OffsetPaginator, TokenPaginator
from connectors.core.raw import RawStore
from tests.support.json_api import Answer, JsonApi

TOKEN = "sekret-token-123"

# Jira Cloud's POST /rest/api/3/search/jql: the JQL (with the lower bound) and nextPageToken in the body.
SEARCH = Endpoint(
    stream="issues",
    path="rest/api/3/search/jql",
    method="POST",
    body={"fields": ["updated"]},
    params_in="body",
    records_path="issues",
    cursor_field="fields.updated",
    paginator=TokenPaginator(),
    since_params=lambda since: {"jql": f"updated >= '{since:%Y-%m-%d %H:%M}' ORDER BY updated ASC"},
    order="ascending",
)


def issue(i: int, updated: str) -> dict:
    return {"id": str(i), "fields": {"updated": updated}}


def client(api: JsonApi, sleeps: list[float] | None = None) -> HttpClient:
    return HttpClient(source="jira", base_url=api.url, auth_headers=lambda: {"Authorization": f"Bearer {TOKEN}"},
                      sleep=(sleeps if sleeps is not None else []).append, retry=RetryPolicy(max_retries=2))


def engine(api: JsonApi, tmp_path) -> tuple[Engine, RawStore]:
    store = RawStore(tmp_path / "w.duckdb")
    options = RunOptions(lookback=timedelta(hours=3), page_size=2, start_date=datetime(2026, 1, 1, tzinfo=UTC))
    return Engine(source_type="jira", source_instance="jira", client=client(api), store=store, options=options), store


def keys(store: RawStore, table: str) -> list[tuple[str, str]]:
    return store.con.execute(f"SELECT record_key, cursor_value FROM raw.{table} ORDER BY record_key").fetchall()


def test_a_post_search_reads_incrementally_with_its_bound_and_page_token_in_the_body(tmp_path):
    with JsonApi([
        Answer({"issues": [issue(1, "2026-01-05T09:00:00.000+0000"), issue(2, "2026-01-05T10:00:00.000+0000")],
                "nextPageToken": "t2"}),
        Answer({"issues": [issue(3, "2026-01-06T08:30:00.000+0100")], "isLast": True}),
        # the second run, from the cursor minus the 3 h lookback: issue 3 again, and a new one
        Answer({"issues": [issue(3, "2026-01-06T08:30:00.000+0100"), issue(4, "2026-01-06T09:00:00.000+0000")],
                "isLast": True}),
    ]) as api:
        eng, store = engine(api, tmp_path)
        first = eng.run(SEARCH, scope="P")
        second = eng.run(SEARCH, scope="P")

    assert [(r.method, r.path, r.query) for r in api.requests] == [("POST", "/rest/api/3/search/jql", {})] * 3
    assert [r.body for r in api.requests] == [
        {"fields": ["updated"], "maxResults": 2, "jql": "updated >= '2026-01-01 00:00' ORDER BY updated ASC"},
        {"fields": ["updated"], "maxResults": 2, "jql": "updated >= '2026-01-01 00:00' ORDER BY updated ASC",
         "nextPageToken": "t2"},
        # 08:30+01:00 is 07:30 UTC; minus 3 h
        {"fields": ["updated"], "maxResults": 2, "jql": "updated >= '2026-01-06 04:30' ORDER BY updated ASC"},
    ]
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" and r.headers["Content-Type"] == "application/json"
               for r in api.requests)
    assert (first.records, first.pages, first.stats.requests) == (3, 2, 2)
    assert (first.cursor_before, first.cursor_after) == (None, "2026-01-06T07:30:00.000000Z")
    assert (second.records, second.cursor_after) == (2, "2026-01-06T09:00:00.000000Z")
    assert keys(store, "jira__issues") == [
        ("1", "2026-01-05T09:00:00.000+0000"), ("2", "2026-01-05T10:00:00.000+0000"),
        ("3", "2026-01-06T08:30:00.000+0100"), ("4", "2026-01-06T09:00:00.000+0000"),
    ]


def test_a_post_search_failing_on_page_two_keeps_page_one_and_its_cursor(tmp_path):
    with JsonApi([
        Answer({"issues": [issue(1, "2026-01-05T09:00:00.000+0000"), issue(2, "2026-01-05T10:00:00.000+0000")],
                "nextPageToken": "t2"}),
        Answer({"errorMessages": ["token expired"]}, 401),
    ]) as api:
        eng, store = engine(api, tmp_path)
        with pytest.raises(AuthError) as failed:
            eng.run(SEARCH, scope="P")

    assert "jira: POST /rest/api/3/search/jql (issues) was refused (401 token expired)" in str(failed.value)
    assert TOKEN not in str(failed.value)
    assert store.get_cursor("jira", "issues", "P") == "2026-01-05T10:00:00.000000Z"
    assert [k for k, _ in keys(store, "jira__issues")] == ["1", "2"]


def test_an_offset_paged_post_search_reads_on_by_cursor_in_the_body(tmp_path):
    # Jira Data Center's POST /rest/api/2/search: startAt/maxResults in the body. Ascending and paged by
    # position, so the engine asks for the second page by cursor (Engine._rebase): from the last record's
    # time, one record more than a page, the boundary record read again and not passed on twice.
    endpoint = Endpoint(
        stream="issues", path="rest/api/2/search", method="POST", params_in="body", records_path="issues",
        cursor_field="fields.updated", paginator=OffsetPaginator(), order="ascending",
        since_params=lambda since: {"updatedFrom": iso_seconds(since)},
    )
    with JsonApi([
        Answer({"issues": [issue(1, "2026-01-05T09:00:00.000+0000"), issue(2, "2026-01-05T10:00:00.000+0000")],
                "total": 5}),
        Answer({"issues": [issue(2, "2026-01-05T10:00:00.000+0000"), issue(3, "2026-01-05T11:00:00.000+0000")],
                "total": 2}),
    ]) as api:
        eng, store = engine(api, tmp_path)
        result = eng.run(endpoint, scope="P")

    assert [r.body for r in api.requests] == [
        {"startAt": 0, "maxResults": 2, "updatedFrom": "2026-01-01T00:00:00Z"},
        {"startAt": 0, "maxResults": 3, "updatedFrom": "2026-01-05T10:00:00Z"},
    ]
    assert (result.records, result.pages, result.cursor_after) == (3, 2, "2026-01-05T11:00:00.000000Z")
    assert [k for k, _ in keys(store, "jira__issues")] == ["1", "2", "3"]


def test_a_post_with_params_in_the_query_is_retried_with_the_same_body(tmp_path):
    # Azure DevOps WIQL: api-version in the URL, the query in the body. A search changes nothing at the
    # source, so a 503 is retried like a GET's, after the server's Retry-After.
    sleeps: list[float] = []
    stats = RequestStats()
    with JsonApi([Answer({"message": "busy"}, 503, {"Retry-After": "2"}), Answer({"workItems": [{"id": 7}]})]) as api:
        body, _ = client(api, sleeps).post_json(
            "_apis/wit/wiql", {"query": "SELECT [System.Id] FROM workitems"}, {"api-version": "7.1"}, stats=stats)

    assert body == {"workItems": [{"id": 7}]}
    assert [(r.method, r.path, r.query, r.body) for r in api.requests] == [
        ("POST", "/_apis/wit/wiql", {"api-version": "7.1"}, {"query": "SELECT [System.Id] FROM workitems"})] * 2
    assert sleeps == [2.0] and (stats.requests, stats.retry_reasons) == (2, {"http 503": 1})


def test_a_redirected_post_is_sent_again_as_a_post_on_its_origin_and_never_to_another():
    with JsonApi([]) as elsewhere, JsonApi([]) as api:
        api.answers += [
            Answer(None, 308, {"Location": "/rest/api/3/search/jql"}),
            Answer({"issues": []}),
            Answer(None, 307, {"Location": f"{elsewhere.url}/rest/api/3/search/jql"}),
        ]
        http = client(api)
        assert http.post_json("rest/api/3/search", {"jql": "project = P"})[0] == {"issues": []}
        with pytest.raises(ForeignHostError) as refused:
            http.post_json("rest/api/3/search", {"jql": "project = P"}, label="issues")

    assert [(r.method, r.path, r.body) for r in api.requests] == [
        ("POST", "/rest/api/3/search", {"jql": "project = P"}),
        ("POST", "/rest/api/3/search/jql", {"jql": "project = P"}),
        ("POST", "/rest/api/3/search", {"jql": "project = P"}),
    ]
    assert elsewhere.requests == []  # the credentials stay with base_url's origin
    assert str(refused.value).startswith("jira: POST /rest/api/3/search (issues) was redirected (307) to ")


def test_where_an_endpoint_puts_its_params():
    get = Endpoint(stream="s", path="p")
    assert get.request_of({"page": 2}) == ({"page": 2}, None)  # a GET: the query, as always
    wiql = Endpoint(stream="s", path="p", method="POST", body={"query": "q"})
    assert wiql.request_of({"api-version": "7.1"}) == ({"api-version": "7.1"}, {"query": "q"})
    search = Endpoint(stream="s", path="p", method="POST", body={"fields": ["a"]}, params_in="body")
    assert search.request_of({"startAt": 50}) == ({}, {"fields": ["a"], "startAt": 50})
    graphql = Endpoint(stream="s", path="p", method="POST", body={"query": "q", "variables": {"team": "T"}},
                       params_in="body.variables")
    assert graphql.request_of({"first": 2}) == ({}, {"query": "q", "variables": {"team": "T", "first": 2}})
    assert graphql.body == {"query": "q", "variables": {"team": "T"}}  # the description is not changed


@pytest.mark.parametrize("fields, problem", [
    ({"body": {"q": 1}}, "needs method='POST'"),
    ({"params_in": "body"}, "needs method='POST'"),
    ({"method": "POST", "conditional": True}, "for GET only"),
    ({"method": "PUT"}, "GET or POST"),
    ({"method": "POST", "params_in": "json"}, "params_in is"),
])
def test_a_body_where_it_cannot_go_is_refused_when_the_endpoint_is_described(fields, problem):
    with pytest.raises(ValueError, match=problem):
        Endpoint(stream="s", path="p", **fields)
