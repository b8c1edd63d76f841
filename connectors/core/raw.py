"""The raw layer: one DuckDB table per stream, bulk upserts, and the cursor state beside them.

Data and cursor are written in one transaction, so a cursor can never run ahead of the rows it
covers. Inside ``RawStore.batched()`` (the engine opens one per stream and scope) writes are queued and a
writer thread applies them in order inside one open transaction as they arrive, several writes' rows in one
statement per table when they queue up, and commits, while the extracting thread downloads the next pages; a
kill loses only writes not yet committed, whose cursors did not move either (re-read next run).
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from connectors.core.errors import WarehouseLockedError

RAW_SCHEMA = "raw"
STATE_TABLE = f"{RAW_SCHEMA}._state"
# ETags of list pages, per source instance and request, for conditional requests (GitHub answers a
# matching If-None-Match with 304, which costs no rate limit). Kept beside the data they describe so a
# new warehouse never trusts an ETag whose records it does not hold.
ETAG_TABLE = f"{RAW_SCHEMA}._etags"
# Child reads that failed past the retries (a PR's reviews answering 503 all night): the parent was stored
# and its cursor moved on, so only this ledger remembers that the read is still owed. The next run reads
# these first; a row leaves in the same transaction as the records that settle it.
OWED_TABLE = f"{RAW_SCHEMA}._owed_reads"
# Child objects the source says are gone (404/410: deleted, or not visible to the token): not asked again
# while their parent is unchanged (parent_cursor), so a deleted object costs one request, not one a night.
GONE_TABLE = f"{RAW_SCHEMA}._gone_objects"
# Records that could not be stored (no key, a lone UTF-16 surrogate, a bad timestamp, null where the
# connector needs an object): kept out of the stream so the rest of their page lands, and shown here with
# the reason. A row leaves when the same record is later stored.
REJECTS_TABLE = f"{RAW_SCHEMA}._rejected_records"
# Reads committed late: per shard merge and table, the earliest read time among the rows it brought that the
# warehouse did not hold (a shard read before the last build, merged after it). The incremental builds take
# in every read since the newest one their last complete build took in, and these too (dbt macro read_windows):
# the only rows that reach the warehouse with a read time older than a build that ran before them.
MERGED_READS_TABLE = f"{RAW_SCHEMA}._merged_reads"


def accounted_parents_sql(table: str) -> str:
    """A query of the parent keys whose children ``table`` holds, or the ledgers hold as owed or gone, for one
    stream and scope: the parents a connector that registers its own child reads (change sets) must not
    register again. Parameters: source_instance, scope, then (source_instance, stream, scope) twice."""
    return f"""
        SELECT parent_key FROM raw.{table} WHERE source_instance = ? AND scope = ? AND parent_key IS NOT NULL
        UNION ALL
        SELECT parent_key FROM {OWED_TABLE} WHERE source_instance = ? AND stream = ? AND scope = ?
        UNION ALL
        SELECT parent_key FROM {GONE_TABLE} WHERE source_instance = ? AND stream = ? AND scope = ?"""
# What each extraction did, one row per run, source instance, stream and scope (the run report). In its
# own schema because it is not an API object: the raw layer's seven-column contract stays exact.
OPS_SCHEMA = "ops"
STREAM_RUNS_TABLE = f"{OPS_SCHEMA}.stream_runs"
# One list for the table and for the code that writes and merges its rows (operations/run_report.py, shards.py).
_STREAM_RUNS_COLUMNS = (
    ("run_id", "VARCHAR NOT NULL"), ("source_type", "VARCHAR NOT NULL"), ("source_instance", "VARCHAR NOT NULL"),
    ("extraction_group", "VARCHAR NOT NULL"), ("stream", "VARCHAR NOT NULL"), ("scope", "VARCHAR"),
    ("status", "VARCHAR NOT NULL"), ("records", "BIGINT NOT NULL"), ("new_records", "BIGINT"),
    ("updated_records", "BIGINT"), ("requests", "BIGINT NOT NULL"), ("retries", "BIGINT NOT NULL"),
    ("not_modified", "BIGINT NOT NULL"), ("rate_limit_waits", "BIGINT NOT NULL"),
    ("waited_seconds", "DOUBLE NOT NULL"), ("cursor_before", "VARCHAR"), ("cursor_after", "VARCHAR"),
    ("seconds", "DOUBLE NOT NULL"), ("error", "VARCHAR"), ("started_at", "TIMESTAMP NOT NULL"),
    ("finished_at", "TIMESTAMP NOT NULL"),
)
STREAM_RUNS_COLUMNS = tuple(name for name, _ in _STREAM_RUNS_COLUMNS)
STREAM_RUNS_DDL = f"CREATE TABLE IF NOT EXISTS {STREAM_RUNS_TABLE} (" + ", ".join(
    f"{name} {kind}" for name, kind in _STREAM_RUNS_COLUMNS) + ")"

_COLUMNS = pa.schema(
    [
        ("source_instance", pa.string()),
        ("record_key", pa.string()),
        ("parent_key", pa.string()),
        ("scope", pa.string()),
        ("cursor_value", pa.string()),
        # Arrow's JSON extension type arrives in DuckDB as JSON, so the insert does not parse every
        # document again (the string form made `payload::JSON` validate each one: ~30% of inserting a
        # large-document page). Every payload here is payload_text output, valid by construction.
        ("payload", pa.json_()),
        ("extracted_at", pa.timestamp("us")),
    ]
)


def raw_table(source_type: str, stream: str) -> str:
    return f"{source_type}__{stream}"


@dataclass(frozen=True)
class RawRecord:
    record_key: str
    payload: dict
    parent_key: str | None = None
    scope: str | None = None
    cursor_value: str | None = None
    # The payload as JSON text when the caller already made it (the engine checks each record is storable
    # that way): written as it is instead of being serialized a second time.
    payload_json: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class OwedRead:
    """A child read still owed: ``request`` is what to ask again (the engine stores {"path": ...})."""

    stream: str
    scope: str
    parent_key: str
    request: dict
    reason: str
    attempts: int
    first_owed_at: datetime


@dataclass(frozen=True)
class GoneObject:
    stream: str
    scope: str
    parent_key: str
    parent_cursor: str | None
    reason: str
    recorded_at: datetime


@dataclass(frozen=True)
class RejectedRecord:
    """A record kept out of ``stream``: ``record_key`` None when the record has none."""

    stream: str
    scope: str | None
    record_key: str | None
    reason: str
    payload: Any


_SURROGATE = re.compile("[\ud800-\udfff]")


def payload_text(payload: Any) -> str:
    """``payload`` as compact JSON text (see payload_json_text)."""
    return payload_json_text(payload)[0]


def payload_json_text(payload: Any) -> tuple[str, bool]:
    """(``payload`` as compact JSON text, whether orjson wrote it). orjson writes it several times faster
    than json.dumps (a large-document source such as Jira serializes every record once) and refuses a lone
    UTF-16 surrogate, so its text needs no search for one; what it refuses (that, an integer beyond 64 bits,
    a key that is not a string) goes through json.dumps, whose own errors (TypeError, ValueError) are the
    caller's to report."""
    try:
        return orjson.dumps(payload).decode(), True
    except TypeError:  # (orjson.JSONEncodeError is one)
        return json.dumps(payload, separators=(",", ":")), False


