"""One object must not fail its parent: child reads that are gone or failing, the ledger of owed reads, a
kill between a page and its owed read, and duplicates inside a page (connectors/core/engine.py, raw.py).

The API is a loopback GitHub-like server (connectors/kit): 5 pull requests, newest update first in pages
of 2, each with 2 reviews. PR n is id 100+n, its reviews ids 1000n+1 and 1000n+2. Updated: PR 1-5 on
2026-01-01..05 at 10:00, except PR 3, the newest (01-09 10:00), so the list is
  page 1: PR 3, PR 5 | page 2: PR 4, PR 2 | page 3: PR 1.
Every case ends by comparing the raw tables with what the server holds: zero rows lost, none twice.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

from connectors.core.endpoint import Child, Endpoint
from connectors.core.engine import Engine, RunOptions, StreamResult
from connectors.core.errors import AuthError, GoneError, NotFoundError, RetriesExhaustedError, StreamFailed
from connectors.core.http import HttpClient, RetryPolicy
from connectors.core.paginators import LinkHeaderPaginator
from connectors.core.raw import OWED_TABLE, RawRecord, RawStore, RejectedRecord
from connectors.kit import ApiServer, LinkPages

from tests.support.raw_writes import ReportingStore, all_committed

from .fakes import ScriptedSession, make_response

REPO = "acme/api"
SOURCE = "acme-github"
PULLS = Endpoint(stream="pull_requests", path="repos/{repo}/pulls", params={"state": "all"},
                 cursor_field="updated_at", paginator=LinkHeaderPaginator(), order="descending", stop_at_since=True)
REVIEWS = Endpoint(stream="pull_request_reviews", path="repos/{repo}/pulls/{number}/reviews",
                   paginator=LinkHeaderPaginator())
CHILDREN = (Child(REVIEWS, path_vars=lambda pr: {"repo": REPO, "number": pr["number"]}, only_since=True),)
PR_TABLE, REVIEW_TABLE = "github__pull_requests", "github__pull_request_reviews"


def pr(n: int, updated: str) -> dict:
    return {"id": 100 + n, "number": n, "title": f"PR {n}", "updated_at": updated}


class FakeGitHub:
    def __init__(self) -> None:
        self.pulls = [pr(n, f"2026-01-0{9 if n == 3 else n}T10:00:00Z") for n in range(1, 6)]
        self.reviews = {n: [{"id": 1000 * n + k, "state": "APPROVED"} for k in (1, 2)] for n in range(1, 6)}
        self.review_status: dict[int, int] = {}  # PR number -> the status its reviews answer instead
        self.page_status: dict[str, int] = {}  # list page number -> the status it answers instead
        self.extra: list = []  # records served besides `pulls` (hostile ones), not in the truth
        self.self_link_page: str | None = None  # this page's Link rel="next" names itself
        self.repeat_page: str | None = None  # this page answers page 1 again, once
        self.api = ApiServer()
        self.api.add_route(r"/repos/acme/api/pulls", self._pulls)
        self.api.add_route(r"/repos/acme/api/pulls/(?P<number>\d+)/reviews", self._reviews)

    def _pulls(self, query, match, base_url):
        status = self.page_status.get(query.get("page", "1"))
        if status:
            return status, {}, {"message": "Not Found"}
        page = query.get("page", "1")
        newest_first = sorted([*self.pulls, *self.extra], reverse=True,
                              key=lambda p: str(p.get("updated_at")) if isinstance(p, dict) else "")
        if page == self.repeat_page:
            self.repeat_page = None
            query = {**query, "page": "1"}
        status, headers, body = LinkPages(default_size=2).reply(newest_first, query, base_url + match.string)
        if page == self.self_link_page:
            headers = {"Link": f'<{base_url}{match.string}?{urlencode(query)}>; rel="next"'}
        return status, headers, body

    def _reviews(self, query, match, base_url):
        n = int(match["number"])
        status = self.review_status.get(n)
        if status:
            return status, {}, {"message": "Not Found" if status == 404 else "Service Unavailable"}
        return 200, {}, self.reviews[n]

    def truth(self, gone: tuple[int, ...] = ()) -> dict[str, dict[str, str | None]]:
        """table -> record key -> what identifies its version (updated_at; a review's parent)."""
        return {
            PR_TABLE: {str(p["id"]): p["updated_at"] for p in self.pulls},
            REVIEW_TABLE: {str(r["id"]): str(100 + n) for n, rs in self.reviews.items() if n not in gone for r in rs},
        }

    def __enter__(self) -> FakeGitHub:
        self.api.start()
        return self

    def __exit__(self, *exc) -> None:
        self.api.stop()


def make_engine(url: str, store: RawStore, **options) -> Engine:
    client = HttpClient(source=SOURCE, base_url=url, retry=RetryPolicy(max_retries=1, backoff_seconds=0),
                        sleep=lambda s: None, timeout_seconds=5)
    opts = RunOptions(page_size=2, start_date=datetime(2026, 1, 1, tzinfo=UTC), lookback=timedelta(hours=3), **options)
    return Engine(source_type="github", source_instance=SOURCE, client=client, store=store, options=opts)


def stored(store: RawStore) -> dict[str, dict[str, str | None]]:
    out = {}
    for table, version in ((PR_TABLE, "payload->>'$.updated_at'"), (REVIEW_TABLE, "parent_key")):
        rows = store.con.execute(f"SELECT record_key, {version} FROM raw.{table} WHERE source_instance = ?",
                                 [SOURCE]).fetchall()
        out[table] = dict(rows)
        assert len(out[table]) == len(rows), f"{table}: a key stored twice"
    return out


def run(url: str, store: RawStore) -> StreamResult:
    return make_engine(url, store).run(PULLS, scope=REPO, path_vars={"repo": REPO}, children=CHILDREN)


@pytest.fixture
def gh():
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as s:
        yield s


def test_a_clean_run_reads_every_pr_and_review(gh, store):
    result = run(gh.api.url, store)
    # 3 list pages + 5 review lists; 5 PRs, 10 reviews
    assert (result.records, result.pages, result.stats.requests) == (5, 3, 8)
    assert (result.gone, result.owed, result.rejected, result.error) == (0, 0, 0, None)
    assert stored(store) == gh.truth()


def test_a_review_list_answering_404_is_recorded_gone_and_its_pr_lands(gh, store, caplog):
    gh.review_status[3] = 404
    result = run(gh.api.url, store)
    assert (result.records, result.gone, result.error) == (5, 1, None)  # not a failure: the object is gone
    assert stored(store) == gh.truth(gone=(3,))  # PR 3 itself, the other PRs and their 8 reviews landed
    (gone,) = store.gone_objects(SOURCE)
    assert (gone.stream, gone.scope, gone.parent_key, gone.parent_cursor) == (
        "pull_request_reviews", REPO, "103", "2026-01-09T10:00:00Z")
    warning = "acme-github pull_request_reviews of pull_requests 103 (acme/api): GET repos/acme/api/pulls/3/reviews " \
              "answers 404 (deleted, or not visible to the token); skipped and recorded"
    assert gone.reason.startswith(warning)
    assert any(r.levelno == logging.WARNING and r.getMessage().startswith(warning) for r in caplog.records)
    assert result.as_metadata()["gone"] == 1

    # The rerun reads PR 3 again (the newest, inside cursor - lookback) but does not ask its reviews again.
    gh.api.reset_stats()
    assert run(gh.api.url, store).gone == 0
    assert gh.api.request_count("/repos/acme/api/pulls/3/reviews") == 0
    assert stored(store) == gh.truth(gone=(3,))

    # PR 3 changes and its reviews are visible again: asked, stored, and no longer recorded gone.
    gh.pulls[2]["updated_at"] = "2026-01-10T10:00:00Z"
    del gh.review_status[3]
    gh.api.reset_stats()
    run(gh.api.url, store)
    assert gh.api.request_count("/repos/acme/api/pulls/3/reviews") == 1
    assert stored(store) == gh.truth()
    assert store.gone_objects(SOURCE) == []


def test_a_410_is_gone_too(gh, store, monkeypatch):
    # The HTTP client maps 410 to GoneError (a NotFoundError); the engine records it the same way.
    eng = make_engine(gh.api.url, store)
    real = eng.client.get_json

    def get_json(url, params=None, **kw):
        if url.endswith("pulls/5/reviews"):
            raise GoneError("acme-github: GET /repos/acme/api/pulls/5/reviews is gone (410)")
        return real(url, params, **kw)

    monkeypatch.setattr(eng.client, "get_json", get_json)
    result = eng.run(PULLS, scope=REPO, path_vars={"repo": REPO}, children=CHILDREN)
    assert result.gone == 1 and "answers 410" in store.gone_objects(SOURCE)[0].reason
    assert stored(store) == gh.truth(gone=(5,))


def test_a_review_list_failing_past_the_retries_is_owed_and_read_first_next_run(gh, store, caplog):
    gh.review_status[2] = 503
    with pytest.raises(RetriesExhaustedError) as raised:
        run(gh.api.url, store)
    failed = raised.value
    assert isinstance(failed, StreamFailed) and type(failed).__name__ == "RetriesExhaustedError"
    result = failed.result
    # 3 pages + 4 review lists + PR 2's reviews asked twice (max_retries 1): 9 requests, 1 retry
    assert (result.records, result.owed, result.stats.requests, result.stats.retries) == (5, 1, 9, 1)
    assert result.error.startswith("acme-github pull_requests (acme/api): 1 child read(s) still failing")
    assert "the next run reads them first" in str(failed)
    assert result.as_metadata()["requests"] == 9 and result.as_metadata()["owed"] == 1
    # Everything else landed, and the cursor moved with it: only the ledger remembers PR 2's reviews.
    assert stored(store) == gh.truth(gone=(2,))
    assert store.get_cursor(SOURCE, "pull_requests", REPO) == "2026-01-09T10:00:00.000000Z"
    (owed,) = store.owed(SOURCE, "pull_request_reviews", REPO)
    assert (owed.parent_key, owed.request["path"], owed.attempts) == ("102", "repos/acme/api/pulls/2/reviews", 1)
    assert "still failing after 1 retries" in owed.reason
    assert any("owed (raw._owed_reads)" in r.getMessage() for r in caplog.records)

    # Still failing next night: owed again (2 attempts), the stream fails again, nothing else lost.
    with pytest.raises(RetriesExhaustedError):
        run(gh.api.url, store)
    assert store.owed(SOURCE, "pull_request_reviews")[0].attempts == 2

    # The server answers: the owed read is the first request, it lands, and the ledger is empty.
    del gh.review_status[2]
    gh.api.reset_stats()
    result = run(gh.api.url, store)
    assert gh.api.requests[0].startswith("/repos/acme/api/pulls/2/reviews")
    assert (result.owed, result.error, result.child_records["pull_request_reviews"]) == (0, None, 2 + 2)  # + PR 3's
    assert store.owed(SOURCE, "pull_request_reviews") == []
    assert stored(store) == gh.truth()


def test_a_bad_token_on_a_child_still_fails_the_stream_at_once(gh, store):
    gh.review_status[5] = 401
    with pytest.raises(AuthError) as raised:
        run(gh.api.url, store)
    # page 1's PRs are not written without their children; 1 page + PR 3's reviews + PR 5's refused
    assert raised.value.result.stats.requests == 3
    assert stored(store) == {PR_TABLE: {}, REVIEW_TABLE: {}}
    assert store.owed(SOURCE, "pull_request_reviews") == [] and store.gone_objects(SOURCE) == []


def test_a_404_on_page_two_names_the_page_not_the_scope(gh, store):
    gh.page_status["2"] = 404
    with pytest.raises(NotFoundError) as raised:
        run(gh.api.url, store)
    del gh.page_status["2"]
    message = str(raised.value)
    assert message.startswith("acme-github pull_requests (acme/api): page 2 (GET /repos/acme/api/pulls) answers 404 "
                              "after 1 pages were read")
    assert "next run reads the list again" in message and "check the scope" not in message
    assert len(stored(store)[PR_TABLE]) == 2  # page 1 stays
    assert store.get_cursor(SOURCE, "pull_requests", REPO) is None  # newest first: moves only at the end
    run(gh.api.url, store)
    assert stored(store) == gh.truth()


def test_a_404_on_the_first_page_keeps_the_scope_advice(tmp_path):
    with ApiServer() as api, RawStore(tmp_path / "w.duckdb") as store:
        with pytest.raises(NotFoundError, match="check the scope") as raised:
            run(api.url, store)
        assert raised.value.result.stats.requests == 1


# ------------------------------------------------------------------ a kill between a page and its owed read

def child_main(url: str, warehouse: str) -> None:
    """The run the test kills (in its own process): it stops for good on list page 3."""
    with ReportingStore(warehouse) as store:  # (the test kills it once its writes are committed)
        run(url, store)


def test_a_run_killed_after_a_page_with_an_owed_read_loses_nothing(gh, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    gh.review_status[2] = 503  # PR 2 is on page 2: its reviews become owed, page 2 is committed
    hold = threading.Event()
    gh.api.faults.add(r"/repos/acme/api/pulls\?.*page=3", "slow", times=1, until=hold, seconds=60)
    code = f"from tests.unit.test_engine_survival import child_main; child_main({gh.api.url!r}, {str(warehouse)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while gh.api.faults.all()[0]["fired"] == 0 or not all_committed(warehouse):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the run never reached page 3, or its writes were not committed"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # page 2 and the owed read are committed; page 3 is in flight
        proc.wait(timeout=30)
    finally:
        hold.set()
        if proc.poll() is None:
            proc.kill()
    del gh.review_status[2]
    gh.api.faults.clear()
    gh.api.reset_stats()
    with RawStore(warehouse) as store:
        assert [o.parent_key for o in store.owed(SOURCE, "pull_request_reviews")] == ["102"]
        assert store.get_cursor(SOURCE, "pull_requests", REPO) is None  # newest first: not moved before the end
        result = run(gh.api.url, store)
        assert gh.api.requests[0].startswith("/repos/acme/api/pulls/2/reviews")  # the owed read comes first
        assert result.error is None and store.owed(SOURCE, "pull_request_reviews") == []
        assert stored(store) == gh.truth()


# ------------------------------------------------------------------ the ledger itself

def test_the_ledger_counts_attempts_and_settles_with_the_data_it_covers(store):
    store.owe(SOURCE, "compare_commits", REPO, "9", {"path": "repos/acme/api/compare/a...b"}, "http 503")
    store.owe(SOURCE, "compare_commits", REPO, "9", {"path": "repos/acme/api/compare/a...b"}, "timeout")
    store.owe(SOURCE, "compare_commits", "acme/web", "7", {"path": "x"}, "http 502")
    (owed,) = store.owed(SOURCE, "compare_commits", REPO)
    assert (owed.stream, owed.scope, owed.parent_key, owed.attempts, owed.reason) == (
        "compare_commits", REPO, "9", 2, "timeout")
    assert owed.request == {"path": "repos/acme/api/compare/a...b"} and owed.first_owed_at.tzinfo is UTC
    assert [o.parent_key for o in store.owed(SOURCE, "compare_commits")] == ["9", "7"]
    # A write that fails settles nothing; one that commits settles with its rows.
    with pytest.raises(Exception):
        store.write([("no such table!", SOURCE, [RawRecord("x", {})])], settled=[(SOURCE, "compare_commits", "9")])
    assert len(store.owed(SOURCE, "compare_commits")) == 2
    store.write([("github__compare_commits", SOURCE, [RawRecord("9:abc", {"sha": "abc"}, "9", REPO)])],
                settled=[(SOURCE, "compare_commits", "9")])
    assert [o.parent_key for o in store.owed(SOURCE, "compare_commits")] == ["7"]
    # Gone settles too; is_gone holds while the parent is unchanged (or always, without a cursor).
    store.gone(SOURCE, "compare_commits", "acme/web", "7", "404", parent_cursor="c1")
    assert store.owed(SOURCE, "compare_commits") == []
    assert store.is_gone(SOURCE, "compare_commits", "7") and store.is_gone(SOURCE, "compare_commits", "7", "c1")
    assert not store.is_gone(SOURCE, "compare_commits", "7", "c2") and not store.is_gone(SOURCE, "x", "7")
    assert store.con.execute(f"SELECT count(*) FROM {OWED_TABLE}").fetchone()[0] == 0


def test_rejects_are_recorded_once_and_leave_when_the_record_is_stored(store):
    bad = RejectedRecord("pull_requests", REPO, "101", "its 'updated_at' is 'soon'", {"id": 101, "t": "a\ud800"})
    keyless = RejectedRecord("pull_requests", REPO, None, "no 'id'", {"t": "x"})
    store.write([], rejected=[(SOURCE, bad), (SOURCE, keyless)])
    store.write([], rejected=[(SOURCE, bad), (SOURCE, keyless)])  # the next run rejects them again
    rows = store.rejected_records(SOURCE)
    assert len(rows) == 2 and rows[0].payload == {"id": 101, "t": "a\ufffd"}  # storable: U+FFFD for the half
    store.write([("github__pull_requests", SOURCE, [RawRecord("101", {"id": 101}, None, REPO)])])
    assert [r.record_key for r in store.rejected_records(SOURCE)] == [None]


# ------------------------------------------------------------------ duplicates inside a page and across pages

def test_duplicates_keep_the_newest_copy_by_the_cursor(tmp_path):
    link = {"Link": '<https://x.test/pulls?page=2>; rel="next"'}
    copy = lambda n, at, title: {"id": n, "number": n, "title": title, "updated_at": at}  # noqa: E731
    pulls = Endpoint(stream="pull_requests", path="pulls", cursor_field="updated_at", paginator=LinkHeaderPaginator(),
                     order="descending")
    session = ScriptedSession([
        # PR 1 twice in page 1, the older copy later; PR 4's newer copy comes later (out of order)
        make_response(body=[copy(1, "2026-01-05T10:00:00Z", "fresh"), copy(4, "2026-01-02T10:00:00Z", "old"),
                            copy(1, "2026-01-05T08:00:00Z", "stale"), copy(4, "2026-01-03T10:00:00Z", "new")],
                      headers=link),
        # and PR 1 again on page 2, older still: it must not replace the copy page 1 stored
        make_response(body=[copy(1, "2026-01-04T10:00:00Z", "staler"), copy(2, "2026-01-01T10:00:00Z", "only")]),
    ])
    client = HttpClient(source=SOURCE, base_url="https://x.test", session=session, sleep=lambda s: None)
    with RawStore(tmp_path / "w.duckdb") as store:
        eng = Engine(source_type="github", source_instance=SOURCE, client=client, store=store,
                     options=RunOptions(page_size=4, start_date=datetime(2025, 1, 1, tzinfo=UTC)))
        result = eng.run(pulls, scope=REPO)
        rows = store.con.execute(
            "SELECT record_key, payload->>'$.title', cursor_value FROM raw.github__pull_requests ORDER BY 1").fetchall()
    assert rows == [("1", "fresh", "2026-01-05T10:00:00Z"), ("2", "only", "2026-01-01T10:00:00Z"),
                    ("4", "new", "2026-01-03T10:00:00Z")]
    assert result.records == 3  # 2 stored from page 1 (PR 1, PR 4), 1 from page 2 (PR 2)
