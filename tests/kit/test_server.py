"""The source kit's loopback API and assertions, driven by the real engine and paginators.

RECORDS: 10 incidents updated an hour apart from 2026-02-01T00:00Z (ids 0..9). Each envelope serves them in
pages of 4 -> 3 pages (4 + 4 + 2); each assertion is shown failing on the fault it exists to catch.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
import requests

from connectors.core.endpoint import Endpoint
from connectors.core.engine import Engine, RunOptions
from connectors.core.errors import AuthError, RetriesExhaustedError
from connectors.core.http import HttpClient, RetryPolicy
from connectors.core.paginators import LinkHeaderPaginator, OffsetPaginator, TokenPaginator
from connectors.core.raw import RawStore
from connectors.kit import (
    ApiServer,
    LinkPages,
    OffsetPages,
    OnePage,
    TokenPages,
    assert_cursor,
    assert_each_record_once,
    assert_rerun_idempotent,
)

RECORDS = [{"id": f"P{n}", "updated_at": f"2026-02-01T{n:02d}:00:00Z", "title": f"incident {n}"} for n in range(10)]
KEYS = [f"P{n}" for n in range(10)]
TABLE = "kit__incidents"


def endpoint(paginator, records_path, **kw) -> Endpoint:
    return Endpoint(stream="incidents", path="incidents", records_path=records_path, cursor_field="updated_at",
                    paginator=paginator, order="ascending", **kw)


def engine(url: str, store: RawStore, *, token: str = "good", lookback_hours: float = 3, **client_kw) -> Engine:
    client = HttpClient(source="kit-src", base_url=url, auth_headers=lambda: {"Authorization": f"Bearer {token}"},
                        retry=RetryPolicy(max_retries=2, backoff_seconds=0), **client_kw)
    return Engine(source_type="kit", source_instance="kit-src", client=client, store=store,
                  options=RunOptions(page_size=4, lookback=timedelta(hours=lookback_hours)))


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as raw_store:
        yield raw_store


@pytest.fixture
def api():
    with ApiServer(auth={"Authorization": "Bearer good"}) as server:
        yield server


PDUTY = OffsetPages(records_key="incidents")  # {incidents, offset, limit, total, more}
ENVELOPES = {
    # PagerDuty: offset/limit, total (asked with total=true) and a `more` flag
    "offset+total": (PDUTY, OffsetPaginator(offset_param="offset", limit_param="limit", total_path="total",
                                            is_last_path=None), "incidents"),
    # Opsgenie-like: offset/limit, no total; the list ends at an empty page
    "offset, no total": (OffsetPages(records_key="data", total_key=None, more_key=None, next_key="paging.next"),
                         OffsetPaginator(offset_param="offset", limit_param="limit", total_path=None,
                                         is_last_path=None), "data"),
    "page token": (TokenPages(records_key="items"), TokenPaginator(token_param="page_token",
                                                                   token_path="next_page_token", size_param="limit",
                                                                   is_last_path=None), "items"),
    "link header": (LinkPages(), LinkHeaderPaginator(), None),
}
# Requests of a first load by token or link: 3 pages of 4, 4, 2. Offset pages of an ascending stream are
# asked by cursor after the first (Engine._rebase), re-reading each page's last record: their count is the
# engine's business, what the kit checks is that every record is stored once.
REQUESTS = {"page token": 3, "link header": 3}


@pytest.mark.parametrize("kind", ENVELOPES)
def test_each_envelope_delivers_every_record_once_and_a_rerun_changes_nothing(kind, api, store):
    pages, paginator, records_path = ENVELOPES[kind]
    api.add_list("/incidents", RECORDS, pages=pages, cursor_field="updated_at", since_param="since")
    stream = endpoint(paginator, records_path, since_params=lambda since: {"since": since.isoformat()})
    first = engine(api.url, store).run(stream, scope="all")
    assert_each_record_once(store, TABLE, KEYS)
    assert set(api.served("/incidents")) == set(KEYS)
    if kind in REQUESTS:
        assert first.pages == first.stats.requests == REQUESTS[kind]  # no retries: one page per request
        assert api.served("/incidents") == {key: 1 for key in KEYS}
    assert_cursor(store, TABLE, source_instance="kit-src", stream="incidents", scope="all",
                  equals="2026-02-01T09:00:00.000000Z")
    api.reset_stats()
    assert_rerun_idempotent(store, [TABLE], lambda: engine(api.url, store).run(stream, scope="all"))
    assert set(api.served("/incidents")) == {"P6", "P7", "P8", "P9"}  # since 09:00 - 3 h = 06:00


def test_offset_pages_body_and_cap(api):
    api.add_list("/incidents", RECORDS, pages=dataclasses.replace(PDUTY, max_limit=3, next_key="paging.next"))
    body = requests.get(f"{api.url}/incidents?offset=6&limit=50", headers={"Authorization": "Bearer good"}).json()
    # the limit is cut to 3: P6, P7, P8; one record (P9) is left, so more is true and next starts at 9
    assert [r["id"] for r in body["incidents"]] == ["P6", "P7", "P8"]
    assert (body["offset"], body["limit"], body["total"], body["more"]) == (6, 3, 10, True)
    assert body["paging"]["next"] == f"{api.url}/incidents?offset=9&limit=50"


def test_since_until_window_and_descending_order(api):
    api.add_list("/incidents", RECORDS, pages=OnePage(records_key="incidents"), cursor_field="updated_at",
                 order="descending", since_param="since", until_param="until")
    body = requests.get(f"{api.url}/incidents", params={"since": "2026-02-01T02:00:00Z", "until": "2026-02-01T05:00:00Z"},
                        headers={"Authorization": "Bearer good"}).json()
    assert [r["id"] for r in body["incidents"]] == ["P4", "P3", "P2"]  # [02:00, 05:00), newest first


def test_a_child_list_per_parent_from_the_path(api, store):
    entries = {"P1": [{"id": "L1", "type": "trigger"}, {"id": "L2", "type": "resolve"}], "P2": [{"id": "L3"}]}
    api.add_list(r"/incidents/(?P<id>\w+)/log_entries", lambda match: entries.get(match["id"], []),
                 pages=OffsetPages(records_key="log_entries"))
    get = lambda incident: requests.get(f"{api.url}/incidents/{incident}/log_entries",  # noqa: E731
                                        headers={"Authorization": "Bearer good"}).json()
    assert [e["id"] for e in get("P1")["log_entries"]] == ["L1", "L2"]
    assert (get("P2")["total"], get("P3")["total"]) == (1, 0)


def test_a_forged_page_token_is_refused(api):
    api.add_list("/incidents", RECORDS, pages=TokenPages())
    answer = requests.get(f"{api.url}/incidents?page_token=bm9wZQ==", headers={"Authorization": "Bearer good"})
    assert answer.status_code == 400


def test_faults_come_before_credentials_and_are_retried(api, store):
    api.add_list("/incidents", RECORDS, pages=PDUTY, cursor_field="updated_at")
    stream = endpoint(ENVELOPES["offset+total"][1], "incidents")
    waits: list[float] = []
    api.faults.add(r"offset=4", "rate_limit", times=1, retry_after=7)
    api.faults.add(r"offset=8", "server_error", times=1, status=502)
    api.faults.add(r"offset=0", "malformed_json", times=1)
    api.faults.add(r"offset=0", "connection_reset", times=1)
    result = engine(api.url, store, sleep=waits.append).run(stream, scope="all")
    assert result.stats.retry_reasons == {"malformed json": 1, "connection error": 1, "http 429": 1, "http 502": 1}
    assert waits[2] == 7  # the rate limit's Retry-After; the others back off 0 s (backoff_seconds=0)
    assert_each_record_once(store, TABLE, KEYS)
    assert api.request_count("/incidents") == 3 + 4


def test_fault_answers_come_from_the_http_base_shared_with_the_simulator(api):
    """connectors/kit/http.py: the gateway page, half a compact JSON body, a slow fault held by an event."""
    api.add_list("/items", [{"id": "a"}], pages=OnePage())
    auth = {"Authorization": "Bearer good"}
    api.faults.add(r"/items", "server_error", times=1, status=503)
    api.faults.add(r"/items", "malformed_json", times=1)
    released = threading.Event()
    slow = api.faults.add(r"/items", "slow", times=1, until=released, seconds=10)
    gateway = requests.get(f"{api.url}/items", headers=auth, timeout=5)
    assert gateway.status_code == 503 and gateway.headers["Content-Type"] == "text/html"
    assert b"<h1>503 Service Temporarily Unavailable</h1>" in gateway.content
    cut = requests.get(f"{api.url}/items", headers=auth, timeout=5)
    assert (cut.status_code, cut.content) == (200, b'[{"id"')  # half of the 12 bytes of [{"id":"a"}]
    answers: list[requests.Response] = []
    held = threading.Thread(target=lambda: answers.append(requests.get(f"{api.url}/items", headers=auth, timeout=10)))
    held.start()
    for _ in range(500):  # at most 5 s for the request to reach the fault
        if slow.fired:
            break
        time.sleep(0.01)
    assert answers == [] and held.is_alive()  # held at the fault until the test lets it go
    released.set()
    held.join(timeout=5)
    assert answers[0].status_code == 200 and answers[0].json() == [{"id": "a"}]


def test_a_bad_token_is_refused_once(api, store):
    api.add_list("/incidents", RECORDS, pages=PDUTY)
    with pytest.raises(AuthError, match="kit-src"):
        engine(api.url, store, token="bad").run(endpoint(ENVELOPES["offset+total"][1], "incidents"), scope="all")
    assert api.request_count() == 1


@dataclass(frozen=True)
class Skipping(OffsetPaginator):
    """A buggy paginator: it advances one record further than it read, so each page skips one."""

    def next_request(self, params, body, response, records_on_page, page_size):
        return super().next_request(params, body, response, records_on_page + 1, page_size)


def test_assertions_catch_what_they_exist_for(api, store):
    """A skipped record, a cursor past committed data and a rerun that adds rows each fail their assertion."""
    api.add_list("/incidents", RECORDS, pages=PDUTY, cursor_field="updated_at")
    skipping = Skipping(offset_param="offset", limit_param="limit", total_path="total", is_last_path=None)
    engine(api.url, store).run(endpoint(skipping, "incidents"), scope="all")
    # offsets 0 (P0-P3) and 5 (P5-P8); 10 reaches the total: P4 and P9 never arrive
    with pytest.raises(AssertionError, match=r"2 missing \(first: \['P4', 'P9'\]\)"):
        assert_each_record_once(store, TABLE, KEYS)
    with pytest.raises(AssertionError, match=r"1 unexpected \(first: \['P8'\]\)"):
        assert_each_record_once(store, TABLE, ["P0", "P1", "P2", "P3", "P5", "P6", "P7"])
    store.con.execute("DELETE FROM raw.kit__incidents")
    engine(api.url, store).run(endpoint(ENVELOPES["offset+total"][1], "incidents"), scope="all")

    scope = dict(source_instance="kit-src", stream="incidents", scope="all")
    assert_cursor(store, TABLE, **scope, equals="2026-02-01T09:00:00.000000Z")
    store.con.execute("DELETE FROM raw.kit__incidents WHERE record_key IN ('P8', 'P9')")  # newest now P7
    with pytest.raises(AssertionError, match="past the newest committed record"):
        assert_cursor(store, TABLE, **scope)

    RECORDS_PLUS = [*RECORDS, {"id": "P10", "updated_at": "2026-02-01T10:00:00Z", "title": "incident 10"}]
    api.routes.clear()
    api.add_list("/incidents", RECORDS_PLUS, pages=PDUTY, cursor_field="updated_at")
    stream = endpoint(ENVELOPES["offset+total"][1], "incidents")
    with pytest.raises(AssertionError, match="changed on a rerun"):
        assert_rerun_idempotent(store, [TABLE], lambda: engine(api.url, store).run(stream, scope="all"))


def test_a_run_that_dies_keeps_the_cursor_with_its_data(api, store):
    api.add_list("/incidents", RECORDS, pages=PDUTY, cursor_field="updated_at")
    api.fault_after(2, r"^/incidents", "server_error", times=None)
    with pytest.raises(RetriesExhaustedError):
        engine(api.url, store).run(endpoint(ENVELOPES["offset+total"][1], "incidents"), scope="all")
    assert_each_record_once(store, TABLE, KEYS[:8])  # two pages committed
    assert_cursor(store, TABLE, source_instance="kit-src", stream="incidents", scope="all",
                  equals="2026-02-01T07:00:00.000000Z")  # P7, the newest committed
