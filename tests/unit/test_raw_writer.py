"""The raw store's writer thread: inside batched() writes are queued and committed in order, several at once,
while the extracting thread goes on; a failed write is raised in the thread that made it and nothing of that
thread after it commits; reads see every write made before them."""

from __future__ import annotations

import threading
from datetime import timedelta

import duckdb
import pytest

from connectors.core.engine import Engine
from connectors.core.http import HttpClient
from connectors.core.raw import CursorUpdate, RawRecord, RawStore, RejectedRecord, payload_text

TABLE = "jira__issues"


def page(*keys: str, parent: str | None = None) -> list[RawRecord]:
    return [RawRecord(k, {"key": k}, parent, "PAY", f"2026-12-0{i + 1}T00:00:00Z") for i, k in enumerate(keys)]


def cursor(value: str, scope: str = "PAY") -> CursorUpdate:
    return CursorUpdate("acme", "issues", scope, value)


def committed(store: RawStore) -> tuple[list[str], list[tuple]]:
    """What a second connection to the database sees, without waiting for the writer."""
    other = store._con.cursor()
    try:
        keys = [r[0] for r in other.execute(f"SELECT record_key FROM raw.{TABLE} ORDER BY 1").fetchall()]
        return keys, other.execute("SELECT scope, cursor_value FROM raw._state ORDER BY 1").fetchall()
    finally:
        other.close()


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as store:
        store.ensure_table(TABLE)
        yield store


def hold_writer(store: RawStore) -> threading.Event:
    """Keep the writer thread busy until the event is set, so that what is queued meanwhile commits together."""
    release = threading.Event()
    started = threading.Event()

    def wait(_con, _counts):
        started.set()
        release.wait(30)

    threading.Thread(target=lambda: store._submit(wait)).start()  # (outside batched(): waits for its commit)
    assert started.wait(30)
    return release


def test_a_block_commits_its_writes_in_order_and_ends_once_they_are_committed(store):
    release = hold_writer(store)
    with store.batched():
        assert store.write([(TABLE, "acme", page("PAY-1", "PAY-2"))], cursor("c1")) == 2
        assert store.write([(TABLE, "acme", page("PAY-3", "PAY-3"))], cursor("c2")) == 1  # one key twice
        assert committed(store) == ([], [])  # queued behind the held write: nothing committed yet
        release.set()
    assert committed(store) == (["PAY-1", "PAY-2", "PAY-3"], [("PAY", "c2")])
    assert store.write_counts == {(TABLE, "acme", "PAY"): [3, 0]}


def test_writes_committed_together_leave_what_they_would_one_by_one(store):
    # Queued behind a held write, these commit in one transaction, the raw writes in runs that share one insert
    # per table (see raw._runs). What each would do alone, worked out in order:
    # 1: PAY-1 (v1), PAY-2 new, cursor c1, ETag e1; 2: PAY-1 (v2) updated, cursor c2, ETag e2 (the later kept);
    # 3: PAY-9 rejected (ends its run); 4: PAY-9 stored (so no longer rejected), children a and b of PAY-1;
    # 5: PAY-1's children replaced by b alone (starts a run: its delete must follow 4's insert).
    # Issues: 3 new (PAY-1, PAY-2, PAY-9), 1 updated (PAY-1 again); children: a, b new, then b new again after
    # the delete: 3 new. Owed: PAY-1's comments owed twice (2 attempts), PAY-2's once.
    children = "jira__comments"
    store.ensure_table(children)
    release = hold_writer(store)
    with store.batched():
        store.write([(TABLE, "acme", page("PAY-1", "PAY-2"))], cursor("c1"), [("acme", "/search?p=1", "e1")])
        store.write([(TABLE, "acme", [RawRecord("PAY-1", {"key": "PAY-1", "v": 2}, None, "PAY", "x")])],
                    cursor("c2"), [("acme", "/search?p=1", "e2")])
        store.write([], rejected=[("acme", RejectedRecord("issues", "PAY", "PAY-9", "bad timestamp", {"key": 9}))])
        store.write([(TABLE, "acme", page("PAY-9")), (children, "acme", page("a", "b", parent="PAY-1"))])
        store.write([(children, "acme", page("b", parent="PAY-1"))], replace_children=[(children, "acme", ["PAY-1"])])
        store.owe("acme", "comments", "PAY", "PAY-1", {"path": "/1"}, "503")
        store.owe("acme", "comments", "PAY", "PAY-2", {"path": "/2"}, "503")
        store.owe("acme", "comments", "PAY", "PAY-1", {"path": "/1"}, "503 again")
        release.set()
    assert committed(store) == (["PAY-1", "PAY-2", "PAY-9"], [("PAY", "c2")])
    con = store.con
    assert con.execute(f"SELECT payload->>'v' FROM raw.{TABLE} WHERE record_key = 'PAY-1'").fetchall() == [("2",)]
    assert con.execute(f"SELECT record_key FROM raw.{children}").fetchall() == [("b",)]
    assert store.get_etag("acme", "/search?p=1") == "e2"
    assert store.rejected_records("acme") == []
    assert [(o.parent_key, o.attempts, o.reason) for o in store.owed("acme", "comments")] == [
        ("PAY-1", 2, "503 again"), ("PAY-2", 1, "503")]
    assert store.write_counts == {(TABLE, "acme", "PAY"): [3, 1], (children, "acme", "PAY"): [3, 0]}


