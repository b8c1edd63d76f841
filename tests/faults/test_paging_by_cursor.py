"""The engine reads an ascending stream that pages by position (offset) by cursor instead: the requests it
makes, and the cases around them (the list shifting between pages, a page of equal cursors, a server that
ignores the bound). A small offset API over a list of records stands in for Jira Data Center's search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from connectors.core.endpoint import Endpoint, parse_timestamp
from connectors.core.engine import Engine, RunOptions
from connectors.core.http import HttpClient
from connectors.core.paginators import OffsetPaginator
from connectors.core.raw import RawStore
from tests.unit.fakes import make_response

STREAM = Endpoint(stream="items", path="search", records_path="items", cursor_field="updated",
                  paginator=OffsetPaginator(is_last_path=None), order="ascending",
                  since_params=lambda since: {"since": since.strftime("%Y-%m-%dT%H:%M:%SZ")})


class OffsetApi(requests.Session):
    """startAt/maxResults/total over ``records`` sorted by (updated, id), filtered by ``since`` unless told
    to ignore it; ``between`` runs before every request after the first (the list changing meanwhile)."""

    def __init__(self, records, *, between=None, honour_since=True):
        super().__init__()
        self.records, self.between, self.honour_since = records, between, honour_since
        self.calls: list[dict] = []

    def get(self, url, params=None, headers=None, timeout=None, **kw):
        params = dict(params or {})
        if self.calls and self.between:
            self.between(self.records, len(self.calls))
        self.calls.append(params)
        rows = sorted(self.records, key=lambda r: (r["updated"], r["id"]))
        if self.honour_since and "since" in params:
            rows = [r for r in rows if parse_timestamp(r["updated"]) >= parse_timestamp(params["since"])]
        start, size = int(params["startAt"]), int(params["maxResults"])
        return make_response(body={"items": [dict(r) for r in rows[start:start + size]], "total": len(rows)})


def at(day: int, hour: int = 9) -> str:
    return f"2026-01-{day:02d}T{hour:02d}:00:00Z"


def run(tmp_path, api: OffsetApi):
    client = HttpClient(source="src", base_url="https://x.test", session=api, sleep=lambda s: None)
    with RawStore(tmp_path / "w.duckdb") as store:
        engine = Engine(source_type="t", source_instance="src", client=client, store=store,
                        options=RunOptions(lookback=timedelta(0), page_size=2,
                                           start_date=datetime(2026, 1, 1, tzinfo=UTC)))
        result = engine.run(STREAM, scope="*")
        rows = dict(store.con.execute("SELECT record_key, payload->>'$.updated' FROM raw.t__items").fetchall())
        cursor = store.get_cursor("src", "items", "*")
    return result, rows, cursor


def test_each_next_page_is_asked_by_cursor_with_one_record_of_overlap(tmp_path):
    api = OffsetApi([{"id": str(i), "updated": at(i)} for i in range(1, 6)])
    result, rows, cursor = run(tmp_path, api)
    # 5 records, pages of 2: [1,2], then since 2 -> [2,3,4] (3 asked: 2 is the overlap), then since 4 ->
    # [4,5], total 2 -> done. Three requests, as by offset; record 2 and 4 read twice, passed on once.
    assert api.calls == [
        {"startAt": 0, "maxResults": 2, "since": "2026-01-01T00:00:00Z"},
        {"startAt": 0, "maxResults": 3, "since": at(2)},
        {"startAt": 0, "maxResults": 3, "since": at(4)},
    ]
    assert (result.records, result.pages) == (5, 3)
    assert sorted(rows) == ["1", "2", "3", "4", "5"] and cursor == "2026-01-05T09:00:00.000000Z"


def test_a_record_updated_between_pages_shifts_nothing_past_the_cursor(tmp_path):
    def touch_first(records, calls):
        if calls == 1:  # after page 1 ([1,2]) record 1 is updated: by offset, page 2 would be [4,5]
            records[0]["updated"] = at(20)

    api = OffsetApi([{"id": str(i), "updated": at(i)} for i in range(1, 6)], between=touch_first)
    _, rows, cursor = run(tmp_path, api)
    assert rows == {"1": at(20), "2": at(2), "3": at(3), "4": at(4), "5": at(5)}  # 3 not skipped
    assert cursor == "2026-01-20T09:00:00.000000Z"


def test_a_page_of_equal_cursors_pages_on_by_position(tmp_path):
    # Records 1-4 share one update time: the bound cannot move past them, so the offset goes on.
    api = OffsetApi([{"id": str(i), "updated": at(3)} for i in range(1, 5)] + [{"id": "5", "updated": at(7)}])
    _, rows, _ = run(tmp_path, api)
    assert api.calls == [
        {"startAt": 0, "maxResults": 2, "since": "2026-01-01T00:00:00Z"},  # [1,2]
        {"startAt": 0, "maxResults": 3, "since": at(3)},  # [1,2,3]: 1 and 2 again
        {"startAt": 3, "maxResults": 3, "since": at(3)},  # same bound: by position -> [4,5], 3 + 2 = total
    ]
    assert sorted(rows) == ["1", "2", "3", "4", "5"]


def test_a_server_that_ignores_the_bound_cannot_loop(tmp_path):
    api = OffsetApi([{"id": str(i), "updated": at(i)} for i in range(1, 6)], honour_since=False)
    _, rows, _ = run(tmp_path, api)
    assert sorted(rows) == ["1", "2", "3", "4", "5"]
    # [1,2]; since 2 -> [1,2,3]; since 3 -> [1,2,3] again, the bound cannot move forward: by position,
    # startAt 3 -> [4,5], 3 + 2 = total -> done
    assert [c["startAt"] for c in api.calls] == [0, 0, 0, 3]
