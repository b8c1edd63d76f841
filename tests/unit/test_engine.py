from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from connectors.core.endpoint import Child, Endpoint, parse_timestamp
from connectors.core.engine import Engine, RunOptions
from connectors.core.errors import AuthError
from connectors.core.http import HttpClient, RetryPolicy
from connectors.core.paginators import LinkHeaderPaginator, OffsetPaginator, TokenPaginator
from connectors.core.raw import RawStore

from .fakes import ScriptedSession, make_response

ISSUES = Endpoint(
    stream="issues",
    path="search",
    records_path="issues",
    cursor_field="fields.updated",
    paginator=TokenPaginator(),
    since_params=lambda since: {"since": since.isoformat()},
    order="ascending",
    transform=lambda r: {k: v for k, v in r.items() if k != "changelog"},
)


def issue(i: int, updated: str, histories=None, total=None):
    record = {"id": str(i), "key": f"P-{i}", "fields": {"updated": updated}}
    if histories is not None:
        record["changelog"] = {"histories": histories, "total": total if total is not None else len(histories)}
    return record


def engine(tmp_path, answers, lookback_hours=3):
    session = ScriptedSession(answers)
    client = HttpClient(source="src", base_url="https://x.test", session=session, sleep=lambda s: None,
                        retry=RetryPolicy(max_retries=1))
    store = RawStore(tmp_path / "w.duckdb")
    options = RunOptions(lookback=timedelta(hours=lookback_hours), page_size=2,
                         start_date=datetime(2026, 1, 1, tzinfo=UTC))
    return Engine(source_type="t", source_instance="src", client=client, store=store, options=options), session, store


def rows(store, table):
    return store.con.execute(f"SELECT record_key, parent_key, scope, cursor_value FROM raw.{table} ORDER BY record_key").fetchall()


def test_parse_timestamp_formats():
    expected = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert parse_timestamp("2026-01-05T09:00:00.000+0000") == expected
    assert parse_timestamp("2026-01-05T10:00:00.000+0100") == expected
    assert parse_timestamp("2026-01-05T09:00:00Z") == expected


def test_ascending_stream_commits_each_page_and_moves_cursor(tmp_path):
    eng, session, store = engine(tmp_path, [
        make_response(body={"issues": [issue(1, "2026-01-05T09:00:00.000+0000"), issue(2, "2026-01-05T10:00:00.000+0000")], "nextPageToken": "b"}),
        make_response(body={"issues": [issue(3, "2026-01-06T08:30:00.000+0100")], "isLast": True}),
    ])
    result = eng.run(ISSUES, scope="P")
    assert result.records == 3 and result.pages == 2 and result.stats.requests == 2
    assert session.calls[0][1] == {"maxResults": 2, "since": "2026-01-01T00:00:00+00:00"}  # first load: start_date
    assert session.calls[1][1] == {"maxResults": 2, "since": "2026-01-01T00:00:00+00:00", "nextPageToken": "b"}
    assert result.cursor_before is None
    assert result.cursor_after == "2026-01-06T07:30:00.000000Z"
    assert [r[0] for r in rows(store, "t__issues")] == ["1", "2", "3"]


def test_rerun_reads_from_cursor_minus_lookback_and_never_duplicates(tmp_path):
    page = {"issues": [issue(1, "2026-01-05T09:00:00.000+0000"), issue(2, "2026-01-05T10:00:00.000+0000")], "isLast": True}
    eng, session, store = engine(tmp_path, [make_response(body=page), make_response(body=page)])
    eng.run(ISSUES, scope="P")
    eng.run(ISSUES, scope="P")
    assert session.calls[1][1]["since"] == "2026-01-05T07:00:00+00:00"  # 10:00 - 3h lookback
    assert len(rows(store, "t__issues")) == 2


def test_failure_mid_stream_keeps_committed_pages_and_their_cursor(tmp_path):
    eng, _, store = engine(tmp_path, [
        make_response(body={"issues": [issue(1, "2026-01-05T09:00:00.000+0000"), issue(2, "2026-01-05T10:00:00.000+0000")], "nextPageToken": "b"}),
        make_response(401, {"errorMessages": ["expired"]}),
    ])
    with pytest.raises(AuthError):
        eng.run(ISSUES, scope="P")
    assert len(rows(store, "t__issues")) == 2
    assert store.get_cursor("src", "issues", "P") == "2026-01-05T10:00:00.000000Z"


