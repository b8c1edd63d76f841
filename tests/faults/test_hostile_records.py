"""Hostile records and hostile paging: one bad record or one broken page must cost only itself.

Against the loopback GitHub-like API of tests/unit/test_engine_survival.py (5 PRs, newest first in pages
of 2, 2 reviews each) read with a transform that, like GitHub's, reads the PR's user, head and base. Each
case compares the raw tables with a clean run of the same API without the hostile record: zero rows
lost, zero duplicated, every stored payload identical; the hostile record is in raw._rejected_records
with a reason naming its field, and a warning names source, stream and record key.
"""

from __future__ import annotations

import logging

import pytest

from connectors.core.endpoint import Endpoint
from connectors.core.errors import PagingLoopError
from connectors.core.raw import CursorUpdate, RawStore
from tests.unit.test_engine_survival import CHILDREN, PULLS, REPO, SOURCE, FakeGitHub, make_engine, stored

TRANSFORMED = Endpoint(**{**PULLS.__dict__, "transform": lambda p: {
    **p, "author": p["user"]["login"], "head_sha": p["head"]["sha"], "base_ref": p["base"]["ref"]}})


def whole(n: int, updated: str, **fields) -> dict:
    return {"id": 100 + n, "number": n, "title": f"PR {n}", "updated_at": updated, "user": {"login": f"dev{n}"},
            "head": {"sha": f"h{n}"}, "base": {"ref": "main"}, **fields}


def api() -> FakeGitHub:
    gh = FakeGitHub()
    gh.pulls = [whole(p["number"], p["updated_at"]) for p in gh.pulls]
    return gh


def run(gh: FakeGitHub, store: RawStore, endpoint: Endpoint = TRANSFORMED):
    return make_engine(gh.api.url, store).run(endpoint, scope=REPO, path_vars={"repo": REPO}, children=CHILDREN)