def test_a_read_sees_the_writes_queued_before_it(store):
    release = hold_writer(store)
    with store.batched():
        store.write([(TABLE, "acme", page("PAY-1"))], cursor("c1"))
        threading.Timer(0.2, release.set).start()  # (the read below waits for it either way)
        assert store.get_cursor("acme", "issues", "PAY") == "c1"
        assert store.con.execute(f"SELECT count(*) FROM raw.{TABLE}").fetchall() == [(1,)]


def test_a_failed_write_is_raised_in_its_thread_and_nothing_of_that_thread_after_it_commits(store):
    release = hold_writer(store)
    queued, other_done = threading.Event(), threading.Event()

    def other_scope():
        with store.batched():
            store.write([(TABLE, "acme", page("OPS-1"))], cursor("o1", "OPS"))
            queued.set()
        other_done.set()

    with pytest.raises(duckdb.Error):
        with store.batched():
            store.write([(TABLE, "acme", page("PAY-1"))], cursor("c1"))
            store.write([("no such table!", "acme", page("X-1"))], cursor("c2"))  # this page cannot be stored
            store.write([(TABLE, "acme", page("PAY-3"))], cursor("c3"))  # must not commit past the bad page
            other = threading.Thread(target=other_scope)
            other.start()
            assert queued.wait(30)
            release.set()
            other.join(30)
    # The four writes went in one transaction; it failed, and each was tried alone: PAY-1 and the other
    # thread's page landed, nothing of this thread after the bad page did.
    assert other_done.is_set()
    assert committed(store) == (["OPS-1", "PAY-1"], [("OPS", "o1"), ("PAY", "c1")])
    with store.batched():  # told once: the thread writes again
        store.write([(TABLE, "acme", page("PAY-4"))], cursor("c4"))
    assert committed(store)[1] == [("OPS", "o1"), ("PAY", "c4")]


def test_after_a_failed_write_the_next_write_of_its_thread_raises_and_is_not_made(store):
    with pytest.raises(duckdb.Error):
        with store.batched():
            store.write([("no such table!", "acme", page("X-1"))])
            assert store.con is not None  # (waits until every queued write was tried)
            with pytest.raises(duckdb.Error):
                store.write([(TABLE, "acme", page("PAY-1"))], cursor("c1"))
    assert committed(store) == ([], [])


def test_close_commits_what_is_queued(tmp_path):
    store = RawStore(tmp_path / "w.duckdb")
    with store.batched():
        store.write([(TABLE, "acme", page("PAY-1"))], cursor("c1"))
        store.close()
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute(f"SELECT record_key FROM raw.{TABLE}").fetchall() == [("PAY-1",)]
    con.close()


def test_stored_versions_reads_only_records_the_listing_can_return_again(store):
    """The listing asks from cursor - lookback (3 h): 2026-12-10T09:00Z; records older than that day less one
    cannot be listed unchanged."""
    records = [RawRecord("1", {"fields": {"updated": "2026-12-10T10:00:00.000+0000"}}, None, "PAY",
                         "2026-12-10T10:00:00.000+0000"),
               RawRecord("2", {"fields": {"updated": "2026-12-09T02:00:00.000+1400"}}, None, "PAY",
                         "2026-12-09T02:00:00.000+1400"),  # (the 8th in UTC: a day's margin keeps it)
               RawRecord("3", {"fields": {"updated": "2026-12-08T23:59:00.000+0000"}}, None, "PAY",
                         "2026-12-08T23:59:00.000+0000"),
               RawRecord("4", {"fields": {"updated": "1733700000"}}, None, "PAY", "1733700000"),  # not ISO: kept
               RawRecord("5", {"fields": {}}, None, "PAY", "2026-12-10T11:00:00Z"),  # no version: left out
               RawRecord("6", {"fields": {"updated": "2026-12-10T10:00:00.000+0000"}}, None, "OPS",
                         "2026-12-10T10:00:00.000+0000")]  # another scope
    store.write([(TABLE, "acme", records)], cursor("2026-12-10T12:00:00Z"))
    engine = Engine(source_type="jira", source_instance="acme", client=HttpClient(source="jira", base_url="http://127.0.0.1:9"),
                    store=store)
    assert engine.options.lookback == timedelta(hours=3)
    assert engine.stored_versions("issues", "PAY", "fields.updated") == {
        ("1", "2026-12-10T10:00:00.000+0000"), ("2", "2026-12-09T02:00:00.000+1400"), ("4", "1733700000")}
    assert engine.stored_versions("issues", "OPS", "fields.updated") == frozenset()  # no cursor: a first load


def test_payload_text_is_compact_json_and_leaves_what_orjson_refuses_to_json_dumps():
    assert payload_text({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'
    assert payload_text({"n": 2**70}) == '{"n":1180591620717411303424}'  # beyond 64 bits
    assert payload_text({"s": "\ud83d"}) == '{"s":"\\ud83d"}'  # a lone surrogate, escaped for the check after it