def storable_json(payload: Any) -> str:
    """``payload`` as JSON text any JSON reader accepts: a lone UTF-16 surrogate (half of an emoji cut by
    the source) becomes U+FFFD. For rejected records, whose original could not be stored."""
    return _SURROGATE.sub("\ufffd", json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str))


def lone_surrogate_at(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (or object key) holding a lone UTF-16 surrogate, else None.
    Python keeps such a character from a JSON escape (\\ud800), but it has no UTF-8 form: DuckDB (and
    PostgreSQL) refuse the whole batch it is in."""
    if isinstance(value, str):
        return (path or "(the value)") if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                return here
            found = lone_surrogate_at(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = lone_surrogate_at(item, f"{path}[{i}]")
            if found:
                return found
    return None


@dataclass(frozen=True)
class CursorUpdate:
    source_instance: str
    stream: str
    scope: str
    cursor_value: str


def open_warehouse(path: str | os.PathLike[str], *, read_only: bool = False,
                   settings: Mapping[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, turning DuckDB's lock error into one that says what to do.

    ``settings``: DuckDB settings for the connection (memory_limit, temp_directory, threads: the `warehouse:`
    section of throughline.yml, WarehouseConfig.duckdb_settings()); None keeps DuckDB's defaults."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLockedError(
                f"warehouse {path} is in use by another process (DuckDB allows one writer): wait for the "
                f"running load to finish, or close the tool holding it; BI tools should read the published "
                f"copy instead. DuckDB said: {str(exc).splitlines()[0]}"
            ) from None
        raise
    # SET rather than connect(config=...): DuckDB refuses a second connection to a file already open in this
    # process with another configuration, and these settings are the database instance's, shared anyway.
    for name, value in (settings or {}).items():
        con.execute(f"SET {name} = '{str(value).replace(chr(39), chr(39) * 2)}'")
    return con


# Queued writes make write() wait while this many records are queued: memory stays bounded when DuckDB is
# slower than the downloads.
MAX_QUEUED_RECORDS = 50_000
# The writer's transaction stays open this long, applying writes as they are queued, before it commits (unless
# it holds this many records, or a thread waits for them: a flush, a read, the end of a batched block): a
# commit costs tens of ms (DuckDB syncs its log), so a source of many small pages commits several in one
# transaction, and what a waiting thread waits for is mostly the commit. A kill loses at most these.
LINGER_SECONDS = 0.5
LINGER_RECORDS = 2_000


@dataclass
class _Queued:
    """A write waiting for the writer thread: ``apply(con, counts)`` runs its statements inside the open
    transaction and returns what to do once they are committed (or None); a raw write or an owed read has
    ``combine`` instead, applied with its neighbours of the same kind (RawStore._apply_run)."""

    owner: int  # the thread that queued it: its error is raised there
    apply: Callable[[duckdb.DuckDBPyConnection, dict], Callable[[], None] | None] | None  # None: see combine
    records: int
    cursor_key: tuple[str, str, str] | None = None  # (source instance, stream, scope) of the cursor it moves
    # What a run of consecutive queued writes of one kind may apply as one statement per table instead of
    # one each (see RawStore._transaction): a RawStore.write's arguments, or an owe()'s row.
    combine: _RawWrite | _OwedRow | None = None


@dataclass
class _Pending:
    """What the writer's open transaction holds besides its rows: the new / updated counts it will add to
    write_counts, and the last value of each cursor and ETag its writes moved (with that write's time), written
    in one statement each just before the commit (or before a write of another kind): two statements per
    transaction instead of two per write, with the same committed result."""

    counts: dict[tuple[str, str, str | None], list[int]] = field(default_factory=dict)
    cursors: dict[tuple[str, str, str], tuple[str, datetime]] = field(default_factory=dict)
    etags: dict[tuple[str, str], tuple[str, datetime]] = field(default_factory=dict)
    # every ETag of the transaction, for the store's copy once it is committed
    all_etags: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class _OwedRow:
    """The values of one owe(): (source instance, stream, scope, parent key, request JSON, reason, at, at)."""

    values: tuple

    @property
    def key(self) -> tuple:
        return self.values[0], self.values[1], self.values[3]


@dataclass(frozen=True)
class _RawWrite:
    """The arguments of one RawStore.write, as the writer thread applies them."""

    batches: list[tuple[str, str, list[RawRecord]]]  # one record per key
    cursor: CursorUpdate | None
    etags: list[tuple[str, str, str]]
    replace_children: list[tuple[str, str, list[str]]]
    settled: list[tuple[str, str, str]]
    rejected: list[tuple[str, RejectedRecord]]
    at: datetime  # when the write was made: its records' extracted_at


class RawStore:
    """The raw tables of one warehouse. Every write goes through one writer thread with its own connection:
    outside ``batched()`` a write returns once committed (its error raised), inside it returns at once and
    commits with the writes queued around it. Reads (``con`` included) first wait for every queued write."""

    def __init__(self, path: str | os.PathLike[str], *, settings: Mapping[str, str] | None = None):
        self.path = Path(path)
        self._con = open_warehouse(self.path, settings=settings)
        self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        self._con.execute(
            f"""CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
                source_instance VARCHAR NOT NULL,
                stream VARCHAR NOT NULL,
                scope VARCHAR NOT NULL,
                cursor_value VARCHAR NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source_instance, stream, scope)
            )"""
        )
        self._con.execute(
            f"""CREATE TABLE IF NOT EXISTS {ETAG_TABLE} (
                source_instance VARCHAR NOT NULL,
                request VARCHAR NOT NULL,
                etag VARCHAR NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source_instance, request)
            )"""
        )
        self._con.execute(
            f"""CREATE TABLE IF NOT EXISTS {OWED_TABLE} (
                source_instance VARCHAR NOT NULL,
                stream VARCHAR NOT NULL,
                scope VARCHAR NOT NULL,
                parent_key VARCHAR NOT NULL,
                request JSON NOT NULL,
                reason VARCHAR NOT NULL,
                attempts INTEGER NOT NULL,
                first_owed_at TIMESTAMP NOT NULL,
                last_owed_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source_instance, stream, parent_key)
            )"""
        )
        self._con.execute(
            f"""CREATE TABLE IF NOT EXISTS {GONE_TABLE} (
                source_instance VARCHAR NOT NULL,
                stream VARCHAR NOT NULL,
                scope VARCHAR NOT NULL,
                parent_key VARCHAR NOT NULL,
                parent_cursor VARCHAR,
                reason VARCHAR NOT NULL,
                recorded_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source_instance, stream, parent_key)
            )"""
        )
        self._con.execute(
            f"""CREATE TABLE IF NOT EXISTS {REJECTS_TABLE} (
                source_instance VARCHAR NOT NULL,
                stream VARCHAR NOT NULL,
                scope VARCHAR,
                record_key VARCHAR,
                reject_key VARCHAR NOT NULL,
                reason VARCHAR NOT NULL,
                payload JSON NOT NULL,
                rejected_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source_instance, stream, reject_key)
            )"""
        )
        self._con.execute(
            f"""CREATE TABLE IF NOT EXISTS {MERGED_READS_TABLE} (
                source_instance VARCHAR NOT NULL,
                raw_table VARCHAR NOT NULL,
                scope VARCHAR,
                merged_at TIMESTAMP NOT NULL,
                earliest_read TIMESTAMP NOT NULL
            )"""
        )
        self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {OPS_SCHEMA}")
        self._con.execute(STREAM_RUNS_DDL)
        self._known: set[str] = set()
        # (table, source_instance, scope) -> [new, updated] records written through this store: the run report
        # tells new from re-read records without a scan of the table (the primary key decides).
        self._write_counts: dict[tuple[str, str, str | None], list[int]] = {}
        # One DuckDB connection is not safe to use from several threads at once: code reading through ``con``
        # takes turns here (connectors that read repositories in parallel). The writer thread has its own
        # connection and never takes this lock, so a read or an ETag look-up does not wait for a commit.
        self.lock = threading.RLock()
        self._etags: dict[str, dict[str, str]] = {}  # source instance -> request -> ETag (get_etag)
        self._etags_lock = threading.Lock()  # the ETag cache is read by extracting threads, updated by the writer
        # (source instance, stream) -> keys of its rejected records: a write clears the ones it stores without
        # a query per page (the table is small and almost always empty). Used by the writer thread only.
        self._rejected: dict[tuple[str, str], set[str]] = {}
        self._read_rejected(self._con)
        # (source instance, stream) that have (or may have) owed or gone rows: the ledgers are almost always
        # empty, and every stream run with children asks both for its scope (two queries a run, a few ms each
        # on a source of many scopes). Read once; a stream is added when this store owes or records one.
        self._ledgered: set[tuple[str, str]] = set()
        # The writer: a queue of writes in the order they were made, the thread committing them, and the
        # errors of writes that failed, per thread that made them, until that thread is told (flush()).
        self._queue: list[_Queued] = []
        self._queued_records = 0
        self._busy = False
        self._closing = False
        self._waiting = 0  # threads waiting for queued writes to commit
        self._owned: collections.Counter[int] = collections.Counter()  # thread -> its writes not yet committed
        # cursors moved by queued (or committing) writes: get_cursor waits for the writer only for those, so a
        # scope that starts while another's pages are still being written does not wait for them
        self._pending_cursors: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._queued_cursor_values: dict[tuple[str, str, str], str] = {}  # the last value queued per cursor
        self._failed: dict[int, BaseException] = {}
        self._changed = threading.Condition()
        self._local = threading.local()  # .depth: how many batched() blocks this thread is in
        self._writer: threading.Thread | None = None
        self.ledgers_changed()

    def ledgers_changed(self) -> None:
        """Read again which streams have owed or gone rows, after the ledgers were written other than through
        owe() and gone() (a shard merged in). Only ever added to: a stream listed without rows costs a query."""
        with self.lock:
            self._ledgered |= set(self.con.execute(
                f"SELECT source_instance, stream FROM {OWED_TABLE} "
                f"UNION SELECT source_instance, stream FROM {GONE_TABLE}"
            ).fetchall())

    def _read_rejected(self, con: duckdb.DuckDBPyConnection) -> None:
        self._rejected = {}
        for source_instance, stream, key in con.execute(
            f"SELECT source_instance, stream, record_key FROM {REJECTS_TABLE} WHERE record_key IS NOT NULL"
        ).fetchall():
            self._rejected.setdefault((source_instance, stream), set()).add(key)

    def __enter__(self) -> RawStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Commit what is queued, stop the writer and close the warehouse; raises a queued write's error that
        no flush() reported."""
        try:
            self._drain()
            with self._changed:
                self._closing = True
                self._changed.notify_all()
            if self._writer is not None:
                self._writer.join()
        finally:
            self._con.close()
        if self._failed:
            raise next(iter(self._failed.values()))

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The warehouse connection for reads (and writes of tables outside the raw contract), once every
        queued write is committed. Hold ``lock`` while using it where other threads may."""
        self._drain()
        return self._con

    @property
    def write_counts(self) -> dict[tuple[str, str, str | None], list[int]]:
        self._drain()
        return self._write_counts

    # ------------------------------------------------------------------ the writer

    @contextmanager
    def batched(self) -> Iterator[RawStore]:
        """Writes of this thread inside the block are queued and committed by the writer thread while this
        thread goes on; the block ends once they are committed. A write that fails rolls back its
        transaction (the writes of other threads in it are committed again on their own), every later write
        of this thread is dropped, and the error is raised by this thread's next write or at the end of the
        block at the latest: no page is lost silently, and no cursor commits past a page that did not."""
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        try:
            yield self
        except BaseException as exc:
            self._local.depth = depth
            try:
                self.flush()
            except BaseException as failed:
                if failed is not exc:
                    raise failed from exc  # the write error is what lost pages
            raise
        self._local.depth = depth
        self.flush()

    def flush(self) -> None:
        """Wait until every write this thread queued is committed (not those other threads queue meanwhile:
        GitHub's repository workers would wait for each other's pages); raise the error of a write this thread
        made that failed since its last flush."""
        self._drain(threading.get_ident())
        with self._changed:
            failed = self._failed.pop(threading.get_ident(), None)
        if failed is not None:
            raise failed

    def _drain(self, owner: int | None = None) -> None:
        """Wait until every queued write is committed, or (``owner``) every write of that thread."""
        with self._changed:
            self._waiting += 1
            self._changed.notify_all()  # (the writer stops gathering)
            try:
                while (self._queue or self._busy) if owner is None else self._owned[owner]:
                    self._changed.wait()
            finally:
                self._waiting -= 1

    def _submit(self, apply: Callable[[duckdb.DuckDBPyConnection, dict], Callable[[], None] | None] | None,
                records: int = 0, cursor: CursorUpdate | None = None,
                combine: _RawWrite | _OwedRow | None = None) -> None:
        """Queue a write; outside batched(), wait until it is committed (raising its error)."""
        cursor_key = (cursor.source_instance, cursor.stream, cursor.scope) if cursor is not None else None
        owner = threading.get_ident()
        with self._changed:
            if owner in self._failed:
                raise self._failed[owner]  # (kept for flush(): the block's end reports it too)
            if self._closing:
                raise RuntimeError(f"the raw store {self.path} is closed")
            while self._queued_records and self._queued_records + records > MAX_QUEUED_RECORDS:
                self._changed.wait()
            self._queue.append(_Queued(owner, apply, records, cursor_key, combine))
            self._queued_records += records
            self._owned[owner] += 1
            if cursor_key is not None:
                self._pending_cursors[cursor_key] += 1
                self._queued_cursor_values[cursor_key] = cursor.cursor_value
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_queued, name=f"raw-writer {self.path.name}",
                                                daemon=True)
                self._writer.start()
            self._changed.notify_all()
        if not getattr(self._local, "depth", 0):
            self.flush()

    def _write_queued(self) -> None:
        """The writer thread: apply what is queued inside an open transaction as it arrives, and commit (see
        LINGER_SECONDS), again and again."""
        con = self._con.cursor()  # its own connection to the same database: one connection per thread
        try:
            while True:
                with self._changed:
                    while not self._queue and not self._closing:
                        self._changed.wait()
                    if not self._queue:
                        return
                    taken, self._queue = self._queue, []
                    self._busy = True
                try:
                    self._commit(con, taken)
                finally:
                    with self._changed:
                        self._busy = False
                        self._queued_records -= sum(q.records for q in taken)
                        self._pending_cursors.subtract(q.cursor_key for q in taken if q.cursor_key is not None)
                        self._owned.subtract(q.owner for q in taken)
                        self._changed.notify_all()
        finally:
            con.close()

    def _commit(self, con: duckdb.DuckDBPyConnection, taken: list[_Queued]) -> None:
        """Commit ``taken``, and what is queued while it is applied, in one transaction (``taken`` grows with
        it); if that fails, each write again in its own, so one thread's bad write does not cost the others
        theirs. The writes of a thread that failed are dropped until it is told."""
        try:
            self._transaction(con, taken, gather=True)
            return
        except BaseException as exc:  # noqa: BLE001 - reported to the thread that made the write
            live = [q for q in taken if q.owner not in self._failed]
            if len(live) == 1:
                with self._changed:
                    self._failed[live[0].owner] = exc
                return
        for queued in taken:
            if queued.owner in self._failed:
                continue
            try:
                self._transaction(con, [queued])
            except BaseException as exc:  # noqa: BLE001 - reported to the thread that made the write
                with self._changed:
                    self._failed[queued.owner] = exc

    def _transaction(self, con: duckdb.DuckDBPyConnection, writes: list[_Queued], gather: bool = False) -> None:
        """Apply ``writes`` in one transaction and commit. With ``gather``, the writes queued meanwhile are
        taken (appended to ``writes``) and applied too, as they arrive, until LINGER_SECONDS or LINGER_RECORDS
        are reached or a thread waits: the statements run while the extracting threads download the next
        pages, and only the commit is left when a scope ends and waits for it."""
        pending = _Pending()
        until = time.monotonic() + LINGER_SECONDS
        con.execute("BEGIN TRANSACTION")
        try:
            after = []
            batch = writes[:]
            last = not gather
            while True:
                live = [q for q in batch if q.owner not in self._failed]
                after += [self._apply_run(con, run, pending) for run in _runs(live)]
                if last:
                    break
                with self._changed:
                    while not self._queue and not self._stop_gathering(writes, until):
                        self._changed.wait(max(0.0, until - time.monotonic()))
                    if not self._queue or (sum(q.records for q in writes) >= LINGER_RECORDS
                                           or time.monotonic() >= until):
                        break
                    # What a waiting thread queued before it waits is taken once more (it waits for that too),
                    # and then the transaction commits, however much other threads go on queuing.
                    last = self._closing or self._waiting > 0
                    batch, self._queue = self._queue, []
                    writes += batch
            self._write_state(con, pending)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            # The caches the statements changed: read again rather than undone one by one.
            self._known.clear()
            self._read_rejected(con)
            raise
        self._remember_etags(pending.all_etags)
        for done in after:
            if done is not None:
                done()
        for key, (new, updated) in pending.counts.items():  # only what was committed counts
            total = self._write_counts.setdefault(key, [0, 0])
            total[0] += new
            total[1] += updated

    def _stop_gathering(self, writes: list[_Queued], until: float) -> bool:
        """Whether the open transaction should commit (held under ``_changed``)."""
        return (self._closing or self._waiting > 0 or sum(q.records for q in writes) >= LINGER_RECORDS
                or time.monotonic() >= until)

    def _apply_run(self, con: duckdb.DuckDBPyConnection, run: list[_Queued],
                   pending: _Pending) -> Callable[[], None] | None:
        """One queued write, or a run of them that _runs found may share statements."""
        if isinstance(run[0].combine, _RawWrite):
            self._apply(con, [q.combine for q in run], pending)
            return None
        if isinstance(run[0].combine, _OwedRow):
            self._apply_owed(con, [q.combine for q in run])
            return None
        self._write_state(con, pending)  # (it may read or change them: forget() resets cursors)
        return run[0].apply(con, pending.counts)

    @staticmethod
    def _write_state(con: duckdb.DuckDBPyConnection, pending: _Pending) -> None:
        """The cursors and ETags the transaction's writes moved so far, one statement for each table (a
        statement per write was most of a small write's time: one on a keyed table costs milliseconds)."""
        if pending.cursors:
            con.execute(
                f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * len(pending.cursors)),
                [v for key, (value, at) in pending.cursors.items() for v in (*key, value, at)],
            )
            pending.cursors.clear()
        if pending.etags:
            con.execute(
                f"INSERT OR REPLACE INTO {ETAG_TABLE} VALUES " + ", ".join(["(?, ?, ?, ?)"] * len(pending.etags)),
                [v for (source_instance, request), (etag, at) in pending.etags.items()
                 for v in (source_instance, request, etag, at)],
            )
            pending.etags.clear()

    # ------------------------------------------------------------------ tables, cursors, ETags

    def ensure_table(self, table: str) -> None:
        if table not in self._known:
            # The writer's open transaction cannot see a table created after it began: it commits first.
            self._drain()
        with self.lock:
            self._ensure_table(self._con, table)

    def _ensure_table(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        if table in self._known:
            return
        con.execute(
            f"""CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{table} (
                source_instance VARCHAR NOT NULL,
                record_key VARCHAR NOT NULL,
                parent_key VARCHAR,
                scope VARCHAR,
                cursor_value VARCHAR,
                payload JSON NOT NULL,
                extracted_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source_instance, record_key)
            )"""
        )
        self._known.add(table)

    def get_cursor(self, source_instance: str, stream: str, scope: str) -> str | None:
        """The committed cursor; waits for the writer only when a queued write moves this very cursor (what
        the other scopes' queued pages hold cannot change it)."""
        with self._changed:
            pending = self._pending_cursors[(source_instance, stream, scope)] > 0
        if pending:
            self._drain()
        with self.lock:
            row = self._con.execute(
                f"SELECT cursor_value FROM {STATE_TABLE} WHERE source_instance = ? AND stream = ? AND scope = ?",
                [source_instance, stream, scope],
            ).fetchall()
        return row[0][0] if row else None

    def cursor_once_written(self, source_instance: str, stream: str, scope: str) -> str | None:
        """The cursor as it stands once the queued writes commit, without waiting for them: for a run's report
        only. A run starts from get_cursor, the committed one (a queued write may yet fail)."""
        key = (source_instance, stream, scope)
        with self._changed:
            if self._pending_cursors[key] > 0:
                return self._queued_cursor_values[key]
        return self.get_cursor(source_instance, stream, scope)

    def has_rows(self, table: str, source_instance: str, scope: str) -> bool:
        with self.lock:
            self._ensure_table(self.con, table)
            return bool(self._con.execute(
                f"SELECT count(*) FROM {RAW_SCHEMA}.{table} WHERE source_instance = ? AND scope = ?",
                [source_instance, scope],
            ).fetchall()[0][0])

    def get_etag(self, source_instance: str, request: str) -> str | None:
        # Read once per source instance and kept: a query per request cost ~20% of a GitHub load. Only this
        # store writes the warehouse while it is open (one writer), and the writer updates the copy once a
        # write is committed (a queued page's ETag is not used: its request is answered in full instead).
        with self._etags_lock:
            known = self._etags.get(source_instance)
            if known is None:
                with self.lock:
                    known = self._etags[source_instance] = dict(self._con.execute(
                        f"SELECT request, etag FROM {ETAG_TABLE} WHERE source_instance = ?", [source_instance]
                    ).fetchall())
            return known.get(request)

    def _remember_etags(self, etags: dict[tuple[str, str], str]) -> None:
        with self._etags_lock:
            for (source_instance, request), etag in etags.items():
                if source_instance in self._etags:
                    self._etags[source_instance][request] = etag

    def write(
        self,
        batches: Iterable[tuple[str, str, list[RawRecord]]],
        cursor: CursorUpdate | None = None,
        etags: Iterable[tuple[str, str, str]] = (),
        replace_children: Iterable[tuple[str, str, list[str]]] = (),
        *,
        settled: Iterable[tuple[str, str, str]] = (),
        rejected: Iterable[tuple[str, RejectedRecord]] = (),
    ) -> int:
        """Upsert several (table, source_instance, records) batches, a cursor and the ETags of the pages
        those records came from ((source_instance, request, etag)) in one transaction.

        ``replace_children`` (table, source_instance, parent keys): the rows of those parents are deleted
        first, so the batches hold their whole current set of children. ``settled`` (source_instance,
        stream, parent_key): owed reads these records pay (or children once gone that were read again), removed
        from the ledgers in the same transaction, so a crash can neither lose an owed read nor keep a paid one. ``rejected`` (source_instance,
        record): records of these pages kept out, recorded with them.

        Inside batched() the write is queued (see there). Returns the distinct records the batches hold.
        """
        # ON CONFLICT cannot touch one key twice in a statement: keep the last version read.
        batches = [(table, source_instance, list({r.record_key: r for r in records}.values()))
                   for table, source_instance, records in batches]
        write = _RawWrite(batches, cursor, list(etags), list(replace_children), list(settled), list(rejected),
                          datetime.now(UTC).replace(tzinfo=None))
        written = sum(len(records) for _, _, records in batches)
        self._submit(None, written, cursor, write)
        return written

    def _apply(self, con: duckdb.DuckDBPyConnection, writes: list[_RawWrite], pending: _Pending) -> None:
        """The statements of a run of writes (see _runs: only the first may replace children, only the last may
        hold rejects), in the writer's open transaction: one insert per table for the whole run (a statement
        on a keyed table costs milliseconds however few its rows: a source of many small writes paid most of
        its writer time in them). The result is what the writes one after another would leave, counts
        included: a record written again later in the run is the later version, counted updated."""
        for table, source_instance, parent_keys in writes[0].replace_children:
            self._ensure_table(con, table)
            if parent_keys:
                con.execute(
                    f"DELETE FROM {RAW_SCHEMA}.{table} WHERE source_instance = ? "
                    f"AND parent_key IN (SELECT unnest(?::VARCHAR[]))",
                    [source_instance, list(parent_keys)],
                )
        # (table, source instance) -> record key -> (its last version in the run, that write's time); and every
        # record in the order written, for the counts
        latest: dict[tuple[str, str], dict[str, tuple[RawRecord, datetime]]] = {}
        written: dict[tuple[str, str], list[RawRecord]] = {}
        for write in writes:
            for table, source_instance, records in write.batches:
                self._ensure_table(con, table)
                versions = latest.setdefault((table, source_instance), {})
                for record in records:
                    versions[record.record_key] = (record, write.at)
                written.setdefault((table, source_instance), []).extend(records)
        for (table, source_instance), versions in latest.items():
            if not versions:
                continue
            rows = list(versions.values())
            arrow = pa.Table.from_pydict(
                {
                    "source_instance": [source_instance] * len(rows),
                    "record_key": [r.record_key for r, _ in rows],
                    "parent_key": [r.parent_key for r, _ in rows],
                    "scope": [r.scope for r, _ in rows],
                    "cursor_value": [r.cursor_value for r, _ in rows],
                    "payload": [r.payload_json if r.payload_json is not None else payload_text(r.payload)
                                for r, _ in rows],
                    "extracted_at": [at for _, at in rows],
                },
                schema=_COLUMNS,
            )
            con.register("_raw_batch", arrow)
            # Insert what is new first (the primary key index finds conflicts, no scan), then
            # replace the rest: the counts of both become the run report's new / updated. (The payload is
            # JSON already: a `::JSON` cast of it cost ~20% more, measured on 10,000 Jira-sized documents.)
            inserted = {row[0] for row in con.execute(
                f"""INSERT INTO {RAW_SCHEMA}.{table}
                    SELECT source_instance, record_key, parent_key, scope, cursor_value,
                           payload, extracted_at
                    FROM _raw_batch
                    ON CONFLICT DO NOTHING
                    RETURNING record_key"""
            ).fetchall()}
            if len(inserted) < len(rows):
                con.execute(
                    f"""INSERT OR REPLACE INTO {RAW_SCHEMA}.{table}
                        SELECT source_instance, record_key, parent_key, scope, cursor_value,
                               payload, extracted_at
                        FROM _raw_batch
                        WHERE record_key NOT IN (SELECT unnest(?::VARCHAR[]))""",
                    [list(inserted)],
                )
            con.unregister("_raw_batch")
            new = set(inserted)  # a key's first write in the run is the new record, its later ones updates
            for record in written[(table, source_instance)]:
                counts = pending.counts.setdefault((table, source_instance, record.scope), [0, 0])
                if record.record_key in new:
                    new.discard(record.record_key)
                    counts[0] += 1
                else:
                    counts[1] += 1
            stream = table.split("__", 1)[-1]
            fixed = self._rejected.get((source_instance, stream), set()).intersection(versions)
            if fixed:
                con.execute(
                    f"DELETE FROM {REJECTS_TABLE} WHERE source_instance = ? AND stream = ? "
                    "AND record_key IN (SELECT unnest(?::VARCHAR[]))",
                    [source_instance, stream, sorted(fixed)],
                )
                self._rejected[(source_instance, stream)] -= fixed
        # The last value of each cursor and of each request's ETag (one statement cannot replace a row twice),
        # with the time of the write that made it: written before the commit (_write_state).
        for w in writes:
            if w.cursor is not None:
                c = w.cursor
                pending.cursors[(c.source_instance, c.stream, c.scope)] = (c.cursor_value, w.at)
            for source_instance, request, etag in w.etags:
                pending.etags[(source_instance, request)] = (etag, w.at)
                pending.all_etags[(source_instance, request)] = etag
        settled = sorted({s for w in writes for s in w.settled})
        if settled:
            for ledger in (OWED_TABLE, GONE_TABLE):  # read after all: neither owed nor gone any more
                con.execute(
                    f"""DELETE FROM {ledger} USING (SELECT unnest(?::VARCHAR[]) AS source_instance,
                            unnest(?::VARCHAR[]) AS stream, unnest(?::VARCHAR[]) AS parent_key) AS settled
                        WHERE {ledger}.source_instance = settled.source_instance
                          AND {ledger}.stream = settled.stream AND {ledger}.parent_key = settled.parent_key""",
                    [list(column) for column in zip(*settled)],
                )
        now = writes[-1].at
        for source_instance, reject in writes[-1].rejected:
            payload = storable_json(reject.payload)
            reject_key = reject.record_key if reject.record_key is not None else (
                "sha256:" + hashlib.sha256(payload.encode()).hexdigest()[:16])
            con.execute(
                f"INSERT OR REPLACE INTO {REJECTS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [source_instance, reject.stream, reject.scope, _storable_text(reject.record_key), reject_key,
                 _storable_text(reject.reason), payload, now],
            )
            if reject.record_key is not None:
                self._rejected.setdefault((source_instance, reject.stream), set()).add(reject.record_key)

    # ------------------------------------------------------------------ the ledger of owed child reads

    def owe(self, source_instance: str, stream: str, scope: str, parent_key: str, request: dict, reason: str) -> None:
        """Record (or count again) a child read that failed past the retries. ``reason`` is an error
        message built from names and paths, never from headers, so it holds no secret. Queued like a write:
        it commits no later than the parent records and cursor written after it."""
        self._ledgered.add((source_instance, stream))
        now = datetime.now(UTC).replace(tzinfo=None)
        row = _OwedRow((source_instance, stream, scope, parent_key, json.dumps(request, default=str),
                        _storable_text(reason)[:1000], now, now))
        self._submit(None, combine=row)

    @staticmethod
    def _apply_owed(con: duckdb.DuckDBPyConnection, rows: list[_OwedRow]) -> None:
        """Record owed reads (each parent once: see _runs) in one statement: a connector registering the reads
        it will make (Bitbucket's deployment ranges) owes one per deployment, ~7 ms a statement."""
        con.execute(
            f"""INSERT INTO {OWED_TABLE} VALUES {", ".join(["(?, ?, ?, ?, ?, ?, 1, ?, ?)"] * len(rows))}
                ON CONFLICT (source_instance, stream, parent_key) DO UPDATE SET
                    scope = excluded.scope, request = excluded.request, reason = excluded.reason,
                    attempts = {OWED_TABLE}.attempts + 1, last_owed_at = excluded.last_owed_at""",
            [v for row in rows for v in row.values],
        )

    def owed(self, source_instance: str, stream: str, scope: str | None = None) -> list[OwedRead]:
        """The reads owed for ``stream`` (of one scope, or all), oldest first."""
        if (source_instance, stream) not in self._ledgered:
            return []
        with self.lock:
            rows = self.con.execute(
                f"""SELECT stream, scope, parent_key, request, reason, attempts, first_owed_at FROM {OWED_TABLE}
                    WHERE source_instance = ? AND stream = ? AND (? IS NULL OR scope = ?)
                    ORDER BY first_owed_at, parent_key""",
                [source_instance, stream, scope, scope],
            ).fetchall()
        return [OwedRead(s, sc, k, json.loads(req), reason, attempts, first.replace(tzinfo=UTC))
                for s, sc, k, req, reason, attempts, first in rows]

    def settle(self, source_instance: str, stream: str, parent_key: str) -> None:
        """Remove one owed read without writing records (e.g. its parent is gone)."""
        self.write([], settled=[(source_instance, stream, parent_key)])

    def gone(self, source_instance: str, stream: str, scope: str, parent_key: str, reason: str,
             parent_cursor: str | None = None) -> None:
        """Record that the children ``stream`` of ``parent_key`` are gone at the source (404/410) and settle
        any read owed for them. With ``parent_cursor`` (the parent's cursor value when it was found gone),
        is_gone holds only while the parent is unchanged: a parent that changes is asked again."""
        self._ledgered.add((source_instance, stream))
        now = datetime.now(UTC).replace(tzinfo=None)
        values = [source_instance, stream, scope, parent_key, parent_cursor, _storable_text(reason)[:1000], now]

        def apply(con: duckdb.DuckDBPyConnection, _counts: dict) -> None:
            con.execute(f"INSERT OR REPLACE INTO {GONE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            con.execute(
                f"DELETE FROM {OWED_TABLE} WHERE source_instance = ? AND stream = ? AND parent_key = ?",
                [source_instance, stream, parent_key],
            )

        self._submit(apply)

    def forget(self, source_instance: str, scope: str, rows: Mapping[str, str],
               ledgers: Mapping[str, str] | None = None, reset_streams: Sequence[str] = ()) -> None:
        """In one transaction, for one scope: delete the rows of each raw table in ``rows`` that its SQL
        predicate (over the raw columns) matches, the owed and gone entries of each stream in ``ledgers`` that
        its predicate matches, and the saved cursors of ``reset_streams``, so they are read again from
        start_date. For a connector whose record keys changed: the rows under the old keys go, and the next
        read stores them under the new ones. Committed when it returns, as the next cursor read depends on it."""
        for table in rows:
            self.ensure_table(table)

        def apply(con: duckdb.DuckDBPyConnection, _counts: dict) -> None:
            for table, where in rows.items():
                con.execute(f"DELETE FROM {RAW_SCHEMA}.{table} WHERE source_instance = ? AND scope = ? AND ({where})",
                            [source_instance, scope])
            for stream, where in (ledgers or {}).items():
                for ledger in (OWED_TABLE, GONE_TABLE):
                    con.execute(f"DELETE FROM {ledger} WHERE source_instance = ? AND stream = ? AND scope = ? "
                                f"AND ({where})", [source_instance, stream, scope])
            for stream in reset_streams:
                con.execute(f"DELETE FROM {STATE_TABLE} WHERE source_instance = ? AND stream = ? AND scope = ?",
                            [source_instance, stream, scope])

        self._submit(apply)
        self.flush()

    def is_gone(self, source_instance: str, stream: str, parent_key: str, parent_cursor: str | None = None) -> bool:
        """Whether ``parent_key``'s ``stream`` is recorded gone (and, given ``parent_cursor``, the parent has
        not changed since)."""
        if (source_instance, stream) not in self._ledgered:
            return False
        with self.lock:
            row = self.con.execute(
                f"SELECT parent_cursor FROM {GONE_TABLE} WHERE source_instance = ? AND stream = ? AND parent_key = ?",
                [source_instance, stream, parent_key],
            ).fetchone()
        return row is not None and (row[0] is None or parent_cursor is None or row[0] == parent_cursor)

    def gone_objects(
        self, source_instance: str, stream: str | None = None, scope: str | None = None
    ) -> list[GoneObject]:
        if stream is not None and (source_instance, stream) not in self._ledgered:
            return []
        with self.lock:
            rows = self.con.execute(
                f"""SELECT stream, scope, parent_key, parent_cursor, reason, recorded_at FROM {GONE_TABLE}
                    WHERE source_instance = ? AND (? IS NULL OR stream = ?) AND (? IS NULL OR scope = ?)
                    ORDER BY stream, scope, parent_key""",
                [source_instance, stream, stream, scope, scope],
            ).fetchall()
        return [GoneObject(s, sc, k, c, reason, at.replace(tzinfo=UTC)) for s, sc, k, c, reason, at in rows]

    def rejected_records(self, source_instance: str, stream: str | None = None) -> list[RejectedRecord]:
        with self.lock:
            rows = self.con.execute(
                f"""SELECT stream, scope, record_key, reason, payload FROM {REJECTS_TABLE}
                    WHERE source_instance = ? AND (? IS NULL OR stream = ?) ORDER BY stream, reject_key""",
                [source_instance, stream, stream],
            ).fetchall()
        return [RejectedRecord(s, sc, k, reason, json.loads(p)) for s, sc, k, reason, p in rows]


def _runs(writes: list[_Queued]) -> Iterator[list[_Queued]]:
    """``writes`` in order, as runs that RawStore._apply_run may apply together: consecutive raw writes, the
    run ending after one that rejects records and before one that replaces children (so that deleting the
    replaced children comes first and recording rejects last, as in one write); consecutive owed reads, each
    parent once (one statement cannot update a row twice); any other write alone."""
    run: list[_Queued] = []
    owed: set[tuple] = set()
    for queued in writes:
        last, new = (run[-1].combine if run else None), queued.combine
        if isinstance(last, _RawWrite) and isinstance(new, _RawWrite):
            joins = not last.rejected and not new.replace_children
        else:
            joins = isinstance(last, _OwedRow) and isinstance(new, _OwedRow) and new.key not in owed
        if not joins:
            if run:
                yield run
            run, owed = [], set()
        run.append(queued)
        if isinstance(new, _OwedRow):
            owed.add(new.key)
    if run:
        yield run


def _storable_text(text: str | None) -> str | None:
    return None if text is None else _SURROGATE.sub("\ufffd", text)