def snapshot(store: RawStore) -> dict[str, list[tuple]]:
    return {t: store.con.execute(f"SELECT record_key, parent_key, scope, cursor_value, payload::VARCHAR "
                                 f"FROM raw.{t} ORDER BY record_key").fetchall()
            for t in ("github__pull_requests", "github__pull_request_reviews")}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The raw tables after a clean run: what every hostile case must end with."""
    with api() as gh, RawStore(tmp_path_factory.mktemp("clean") / "w.duckdb") as store:
        run(gh, store)
        return snapshot(store)


UPDATED = "2026-01-06T10:00:00Z"  # newer than every PR but PR 3 (01-09): the hostile PR sits on page 1
HOSTILE = {
    # kind: (the record, its key in the rejects table, what the reason must say)
    "lone surrogate in the title": (whole(6, UPDATED, title="fix \ud800 crash"), "106",
                                    "'title' holds a lone UTF-16 surrogate"),
    "null user": (whole(6, UPDATED, user=None), "106", "null here: user"),
    "null head": (whole(6, UPDATED, head=None), "106", "null here: head"),
    "null base": (whole(6, UPDATED, base=None), "106", "null here: base"),
    "null list element": (None, None, "the list holds null where a record belongs"),
    "no id": ({k: v for k, v in whole(6, UPDATED).items() if k != "id"}, None, "it has no 'id' (the stream's key)"),
    "unparseable updated_at": (whole(6, "yesterday"), "106", "its 'updated_at' is 'yesterday', not a timestamp"),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_record_is_rejected_and_the_rest_lands(kind, clean, tmp_path, caplog):
    record, key, says = HOSTILE[kind]
    with api() as gh, RawStore(tmp_path / "w.duckdb") as store:
        gh.extra = [record]
        result = run(gh, store)
        assert (result.rejected, result.error, result.records) == (1, None, 5)
        assert snapshot(store) == clean  # the 5 PRs and 10 reviews, byte for byte
        assert gh.api.request_count("/repos/acme/api/pulls/6/") == 0  # a rejected PR's children are not asked
        (reject,) = store.rejected_records(SOURCE)
        assert (reject.stream, reject.scope, reject.record_key) == ("pull_requests", REPO, key)
        assert says in reject.reason
        named = f"acme-github pull_requests ({REPO}): record {key or '(no key)'} rejected: "
        assert any(r.levelno == logging.WARNING and r.getMessage().startswith(named) for r in caplog.records)
        if kind == "lone surrogate in the title":
            assert reject.payload["title"] == "fix \ufffd crash"  # stored readable, the half character replaced

        run(gh, store)  # the next run meets it again: still one row
        assert len(store.rejected_records(SOURCE)) == 1 and snapshot(store) == clean

        if key is not None:  # the source sends it readable: stored, and no longer rejected
            gh.extra = [whole(6, "2026-01-10T10:00:00Z")]
            gh.reviews[6] = []
            run(gh, store)
            assert store.rejected_records(SOURCE) == []
            assert "106" in stored(store)["github__pull_requests"]


def test_hostile_children_are_rejected_and_their_siblings_land(clean, tmp_path):
    with api() as gh, RawStore(tmp_path / "w.duckdb") as store:
        gh.reviews[5] = [*gh.reviews[5], None, {"state": "COMMENTED"}]
        result = run(gh, store)
        assert (result.rejected, result.child_records["pull_request_reviews"]) == (2, 10)
        assert snapshot(store) == clean
        reasons = sorted(r.reason for r in store.rejected_records(SOURCE, "pull_request_reviews"))
        assert reasons == ["a pull_request_reviews record of 105 has no 'id' (the stream's key), so it cannot be "
                           "told from others", "the pull_request_reviews list of 105 holds null where a record belongs"]


# ---------------------------------------------------------------------------------------- hostile paging

def test_a_next_link_to_the_same_page_stops_with_a_clear_error(clean, tmp_path):
    with api() as gh, RawStore(tmp_path / "w.duckdb") as store:
        gh.self_link_page = "2"
        with pytest.raises(PagingLoopError) as raised:
            run(gh, store)
        assert str(raised.value).startswith(
            f"acme-github pull_requests ({REPO}): the server's next page (GET /repos/acme/api/pulls) is one already "
            "read in this listing, so its paging does not advance; stopped after 2 pages")
        assert gh.api.request_count("/repos/acme/api/pulls?") == 2  # page 1, page 2; not page 2 again
        assert len(stored(store)["github__pull_requests"]) == 4  # pages 1 and 2 are kept
        assert store.get_cursor(SOURCE, "pull_requests", REPO) is None  # newest first: not past unread page 3
        assert raised.value.result.pages == 2
        gh.self_link_page = None
        run(gh, store)
        assert snapshot(store) == clean


def test_a_repeated_page_stops_before_it_hides_the_next_one(clean, tmp_path):
    with api() as gh, RawStore(tmp_path / "w.duckdb") as store:
        gh.repeat_page = "2"  # page 2 answers page 1's PRs once; read on, page 2's PRs would never be read
        with pytest.raises(PagingLoopError, match=r"page 2 \(GET /repos/acme/api/pulls\) holds the same 2 records "
                                                  r"as page 1: the server repeated a page"):
            run(gh, store)
        assert len(stored(store)["github__pull_requests"]) == 2
        assert store.get_cursor(SOURCE, "pull_requests", REPO) is None
        run(gh, store)
        assert snapshot(store) == clean


def test_a_record_dated_9999_is_stored_but_does_not_move_the_cursor(tmp_path, caplog):
    with api() as gh, RawStore(tmp_path / "w.duckdb") as store:
        gh.extra = [whole(6, "9999-01-01T00:00:00Z")]
        gh.reviews[6] = []
        run(gh, store)
        assert "106" in stored(store)["github__pull_requests"]
        # the newest real update, PR 3's, not 9999
        assert store.get_cursor(SOURCE, "pull_requests", REPO) == "2026-01-09T10:00:00.000000Z"
        assert any("record 106 has updated_at 9999-01-01T00:00:00Z, later than this run's start plus 0:05:00"
                   in r.getMessage() for r in caplog.records)
        # A real change after it is still read: PR 1 updated on 01-10 comes before the cursor's lower bound.
        gh.pulls[0]["updated_at"] = "2026-01-10T10:00:00Z"
        run(gh, store)
        assert stored(store)["github__pull_requests"]["101"] == "2026-01-10T10:00:00Z"
        assert store.get_cursor(SOURCE, "pull_requests", REPO) == "2026-01-10T10:00:00.000000Z"


def test_a_cursor_saved_in_the_future_is_not_trusted(clean, tmp_path, caplog):
    with api() as gh, RawStore(tmp_path / "w.duckdb") as store:
        # an earlier version moved the cursor to a record dated 9999: every later run would read nothing
        store.write([], CursorUpdate(SOURCE, "pull_requests", REPO, "9999-01-01T00:00:00.000000Z"))
        run(gh, store)
        assert snapshot(store) == clean
        assert store.get_cursor(SOURCE, "pull_requests", REPO) == "2026-01-09T10:00:00.000000Z"
        assert any("the saved cursor '9999-01-01T00:00:00.000000Z' is in the future" in r.getMessage()
                   for r in caplog.records)