def test_descending_stream_stops_at_cursor_and_moves_it_only_at_the_end(tmp_path):
    pulls = Endpoint(stream="pulls", path="pulls", cursor_field="updated_at", paginator=LinkHeaderPaginator(),
                     order="descending", stop_at_since=True)
    link = {"Link": '<https://x.test/pulls?page=2>; rel="next"'}
    eng, session, store = engine(tmp_path, [
        make_response(body=[{"id": 9, "updated_at": "2026-01-10T00:00:00Z"}, {"id": 8, "updated_at": "2026-01-09T00:00:00Z"}], headers=link),
        make_response(body=[{"id": 7, "updated_at": "2025-12-30T00:00:00Z"}, {"id": 6, "updated_at": "2025-12-29T00:00:00Z"}], headers=link),
    ])
    result = eng.run(pulls, scope="a/b")
    # page 2 reaches records older than start_date: no third request
    assert len(session.calls) == 2
    assert result.cursor_after == "2026-01-10T00:00:00.000000Z"
    assert [r[0] for r in rows(store, "t__pulls")] == ["6", "7", "8", "9"]


def test_incomplete_record_holds_the_cursor(tmp_path):
    runs = Endpoint(stream="runs", path="runs", records_path="runs", cursor_field="created_at",
                    order="descending", is_complete=lambda r: r["status"] == "completed")
    eng, _, store = engine(tmp_path, [make_response(body={"runs": [
        {"id": 3, "created_at": "2026-01-10T12:00:00Z", "status": "completed"},
        {"id": 2, "created_at": "2026-01-10T06:00:00Z", "status": "in_progress"},
        {"id": 1, "created_at": "2026-01-09T00:00:00Z", "status": "completed"},
    ]})])
    result = eng.run(runs, scope="a/b")
    # cursor - lookback (3h) must still reach the in-progress run created at 06:00
    assert result.cursor_after == "2026-01-10T09:00:00.000000Z"


def test_children_use_embedded_records_when_complete_and_page_the_rest(tmp_path):
    changelog = Endpoint(stream="changelogs", path="issue/{issue_id}/changelog", records_path="values",
                         paginator=OffsetPaginator())
    child = Child(changelog, path_vars=lambda i: {"issue_id": i["id"]},
                  embedded=lambda i: (i["changelog"]["histories"], i["changelog"]["total"] <= len(i["changelog"]["histories"])))
    h = lambda n: {"id": str(n), "created": "2026-01-05T09:00:00.000+0000", "items": []}  # noqa: E731
    eng, session, store = engine(tmp_path, [
        make_response(body={"issues": [
            issue(1, "2026-01-05T09:00:00.000+0000", [h(10)]),
            issue(2, "2026-01-05T10:00:00.000+0000", [h(20), h(21)], total=3),
        ], "isLast": True}),
        make_response(body={"startAt": 0, "maxResults": 2, "total": 3, "isLast": False, "values": [h(20), h(21)]}),
        make_response(body={"startAt": 2, "maxResults": 2, "total": 3, "isLast": True, "values": [h(22)]}),
    ])
    result = eng.run(ISSUES, scope="P", children=(child,))
    assert result.child_records == {"changelogs": 4}
    assert session.calls[1][0] == "https://x.test/issue/2/changelog"
    assert session.calls[1][1] == {"startAt": 0, "maxResults": 2}  # no max_page_size: the options page size
    assert session.calls[2][1] == {"startAt": 2, "maxResults": 2}
    assert [(r[0], r[1]) for r in rows(store, "t__changelogs")] == [("10", "1"), ("20", "2"), ("21", "2"), ("22", "2")]
    payload = store.con.execute("SELECT payload FROM raw.t__issues WHERE record_key = '2'").fetchall()[0][0]
    assert "changelog" not in payload


def test_second_writer_gets_a_clear_error(tmp_path):
    import subprocess
    import sys

    store = RawStore(tmp_path / "w.duckdb")
    code = (
        "from connectors.core.raw import RawStore\n"
        "from connectors.core.errors import WarehouseLockedError\n"
        f"try:\n    RawStore(r'{tmp_path / 'w.duckdb'}')\nexcept WarehouseLockedError as e:\n    print('LOCKED', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    store.close()
    assert out.stdout.startswith("LOCKED warehouse"), out.stderr
    assert "one writer" in out.stdout


def test_raw_store_takes_writes_and_reads_from_many_threads_one_at_a_time(tmp_path):
    import threading

    from connectors.core.raw import CursorUpdate, RawRecord

    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for page in range(20):
                records = [RawRecord(f"{n}-{page}-{i}", {"n": n, "page": page, "i": i}, None, f"scope{n}")
                           for i in range(5)]
                store.write([("t__x", "s", records)], CursorUpdate("s", "x", f"scope{n}", str(page)),
                            [("s", f"req{n}", f"etag{page}")])
                assert store.get_cursor("s", "x", f"scope{n}") == str(page)
                assert store.get_etag("s", f"req{n}") == f"etag{page}"
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread below
            errors.append(exc)

    with RawStore(tmp_path / "w.duckdb") as store:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        # 8 threads x 20 pages x 5 records, every one committed once, every cursor at its last page
        assert store.con.execute("SELECT count(*), count(DISTINCT record_key) FROM raw.t__x").fetchone() == (800, 800)
        assert store.con.execute("SELECT DISTINCT cursor_value FROM raw._state").fetchall() == [("19",)]


def test_a_page_whose_records_keep_filters_out_is_not_the_end_of_the_list(tmp_path):
    # Offset paging of 2 per page over 3 records; `keep` drops the odd ids. Page 1 lists ids 1 and 3 (both
    # dropped): the engine must still ask for startAt=2 (what the page listed, not what it kept; counting
    # kept records it would stop here), and page 2 (id 4) reaches the total. Kept: only id 4.
    odd_out = Endpoint(stream="items", path="items", records_path="items", paginator=OffsetPaginator(),
                       keep=lambda r: int(r["id"]) % 2 == 0)
    eng, session, store = engine(tmp_path, [
        make_response(body={"items": [{"id": "1"}, {"id": "3"}], "total": 3}),
        make_response(body={"items": [{"id": "4"}], "total": 3}),
    ])
    result = eng.run(odd_out, scope="all")
    assert result.stats.requests == 2
    assert [r[0] for r in rows(store, "t__items")] == ["4"]
    assert session.calls[1][1]["startAt"] == 2


def test_ascending_cursor_skips_a_future_record_and_a_bad_timestamp_is_rejected(tmp_path):
    # Page: issue 1 (01-05 09:00), issue 2 dated 9999 (stored, cursor does not move to it), issue 3 whose
    # `updated` is unreadable (rejected), issue 4 (01-05 10:00). The cursor: the newest real value, 10:00.
    eng, _, store = engine(tmp_path, [make_response(body={"issues": [
        issue(1, "2026-01-05T09:00:00.000+0000"), issue(2, "9999-01-01T00:00:00.000+0000"),
        issue(3, "the fifth"), issue(4, "2026-01-05T10:00:00.000+0000")], "isLast": True})])
    result = eng.run(ISSUES, scope="P")
    assert (result.records, result.rejected) == (3, 1)
    assert [r[0] for r in rows(store, "t__issues")] == ["1", "2", "4"]
    assert result.cursor_after == "2026-01-05T10:00:00.000000Z"
    (reject,) = store.rejected_records("src", "issues")
    assert reject.record_key == "3" and reject.reason.startswith("its 'fields.updated' is 'the fifth', not a timestamp")


# ---------------------------------------------------------------------------- batched children (bulkfetch)


class PostingSession(ScriptedSession):
    """ScriptedSession that also answers POSTs, recording (url, JSON body)."""

    def post(self, url, params=None, json=None, headers=None, timeout=None, **kw):  # noqa: D401
        self.calls.append((url, dict(json or {}), dict(headers or {})))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


BULK = Child(
    Endpoint(stream="changelogs", path="bulk", method="POST", params_in="body", records_path="logs",
             paginator=TokenPaginator(is_last_path=None), max_page_size=3),
    embedded=lambda i: (i["changelog"]["histories"], i["changelog"]["total"] <= len(i["changelog"]["histories"])),
    batch=2, batch_body=lambda keys: {"ids": keys}, batch_parent=lambda g: g["issue"],
    batch_records=lambda g: g["histories"],
)


def _h(n: int) -> dict:
    return {"id": str(n), "created": "2026-01-05T09:00:00.000+0000", "items": []}


def _posting_engine(tmp_path, answers):
    eng, _, store = engine(tmp_path, [])
    session = PostingSession(answers)
    eng.client.session = session
    return eng, session, store


def test_a_batched_child_reads_the_incomplete_parents_of_several_pages_in_one_chain(tmp_path):
    # Pages of 2 issues: 1 (complete), 2 (incomplete: 1 of 4 embedded); 3 (incomplete: 0 of 2); 4 (complete).
    # Issues 2 and 3 are read by one chain of 2 pages of at most 3 histories; the answer
    # interleaves them (by date) and splits issue 2 across both pages.
    eng, session, store = _posting_engine(tmp_path, [
        make_response(body={"issues": [issue(1, "2026-01-05T09:00:00.000+0000", [_h(10)]),
                                       issue(2, "2026-01-05T10:00:00.000+0000", [_h(23)], total=4)],
                            "nextPageToken": "p2"}),
        make_response(body={"issues": [issue(3, "2026-01-05T11:00:00.000+0000", [], total=2),
                                       issue(4, "2026-01-05T12:00:00.000+0000", [_h(40)])], "isLast": True}),
        make_response(body={"logs": [{"issue": "2", "histories": [_h(20), _h(21)]},
                                     {"issue": "3", "histories": [_h(30)]}], "nextPageToken": "c2"}),
        make_response(body={"logs": [{"issue": "3", "histories": [_h(31)]},
                                     {"issue": "2", "histories": [_h(22), _h(23)]}]}),
    ])
    # batch=4: page 1 waits (issue 2 needs a read, the batch is not full), page 2 too; at the list's end one
    # chain reads issues 2 and 3
    result = eng.run(ISSUES, scope="P", children=(replace(BULK, batch=4),))
    assert result.stats.requests == 4 and result.records == 4 and result.child_records == {"changelogs": 8}
    assert session.calls[2][:2] == ("https://x.test/bulk", {"ids": ["2", "3"], "maxResults": 3})
    assert session.calls[3][1] == {"ids": ["2", "3"], "maxResults": 3, "nextPageToken": "c2"}
    assert [(r[0], r[1]) for r in rows(store, "t__changelogs")] == [
        ("10", "1"), ("20", "2"), ("21", "2"), ("22", "2"), ("23", "2"), ("30", "3"), ("31", "3"), ("40", "4")]
    assert store.get_cursor("src", "issues", "P") == "2026-01-05T12:00:00.000000Z"


def test_a_batched_child_splits_parents_into_batches_and_pages_without_reads_are_not_held(tmp_path):
    # Three incomplete issues on one page, batch=2: chains for (5, 6) and (7). A later page of complete
    # issues asks nothing.
    eng, session, store = _posting_engine(tmp_path, [
        make_response(body={"issues": [issue(5, "2026-01-05T09:00:00.000+0000", [], total=1),
                                       issue(6, "2026-01-05T09:30:00.000+0000", [], total=1),
                                       issue(7, "2026-01-05T10:00:00.000+0000", [], total=1)],
                            "nextPageToken": "p2"}),
        make_response(body={"logs": [{"issue": "5", "histories": [_h(50)]}, {"issue": "6", "histories": [_h(60)]}]}),
        make_response(body={"logs": [{"issue": "7", "histories": [_h(70)]}]}),
        make_response(body={"issues": [issue(8, "2026-01-05T11:00:00.000+0000", [_h(80)])], "isLast": True}),
    ])
    result = eng.run(ISSUES, scope="P", children=(BULK,))
    # 3 parents held >= batch 2: read (in two chains) and committed before the next search page
    assert [c[1].get("ids") for c in session.calls] == [None, ["5", "6"], ["7"], None]
    assert result.child_records == {"changelogs": 4} and result.stats.requests == 4
    assert [(r[0], r[1]) for r in rows(store, "t__changelogs")] == [("50", "5"), ("60", "6"), ("70", "7"), ("80", "8")]


def test_a_failing_batch_leaves_each_parent_owed_and_the_next_run_pays_them_in_one_chain(tmp_path):
    eng, session, store = _posting_engine(tmp_path, [
        make_response(body={"issues": [issue(2, "2026-01-05T10:00:00.000+0000", [], total=1),
                                       issue(3, "2026-01-05T11:00:00.000+0000", [], total=1)], "isLast": True}),
        make_response(status=503), make_response(status=503),  # the chain's first page, and its one retry
    ])
    with pytest.raises(Exception, match="2 child read"):
        eng.run(ISSUES, scope="P", children=(BULK,))
    # the issues and their cursor landed; each issue's changelog is owed, none stored
    assert [r[0] for r in rows(store, "t__issues")] == ["2", "3"]
    assert store.get_cursor("src", "issues", "P") == "2026-01-05T11:00:00.000000Z"
    assert sorted((o.parent_key, o.request["batch"]) for o in store.owed("src", "changelogs")) == [
        ("2", True), ("3", True)]
    assert rows(store, "t__changelogs") == []

    # next run: the owed pair first (one chain), then the search from the cursor minus lookback
    session.answers = [
        make_response(body={"logs": [{"issue": "2", "histories": [_h(20)]}, {"issue": "3", "histories": [_h(30)]}]}),
        make_response(body={"issues": [], "isLast": True}),
    ]
    session.calls.clear()
    result = eng.run(ISSUES, scope="P", children=(BULK,))
    assert session.calls[0][1] == {"ids": ["2", "3"], "maxResults": 3}
    assert result.owed == 0 and result.child_records == {"changelogs": 2}
    assert store.owed("src", "changelogs") == []
    assert [(r[0], r[1]) for r in rows(store, "t__changelogs")] == [("20", "2"), ("30", "3")]


def test_a_parent_the_batch_answer_leaves_out_is_gone_and_a_stray_group_is_rejected(tmp_path):
    eng, session, store = _posting_engine(tmp_path, [
        make_response(body={"issues": [issue(2, "2026-01-05T10:00:00.000+0000", [], total=1),
                                       issue(3, "2026-01-05T11:00:00.000+0000", [], total=1)], "isLast": True}),
        make_response(body={"logs": [{"issue": "2", "histories": [_h(20)]}, {"issue": "9", "histories": [_h(90)]}]}),
    ])
    result = eng.run(ISSUES, scope="P", children=(BULK,))
    assert result.gone == 1 and result.rejected == 1 and result.child_records == {"changelogs": 1}
    assert [(g.parent_key, g.parent_cursor) for g in store.gone_objects("src", "changelogs")] == [
        ("3", "2026-01-05T11:00:00.000+0000")]
    [reason] = store.con.execute("SELECT reason FROM raw._rejected_records").fetchall()[0]
    assert "issues 9, which was not asked for" in reason


def test_a_batched_child_must_post_its_parents_keys():
    with pytest.raises(ValueError, match="batched child POSTs"):
        Child(Endpoint(stream="c", path="bulk"), batch=10, batch_body=lambda k: {}, batch_parent=lambda g: g)


def test_a_search_failing_after_a_held_page_still_lands_that_page_with_its_children(tmp_path):
    eng, session, store = _posting_engine(tmp_path, [
        make_response(body={"issues": [issue(2, "2026-01-05T10:00:00.000+0000", [], total=1)], "nextPageToken": "p2"}),
        make_response(status=503), make_response(status=503),  # page 2 and its one retry
        make_response(body={"logs": [{"issue": "2", "histories": [_h(20)]}]}),
    ])
    with pytest.raises(Exception, match="503"):
        eng.run(ISSUES, scope="P", children=(replace(BULK, batch=4),))
    assert [(r[0], r[1]) for r in rows(store, "t__changelogs")] == [("20", "2")]
    assert store.get_cursor("src", "issues", "P") == "2026-01-05T10:00:00.000000Z"
