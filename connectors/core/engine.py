"""The engine: runs an Endpoint (and its children) page by page into the raw store.

Incremental contract, per (source instance, stream, scope):
- the request lower bound is ``cursor - lookback`` (or ``start_date`` on a first load);
- every page is committed together with whatever cursor it justifies;
- with ascending answers the cursor is the largest committed cursor value; otherwise it moves once
  the whole stream was read; an incomplete record (e.g. a run in progress) holds it back so the
  next run reads that record again;
- an ascending stream paged by position (offset, page number) asks for each next page by cursor
  (from the last record read) rather than by position, so records updated while it pages cannot
  shift an unread record past a page boundary (see Engine._rebase);
- a cursor value later than the run's start plus ``RunOptions.future_skew`` (a record dated 9999) is stored
  but never moves the cursor, which would otherwise skip every real change after it.

A failure costs only its own object:
- a child read answered 404/410 is recorded gone (raw._gone_objects) and its parent lands; it is not asked
  again while the parent is unchanged;
- a child read still failing after the client's retries is recorded owed (raw._owed_reads) and its parent
  lands; the stream then ends with an error after committing what it read, and the next run reads the
  owed children first (a row leaves the ledger in the transaction of the records that pay it);
- a record that cannot be stored (no key, null where a record or object belongs, a lone UTF-16 surrogate,
  an unreadable cursor timestamp) goes to raw._rejected_records and the rest of its page lands;
- paging that does not advance (a next link to a page already read, a page repeated) stops the stream
  with PagingLoopError instead of looping or skipping what the repeat hides.
A stream that fails raises StreamFailed (also of its cause's class) carrying its StreamResult so far.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlparse

from connectors.core.endpoint import Child, Endpoint, format_cursor, parse_timestamp
from connectors.core.errors import (
    GoneError,
    NotFoundError,
    PagingLoopError,
    RetriesExhaustedError,
    RetryableError,
    StreamFailed,
)
from connectors.core.http import HttpClient, RequestStats
from connectors.core.raw import (
    CursorUpdate,
    RawRecord,
    RawStore,
    RejectedRecord,
    lone_surrogate_at,
    payload_json_text,
    raw_table,
)

log = logging.getLogger(__name__)

# Given a request's params and the records it answered, the params of the next request by cursor (or None).
Rebase = Callable[[dict[str, Any], list[dict]], "dict[str, Any] | None"]
# A child read failing this way is owed, not fatal: the server may answer next run. (The client turns a
# RetryableError into RetriesExhaustedError once its retries are spent; a child list whose paging loops is
# a server fault of that one object.)
OWED_ON = (RetriesExhaustedError, RetryableError, PagingLoopError)
# Pages held for a batched child's read: at most this many batches of parents (their records wait in
# memory, uncommitted), so a source where few parents need a read still fills its requests.
BATCH_HOLD = 5
# Rejected records named one by one in the log per stream run; the rest are counted in one line.
REJECT_WARNINGS = 10
_ABSENT = object()


@dataclass
class StreamResult:
    """What one stream read for one scope; every field is safe to show (no secrets)."""

    source_instance: str
    table: str
    scope: str
    records: int = 0
    pages: int = 0
    child_records: dict[str, int] = field(default_factory=dict)
    stats: RequestStats = field(default_factory=RequestStats)
    cursor_before: str | None = None
    cursor_after: str | None = None
    seconds: float = 0.0
    error: str | None = None  # why the stream failed (a message built without secrets), None if it did not
    gone: int = 0  # child objects found gone (404/410) in this run, recorded in raw._gone_objects
    owed: int = 0  # child reads still failing after the retries, left owed in raw._owed_reads
    rejected: int = 0  # records kept out, in raw._rejected_records

    def as_metadata(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "pages": self.pages,
            "gone": self.gone,
            "owed": self.owed,
            "rejected": self.rejected,
            "error": self.error or "",
            "requests": self.stats.requests,
            "not_modified": self.stats.not_modified,
            "retries": self.stats.retries,
            "rate_limit_waits": self.stats.rate_limit_waits,
            "waited_seconds": round(self.stats.waited_seconds, 3),
            "cursor_before": self.cursor_before or "",
            "cursor_after": self.cursor_after or "",
            "seconds": round(self.seconds, 3),
            **{f"records_{name}": n for name, n in self.child_records.items()},
        }


@dataclass(frozen=True)
class RunOptions:
    lookback: timedelta = timedelta(hours=3)
    page_size: int = 100
    start_date: datetime | None = None
    # How far past the run's start a cursor value may be (clocks differ a little); a later one is a data
    # error and does not move the cursor.
    future_skew: timedelta = timedelta(minutes=5)


@dataclass
class _Run:
    """What one run of a stream tracks besides its result."""

    scope: str
    result: StreamResult
    ceiling: datetime  # the latest cursor value this run believes
    gone: dict[str, dict[str, str | None]] = field(default_factory=dict)  # child stream -> parent -> cursor
    owed: dict[str, set[str]] = field(default_factory=dict)  # child stream -> parent keys owed
    first_owed: str | None = None
    rejects: list[RejectedRecord] = field(default_factory=list)  # of the page being read
    settled: list[tuple[str, str, str]] = field(default_factory=list)  # of the page being read
    warned: int = 0  # rejects named in the log

    def take(self) -> tuple[list[RejectedRecord], list[tuple[str, str, str]]]:
        taken = (self.rejects, self.settled)
        self.rejects, self.settled = [], []
        return taken


@dataclass
class _Write:
    """One page's share of a commit: held back while its parents' batched children are read."""

    batches: list[tuple[str, str, list[RawRecord]]]
    cursor: CursorUpdate | None
    etags: list[tuple[str, str]]
    replaced: list[tuple[str, str, list[str]]]
    rejects: list[RejectedRecord]
    settled: list[tuple[str, str, str]]
    parents: int


class Engine:
    def __init__(
        self,
        *,
        source_type: str,
        source_instance: str,
        client: HttpClient,
        store: RawStore,
        options: RunOptions = RunOptions(),
    ):
        self.source_type = source_type
        self.source_instance = source_instance
        self.client = client
        self.store = store
        self.options = options
        # Conditional requests (ETags) for endpoints that allow them; off when a source opts out.
        self.conditional = True

    def table(self, endpoint: Endpoint) -> str:
        return raw_table(self.source_type, endpoint.stream)

    def stored_versions(self, stream: str, scope: str, version: str) -> frozenset[tuple[str, str]]:
        """(record key, the value at JSON path ``version``) of the records of ``stream`` stored for ``scope``
        that the next listing can return again: those whose cursor value is not before the listing's lower
        bound (cursor - lookback), less a day for the time zone an ISO timestamp is written in.

        A connector gives these to a Child's ``embedded``, so that a parent the lookback lists again as it
        is stored (same ``updated``) does not have its children asked again. ``version`` changes whenever the
        stream's cursor field does (or that field never changes: a creation time), so an older stored record
        cannot be listed unchanged; the nightly look-up reads the recent records, not the whole history.
        Empty while the stream has no cursor (a first load, or state reset to reload: then every child list
        is read)."""
        cursor = self.store.get_cursor(self.source_instance, stream, scope)
        if cursor is None:
            return frozenset()
        try:
            since = self.since(cursor)
        except ValueError:
            since = None  # an unreadable saved cursor: the run reads from start_date, so may list anything
        oldest = (since - timedelta(days=1)).date().isoformat() if since is not None else ""
        table = raw_table(self.source_type, stream)
        self.store.ensure_table(table)
        with self.store.lock:
            # (A cursor value not written as an ISO date is kept: its order as text says nothing.)
            rows = self.store.con.execute(
                f"""SELECT record_key, payload ->> ? FROM raw.{table}
                    WHERE source_instance = ? AND scope = ? AND NOT coalesce(
                        cursor_value < ? AND cursor_value GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*', false)""",
                [f"$.{version}", self.source_instance, scope, oldest],
            ).fetchall()
        return frozenset((key, value) for key, value in rows if value is not None)

    def since(self, cursor: str | None) -> datetime | None:
        parsed = parse_timestamp(cursor)
        if parsed is not None:
            return parsed - self.options.lookback
        return self.options.start_date

    def run(
        self,
        endpoint: Endpoint,
        *,
        scope: str,
        path_vars: Mapping[str, Any] | None = None,
        children: tuple[Child, ...] = (),
        window: tuple[datetime, datetime] | None = None,
    ) -> StreamResult:
        """Read the stream of one scope from its cursor (minus lookback) on, or, with ``window``, only
        the records whose cursor falls in [start, end) (a history load; see operations/history.py).

        Raises StreamFailed (an instance of the cause's class too) carrying the result so far."""
        if window is not None and endpoint.window_params is None:
            raise ValueError(f"stream '{endpoint.stream}' cannot be read by time window")
        started = time.monotonic()
        result = StreamResult(self.source_instance, self.table(endpoint), scope)
        try:
            # The pages are committed by the store's writer thread while the next ones download; the block
            # ends once they are all committed, and a write that failed raises here, in this scope.
            with self.store.batched():
                self._run(endpoint, result, scope, path_vars, children, window)
        except Exception as exc:
            result.seconds = time.monotonic() - started
            result.error = str(exc).splitlines()[0][:1000] if str(exc) else type(exc).__name__
            raise StreamFailed.of(result, exc).with_traceback(exc.__traceback__) from None
        result.seconds = time.monotonic() - started
        log.info(
            "%s %s [%s]: %d records, %d requests, %d retries",
            self.source_instance, result.table, scope, result.records, result.stats.requests, result.stats.retries,
        )
        return result

    def _run(
        self,
        endpoint: Endpoint,
        result: StreamResult,
        scope: str,
        path_vars: Mapping[str, Any] | None,
        children: tuple[Child, ...],
        window: tuple[datetime, datetime] | None,
    ) -> None:
        table = result.table
        for child in children:
            self.store.ensure_table(self.table(child.endpoint))
            result.child_records[child.endpoint.stream] = 0
        self.store.ensure_table(table)
        run = _Run(scope, result, utc_now() + self.options.future_skew)
        for child in children:
            stream = child.endpoint.stream
            run.gone[stream] = {g.parent_key: g.parent_cursor
                                for g in self.store.gone_objects(self.source_instance, stream, scope)}
            run.owed[stream] = set()
        # What earlier runs owe comes first: those parents' cursors are already past them.
        for child in children:
            self._pay_owed(child, endpoint, run)

        incremental = endpoint.cursor_field is not None
        result.cursor_before = self.store.get_cursor(self.source_instance, endpoint.stream, scope) if incremental else None
        trusted = self._trusted_cursor(endpoint, result.cursor_before, run)
        since = self.since(trusted) if incremental else None
        best: datetime | None = parse_timestamp(trusted)
        hold: datetime | None = None  # the oldest incomplete record's cursor value

        params = {**endpoint.params, **endpoint.paginator.first_params(self.page_size_for(endpoint))}
        if window is not None:
            since = window[0]
            params.update(endpoint.window_params(*window))
        elif since is not None and endpoint.since_params is not None:
            params.update(endpoint.since_params(since))
        path = endpoint.path.format(**(path_vars or {}))

        # Rows without a cursor mean the state was reset to reload the stream: read every page whatever
        # ETags the earlier load left. (No rows and no cursor is a first load, or a stream that is still
        # empty, where a 304 rightly says "still nothing".)
        fresh = incremental and trusted is None and self.store.has_rows(table, self.source_instance, scope)
        # A list whose cursor moves only at the end keeps its pages' ETags until then too: after a run
        # that died on page 2, a 304 on page 1 must not end the next run before page 2 is read.
        deferred: list[tuple[str, str, str]] = []
        rebase = None
        if incremental and endpoint.order == "ascending" and getattr(endpoint.paginator, "positional", False):
            rebase = self._rebase(endpoint, params, window)
        label = f"{self.source_instance} {endpoint.stream} ({scope})"
        # record key -> the newest cursor value stored in this run: a copy older than one already stored
        # (the same record twice in a page, or again on a later page) must not replace it.
        newest: dict[str, datetime] = {}
        batched = [c for c in children if c.batch]
        # Pages whose batched children are not read yet, and the parents waiting for them (key -> cursor value).
        held: list[_Write] = []
        waiting: dict[str, dict[str, str | None]] = {c.endpoint.stream: {} for c in batched}
        try:
            for records, etag in self._split_pages(endpoint, path, params, result.stats, fresh, rebase, label):
                if records is None:
                    continue  # 304: this page is stored as it is; nothing to write
                result.pages += 1
                reached_since = False
                page: dict[str, RawRecord] = {}
                parents: dict[str, tuple[str | None, datetime | None, dict]] = {}
                for record in records:
                    accepted = self._accept(endpoint, record, run)
                    if accepted is None:
                        continue
                    stored, value, complete = accepted
                    key = stored.record_key
                    if value is not None:
                        if key in newest and value < newest[key]:
                            log.info("%s: record %s read again with an older %s (%s); the newer copy is kept",
                                     label, key, endpoint.cursor_field, stored.cursor_value)
                            continue
                        newest[key] = value
                        if value > run.ceiling:
                            log.warning(
                                "%s: record %s has %s %s, later than this run's start plus %s: it is stored, but the "
                                "cursor does not move to it (a clock or data error at the source would otherwise "
                                "make every later run skip the real changes before that date)",
                                label, key, endpoint.cursor_field, stored.cursor_value, self.options.future_skew,
                            )
                        else:
                            if best is None or value > best:
                                best = value
                            if not complete:
                                hold = value if hold is None or value < hold else hold
                        if endpoint.stop_at_since and since is not None and value < since:
                            reached_since = True
                    page.pop(key, None)  # the later copy of equal age wins, at its own place
                    page[key] = stored
                    parents.pop(key, None)
                    parents[key] = (stored.cursor_value, value, record)

                batches = [(table, self.source_instance, list(page.values()))]
                etags: list[tuple[str, str]] = []
                if etag and incremental and endpoint.order != "ascending":
                    deferred.append((self.source_instance, *etag))
                elif etag:
                    etags.append(etag)
                replaced: list[tuple[str, str, list[str]]] = []
                for child in children:
                    chosen = [(key, cursor, record) for key, (cursor, value, record) in parents.items()
                              if not (child.only_since and since is not None and value is not None and value < since)]
                    if child.batch:
                        # Complete embedded children land with their page; the others wait for a batch read.
                        stream = child.endpoint.stream
                        embedded: list[RawRecord] = []
                        for key, cursor, record in chosen:
                            waiting[stream].pop(key, None)
                            got = self._embedded(child, key, record, run)
                            if got is None:
                                waiting[stream][key] = cursor
                            else:
                                embedded += got
                        embedded = _keep_newest(embedded)
                        result.child_records[stream] += len(embedded)
                        batches.append((self.table(child.endpoint), self.source_instance, embedded))
                        continue
                    whole: list[str] = []
                    child_records = _keep_newest(self._read_children(
                        child, endpoint, chosen, run, etags, fresh, whole if child.replace else None
                    ))
                    if child.replace:
                        replaced.append((self.table(child.endpoint), self.source_instance, whole))
                    result.child_records[child.endpoint.stream] += len(child_records)
                    batches.append((self.table(child.endpoint), self.source_instance, child_records))

                cursor = None
                if incremental and endpoint.order == "ascending":
                    cursor = self._cursor_update(endpoint, scope, best, hold)
                rejects, settled = run.take()
                held.append(_Write(batches, cursor, etags, replaced, rejects, settled, len(parents)))
                result.records += len(page)
                # A page whose parents need a batched read waits, so that one request chain reads the children
                # of several pages: until a batch is full, or BATCH_HOLD batches of parents are held.
                if (not any(waiting.values()) or any(len(waiting[c.endpoint.stream]) >= c.batch for c in batched)
                        or sum(w.parents for w in held) >= BATCH_HOLD * min(c.batch for c in batched)):
                    self._flush(endpoint.stream, batched, waiting, held, run, fresh)
                if reached_since:
                    break
        except Exception:
            if held:  # what was read before the failure lands, as it would page by page
                self._flush(endpoint.stream, batched, waiting, held, run, fresh)
            raise
        if held:
            self._flush(endpoint.stream, batched, waiting, held, run, fresh)

        if incremental and endpoint.order != "ascending":
            cursor = self._cursor_update(endpoint, scope, best, hold)
            if cursor is not None or deferred:
                self.store.write([], cursor, deferred)
        if incremental:
            # (not get_cursor: the next scope's pages download while this one's are written)
            result.cursor_after = self.store.cursor_once_written(self.source_instance, endpoint.stream, scope)
        if run.warned < result.rejected:
            log.warning("%s: %d more records rejected (see raw._rejected_records)", label, result.rejected - run.warned)
        if result.owed:
            raise RetriesExhaustedError(
                f"{label}: {result.owed} child read(s) still failing after the retries (first: {run.first_owed}); "
                f"everything else read was stored, and those reads are owed (raw._owed_reads): the next run reads "
                f"them first. If they keep failing the source may be down: rerun later"
            )

    def _flush(
        self, parent_stream: str, batched: list[Child], waiting: dict[str, dict[str, str | None]],
        held: list[_Write], run: _Run, fresh: bool,
    ) -> None:
        """Read the batched children of the held pages' parents, then commit the pages and those children
        in one transaction (the cursor of the last page with them)."""
        last = held[-1]
        for child in batched:
            stream = child.endpoint.stream
            table = self.table(child.endpoint)
            records, whole = self._read_batched(child, parent_stream, list(waiting[stream].items()), run, fresh)
            waiting[stream].clear()
            records = _keep_newest(records)
            last.batches.append((table, self.source_instance, records))
            if child.replace:
                last.replaced.append((table, self.source_instance, whole))
            run.result.child_records[stream] += len(records)
        rejects, settled = run.take()
        last.rejects += rejects
        last.settled += settled
        cursors = [w.cursor for w in held if w.cursor is not None]
        self.store.write(
            [b for w in held for b in w.batches], cursors[-1] if cursors else None,
            [(self.source_instance, *e) for w in held for e in w.etags], [r for w in held for r in w.replaced],
            settled=[s for w in held for s in w.settled],
            rejected=[(self.source_instance, r) for w in held for r in w.rejects],
        )
        held.clear()

    def _read_batched(
        self, child: Child, parent_stream: str, parents: list[tuple[str, str | None]], run: _Run, fresh: bool,
    ) -> tuple[list[RawRecord], list[str]]:
        """(child records, parents whose children were all read) of ``parents`` ((key, cursor value)),
        ``child.batch`` parents per request chain."""
        out: list[RawRecord] = []
        ask = [(key, cursor) for key, cursor in parents if not self._known_gone(child, key, cursor, run)]
        whole: list[str] = []
        for start in range(0, len(ask), child.batch):
            for parent_key, records in self._read_batch(child, parent_stream, ask[start:start + child.batch],
                                                        run, fresh).items():
                out += records
                whole.append(parent_key)
        return out, whole

    def _read_batch(
        self, child: Child, parent_stream: str, chunk: list[tuple[str, str | None]], run: _Run, fresh: bool,
    ) -> dict[str, list[RawRecord]]:
        """One request chain for the children of ``chunk`` ((key, cursor value)): parent key -> its records.
        A parent the answer leaves out is recorded gone; a chain failing past the retries leaves every
        parent of the chunk owed. Any other error (a bad token, a 400) fails the stream."""
        endpoint = child.endpoint
        stream = endpoint.stream
        cursors = dict(chunk)
        what = (f"{self.source_instance} {stream} of {len(chunk)} {parent_stream} ({chunk[0][0]} .. {chunk[-1][0]}, "
                f"{run.scope})")
        size = endpoint.max_page_size or self.options.page_size
        params = {**endpoint.params, **endpoint.paginator.first_params(size), **child.batch_body(list(cursors))}
        found: dict[str, list[RawRecord]] = {}
        rejects: list[RejectedRecord] = []
        try:
            for page, _etag in self._pages(endpoint, endpoint.path, params, run.result.stats, size, fresh=fresh,
                                           label=what):
                for group in page or []:
                    try:
                        parent_key = str(child.batch_parent(group))
                        listed = child.batch_records(group) if child.batch_records is not None else [group]
                    except Exception as exc:  # noqa: BLE001 - one malformed group must not fail the others
                        self._reject(run, stream, None, group, f"a group of the {stream} answer names no "
                                     f"{parent_stream} ({type(exc).__name__}: {exc})", rejects)
                        continue
                    if parent_key not in cursors:
                        self._reject(run, stream, None, group, f"the {stream} answer holds a group of "
                                     f"{parent_stream} {parent_key}, which was not asked for", rejects)
                        continue
                    listed = listed if isinstance(listed, list) else [listed]
                    found.setdefault(parent_key, []).extend(
                        self._child_records(child, listed, parent_key, run, rejects))
        except OWED_ON as exc:
            reason = f"{what}: {exc}"
            log.warning("%s; the %s records are stored and these %d reads are owed (raw._owed_reads): the next run "
                        "reads them first", reason, parent_stream, len(chunk))
            for parent_key, parent_cursor in chunk:
                self._owe(stream, parent_key, {"path": endpoint.path, "batch": True, "parent_cursor": parent_cursor},
                          reason, run)
            return {}
        if rejects:  # counted only now: the rejects of a chain that was then owed are read again next time
            run.rejects += rejects
            run.result.rejected += len(rejects)
        for parent_key, parent_cursor in chunk:
            if parent_key in found:
                self._settle(stream, parent_key, run)
            else:
                self._gone(stream, parent_key, parent_cursor, run, f"{what}: {endpoint.method} {endpoint.path} left "
                           f"{parent_stream} {parent_key} out of its answer (deleted, or not visible to the token); "
                           f"recorded (raw._gone_objects), not asked again until the {parent_stream} record changes")
        return found

    def _embedded(self, child: Child, parent_key: str, parent: dict, run: _Run) -> list[RawRecord] | None:
        """The child records ``parent`` carries when they are complete, or None when the child endpoint
        must be asked."""
        if child.embedded is None:
            return None
        try:
            embedded, complete = child.embedded(parent)
        except Exception:  # noqa: BLE001 - a malformed embedded list: ask the child endpoint instead
            return None
        if not complete:
            return None
        embedded_rejects: list[RejectedRecord] = []
        out = self._child_records(child, embedded, parent_key, run, embedded_rejects)
        run.rejects += embedded_rejects
        run.result.rejected += len(embedded_rejects)
        return out

    @staticmethod
    def _known_gone(child: Child, parent_key: str, parent_cursor: str | None, run: _Run) -> bool:
        """Gone, and the parent has not changed since: asking again would get the same 404."""
        known = run.gone[child.endpoint.stream].get(parent_key, _ABSENT)
        return known is not _ABSENT and (known is None or known == parent_cursor)

    def _gone(self, stream: str, parent_key: str, parent_cursor: str | None, run: _Run, reason: str) -> None:
        log.warning("%s", reason)
        self.store.gone(self.source_instance, stream, run.scope, parent_key, reason, parent_cursor)
        run.gone[stream][parent_key] = parent_cursor
        run.owed[stream].discard(parent_key)
        run.result.gone += 1

    def _owe(self, stream: str, parent_key: str, request: dict, reason: str, run: _Run) -> None:
        self.store.owe(self.source_instance, stream, run.scope, parent_key, request, reason)
        run.owed[stream].add(parent_key)
        run.result.owed += 1
        run.first_owed = run.first_owed or reason

    def _settle(self, stream: str, parent_key: str, run: _Run) -> None:
        """A read that pays what an earlier run owed (or outdates a gone record) settles it with its records."""
        if parent_key in run.owed[stream] or parent_key in run.gone[stream]:
            run.settled.append((self.source_instance, stream, parent_key))
            run.owed[stream].discard(parent_key)
            run.gone[stream].pop(parent_key, None)

    def _trusted_cursor(self, endpoint: Endpoint, cursor: str | None, run: _Run) -> str | None:
        """The stored cursor, unless it cannot be a real one (unreadable, or in the future: written before
        cursors were capped at the run's start): then the stream is read as if it had none."""
        if cursor is None:
            return None
        try:
            value = parse_timestamp(cursor)
        except ValueError:
            value = None
        if value is not None and value <= run.ceiling:
            return cursor
        log.warning(
            "%s %s (%s): the saved cursor %r is %s; the stream is read again from start_date and the cursor "
            "set from what it holds", self.source_instance, endpoint.stream, run.scope, cursor,
            "not a timestamp" if value is None else "in the future",
        )
        return None

    def _accept(self, endpoint: Endpoint, record: Any, run: _Run) -> tuple[RawRecord, datetime | None, bool] | None:
        """(what to store, its cursor value, whether it is complete), or None when the record is rejected."""
        stream = endpoint.stream
        if not isinstance(record, dict):
            return self._reject(run, stream, None, record, f"the list holds {_what(record)} where a record belongs")
        try:
            key = endpoint.key_of(record)
        except ValueError:
            return self._reject(run, stream, None, record, f"it has no '{endpoint.primary_key}' (the stream's key), "
                                f"so it cannot be told from other records")
        if endpoint.key_with_scope:
            key = f"{run.scope}:{key}"
        cursor = endpoint.cursor_of(record)
        try:
            value = parse_timestamp(cursor)
        except (ValueError, TypeError, OverflowError):
            return self._reject(run, stream, key, record, f"its '{endpoint.cursor_field}' is {cursor[:60]!r}, "
                                f"not a timestamp, so the stream's cursor cannot count it")
        try:
            if endpoint.keep is not None and not endpoint.keep(record):
                return None
            complete = endpoint.is_complete(record) if endpoint.is_complete is not None else True
            stored = endpoint.transform(record) if endpoint.transform else record
        except Exception as exc:  # noqa: BLE001 - one record's shape must not fail its page
            nulls = [k for k, v in record.items() if v is None][:8]
            return self._reject(run, stream, key, record, f"the connector cannot read it ({type(exc).__name__}: "
                                f"{exc})" + (f"; null here: {', '.join(nulls)}" if nulls else ""))
        problem, text = _storable(stored, key, cursor)
        if problem:
            return self._reject(run, stream, key, record, problem)
        return RawRecord(key, stored, None, run.scope, cursor, payload_json=text), value, bool(complete)

    def _reject(
        self, run: _Run, stream: str, key: str | None, record: Any, reason: str,
        into: list[RejectedRecord] | None = None,
    ) -> None:
        """Keep a record out: into the page's rejects (counted), or ``into`` (the caller counts them)."""
        if key is not None and lone_surrogate_at(key):
            key = None
        if into is not None:
            into.append(RejectedRecord(stream, run.scope, key, reason, record))
        else:
            run.rejects.append(RejectedRecord(stream, run.scope, key, reason, record))
            run.result.rejected += 1
        if run.warned < REJECT_WARNINGS:
            run.warned += 1
            log.warning(
                "%s %s (%s): record %s rejected: %s. It is kept out (raw._rejected_records) and the rest of its "
                "page is stored; it is stored once the source sends it readable",
                self.source_instance, stream, run.scope, key if key is not None else "(no key)", reason,
            )
        return None

    def _rebase(
        self, endpoint: Endpoint, first: dict[str, Any], window: tuple[datetime, datetime] | None
    ) -> Rebase | None:
        """For an ascending list paged by position: the request that reads on from a page's last record by
        its cursor (the first page of ``cursor >= last``), or None to take the paginator's next position.

        By position, a record updated while the list is read moves to its end and the records after its
        old place move up one: the one at the next page boundary is never read, and the cursor, which
        passes it, would leave it unread for good. A request by cursor has no position to shift. It
        starts with the records sharing the boundary value, read again, so it asks for one record more
        than a page (APIs that cap the page size return one new record fewer). When a whole page shares
        one value (to the API's resolution: Jira's JQL reads minutes), the bound cannot move and the
        paginator's next position is taken; a shift inside that group stays behind cursor plus lookback.
        """
        if endpoint.since_params is None and (window is None or endpoint.window_params is None):
            return None
        wider = endpoint.paginator.first_params(self.page_size_for(endpoint) + 1)
        floor: list[datetime] = []  # the last bound asked for: a bound only ever moves forward

        def rebase(params: dict[str, Any], records: list[dict]) -> dict[str, Any] | None:
            last = parse_timestamp(endpoint.cursor_of(records[-1])) if records else None
            if last is None or (floor and last <= floor[0]):
                return None  # (a server that ignored the bound must not send us round in a loop)
            bound = endpoint.window_params(last, window[1]) if window is not None else endpoint.since_params(last)
            if all(params.get(k) == v for k, v in bound.items()):
                return None  # a page of equal cursors: page on by position
            floor[:] = [last]
            return {**first, **wider, **bound}

        return rebase

    def page_size_for(self, endpoint: Endpoint) -> int:
        size = self.options.page_size
        return min(size, endpoint.max_page_size) if endpoint.max_page_size else size

    def _cursor_update(
        self, endpoint: Endpoint, scope: str, best: datetime | None, hold: datetime | None
    ) -> CursorUpdate | None:
        if best is None:
            return None
        # Never past an incomplete record: the next run's lower bound must still include it.
        value = min(best, hold + self.options.lookback) if hold is not None else best
        return CursorUpdate(self.source_instance, endpoint.stream, scope, format_cursor(value))

    def pages(
        self, endpoint: Endpoint, path: str, params: dict[str, Any], stats: RequestStats, page_size: int | None = None
    ) -> Iterator[list[dict]]:
        """Yield each page's records, following the endpoint's paginator until it says stop."""
        for records, _etag in self._pages(endpoint, path, params, stats, page_size):
            if records is not None:
                yield records

    def _split_pages(
        self, endpoint: Endpoint, path: str, params: dict[str, Any], stats: RequestStats, fresh: bool = False,
        rebase: Rebase | None = None, label: str | None = None,
    ) -> Iterator[tuple[list[dict] | None, tuple[str, str] | None]]:
        """The pages of ``params``, or of the narrower requests ``endpoint.split`` puts in its place."""
        queue = [params]
        while queue:
            narrower: list[dict[str, Any]] = []
            yield from self._pages(endpoint, path, queue.pop(0), stats, narrower=narrower, fresh=fresh, rebase=rebase,
                                   label=label)
            queue[:0] = narrower

    def _pages(
        self,
        endpoint: Endpoint,
        path: str,
        params: dict[str, Any],
        stats: RequestStats,
        page_size: int | None = None,
        narrower: list[dict[str, Any]] | None = None,
        fresh: bool = False,
        rebase: Rebase | None = None,
        label: str | None = None,
    ) -> Iterator[tuple[list[dict] | None, tuple[str, str] | None]]:
        """Yield (records, (request, etag) to save with them) per page; records is None for a 304.

        A 304 answers a conditional request whose page we stored last time. On a newest-first list
        that stops at the cursor it means nothing changed since; elsewhere the next page may still
        have changed, so the Link of the 304 is followed. ``rebase`` (see _rebase) turns the
        paginator's next position into a request by cursor. A listing that asks for a request it already
        made, or gets the previous page again, stops with PagingLoopError (``label`` names it).
        """
        label = label or f"{self.source_instance} {endpoint.stream}"
        url: str | None = path
        page_size = page_size or self.page_size_for(endpoint)
        again: set[tuple[str | None, str | None]] = set()
        asked: set[str] = set()
        previous: list[tuple[str | None, str | None]] = []
        number = 0
        method = endpoint.method
        while url is not None:
            query, payload = endpoint.request_of(params)
            request = f"{url}?{urlencode(sorted((str(k), str(v)) for k, v in query.items()))}" if query else url
            if payload is not None:  # (a POST's page is named by its body; no ETag is kept for it)
                request = f"POST {request} {json.dumps(payload, sort_keys=True, default=str)}"
            if request in asked:
                raise PagingLoopError(
                    f"{label}: the server's next page ({method} {urlparse(url).path}) is one already read in this "
                    f"listing, so its paging does not advance; stopped after {number} pages instead of reading them for ever. "
                    f"What was read is stored and the cursor does not pass it; the next run reads the list again "
                    f"(if this repeats, the server's paging is broken: report it to its owner)"
                )
            asked.add(request)
            number += 1
            conditional = endpoint.conditional and self.conditional
            known = self.store.get_etag(self.source_instance, request) if conditional and not fresh else None
            try:
                if payload is None:
                    body, response = self.client.get_json(
                        url, query, stats=stats, headers={"If-None-Match": known} if known else None
                    )
                else:
                    body, response = self.client.post_json(url, payload, query, stats=stats,
                                                           graphql=endpoint.graphql, label=endpoint.stream)
            except NotFoundError as exc:
                if number == 1:
                    raise  # the list itself is missing: the client's advice (scope, base_url) is the right one
                status = 410 if isinstance(exc, GoneError) else 404
                raise type(exc)(
                    f"{label}: page {number} ({method} {urlparse(url).path}) answers {status} after {number - 1} pages "
                    f"were read: the list changed while it was read, or its next link expired. The pages read are "
                    f"stored and the cursor does not pass them; the next run reads the list again from its cursor"
                ) from None
            if response.status_code == 304:
                yield None, None
                if endpoint.order == "descending" and endpoint.stop_at_since:
                    return
                link = response.links.get("next")
                if not link or not link.get("url"):
                    return
                url, params = link["url"], {}
                continue
            if narrower is not None and endpoint.split is not None and url == path:
                parts = endpoint.split(params, body)
                if parts:
                    narrower.extend(parts)
                    return
            # Paging and cursors go by what the page listed; `keep` only decides what is passed on (a page
            # whose records were all filtered out is not the end of the list).
            records = endpoint.listed_of(body)
            seen = [(_key_or_none(endpoint, r), _cursor_or_none(endpoint, r)) for r in records]
            # (A request by cursor may rightly get its records again from a server that ignores the bound:
            # _rebase then pages on by position.)
            if seen and not again and seen == previous and any(key is not None for key, _ in seen):
                raise PagingLoopError(
                    f"{label}: page {number} ({method} {urlparse(url).path}) holds the same {len(records)} records as "
                    f"page {number - 1}: the server repeated a page, so the pages it hides would be missed; stopped "
                    f"here. The pages before it are stored and the cursor does not pass them; the next run reads the "
                    f"list again (if this repeats, the server's paging is broken: report it to its owner)"
                )
            previous = seen
            etag = response.headers.get("ETag") if conditional else None
            # A request by cursor starts with the records sharing the last page's final cursor value:
            # those unchanged since were just stored (with their children), so they are not passed on.
            unseen = _kept(endpoint, [r for r, s in zip(records, seen) if s not in again] if again else records)
            yield unseen, ((request, etag) if etag else None)
            asked_size = page_size + 1 if again else page_size
            step = endpoint.paginator.next_request(params, body, response, len(records), asked_size)
            if step is None:
                return
            by_cursor = rebase(params, records) if rebase is not None else None
            again = set(seen) if by_cursor is not None else set()
            next_url, params = (None, by_cursor) if by_cursor is not None else step
            url = next_url or path

    def _pay_owed(self, child: Child, parent_endpoint: Endpoint, run: _Run) -> None:
        """Read again the children earlier runs owe for this scope; each read commits with its settlement."""
        stream = child.endpoint.stream
        table = self.table(child.endpoint)
        if child.batch:
            owed = [o for o in self.store.owed(self.source_instance, stream, run.scope)
                    if isinstance(o.request, dict) and o.request.get("batch")]
            run.owed[stream].update(o.parent_key for o in owed)
            for start in range(0, len(owed), child.batch):
                chunk = [(o.parent_key, o.request.get("parent_cursor")) for o in owed[start:start + child.batch]]
                found = self._read_batch(child, parent_endpoint.stream, chunk, run, fresh=True)
                records = _keep_newest([r for records in found.values() for r in records])
                rejects, settled = run.take()
                self.store.write([(table, self.source_instance, records)], None, (),
                                 [(table, self.source_instance, list(found))] if child.replace else [],
                                 settled=settled, rejected=[(self.source_instance, r) for r in rejects])
                run.result.child_records[stream] += len(records)
            return
        for owed in self.store.owed(self.source_instance, stream, run.scope):
            path = owed.request.get("path") if isinstance(owed.request, dict) else None
            if not path:
                continue  # owed by other code than the engine (it knows how to read it again)
            run.owed[stream].add(owed.parent_key)
            got = self._read_one(child, parent_endpoint.stream, owed.parent_key, owed.request.get("parent_cursor"),
                                 path, run, fresh=True)
            if got is None:
                continue
            records, etags, complete = got
            records = _keep_newest(records)
            rejects, settled = run.take()
            self.store.write(
                [(table, self.source_instance, records)], None, [(self.source_instance, *e) for e in etags],
                [(table, self.source_instance, [owed.parent_key])] if child.replace and complete else [],
                settled=settled, rejected=[(self.source_instance, r) for r in rejects],
            )
            run.result.child_records[stream] += len(records)

    def _read_children(
        self,
        child: Child,
        parent_endpoint: Endpoint,
        parents: list[tuple[str, str | None, dict]],
        run: _Run,
        etags: list[tuple[str, str]] | None = None,
        fresh: bool = False,
        whole: list[str] | None = None,
    ) -> list[RawRecord]:
        """The child records of ``parents`` ((key, cursor value, record)); ``whole`` collects the parents
        whose every child page was read (none answered 304), whose stored children may therefore be
        replaced. A child that is gone or failing is recorded (see _read_one); its parent still lands."""
        endpoint = child.endpoint
        stream = endpoint.stream
        out: list[RawRecord] = []
        for parent_key, parent_cursor, parent in parents:
            embedded = self._embedded(child, parent_key, parent, run)
            if embedded is not None:
                out += embedded
                continue
            if self._known_gone(child, parent_key, parent_cursor, run):
                continue
            try:
                path = endpoint.path.format(**child.path_vars(parent))
            except Exception as exc:  # noqa: BLE001 - a parent without what its child's path needs
                self._reject(run, stream, None, parent, f"the {stream} of {parent_endpoint.stream} {parent_key} cannot "
                             f"be asked for: its request needs a field the parent lacks ({type(exc).__name__}: {exc})")
                continue
            got = self._read_one(child, parent_endpoint.stream, parent_key, parent_cursor, path, run, fresh)
            if got is None:
                continue
            records, child_etags, complete = got
            out += records
            if etags is not None:
                etags += child_etags
            if complete and whole is not None:
                whole.append(parent_key)
        return out

    def _read_one(
        self, child: Child, parent_stream: str, parent_key: str, parent_cursor: str | None, path: str, run: _Run,
        fresh: bool,
    ) -> tuple[list[RawRecord], list[tuple[str, str]], bool] | None:
        """(records, ETags, whether every page was read) of one parent's children, or None when the read
        was recorded gone or owed instead. Any other error (a bad token) fails the stream."""
        endpoint = child.endpoint
        stream = endpoint.stream
        what = f"{self.source_instance} {stream} of {parent_stream} {parent_key} ({run.scope})"
        # Child pages cost one request per parent: always ask for the largest page allowed.
        size = endpoint.max_page_size or self.options.page_size
        params = {**endpoint.params, **endpoint.paginator.first_params(size)}
        records: list[RawRecord] = []
        rejects: list[RejectedRecord] = []
        etags: list[tuple[str, str]] = []
        complete = True
        try:
            for page, etag in self._pages(endpoint, path, params, run.result.stats, size, fresh=fresh, label=what):
                if page is not None:
                    records += self._child_records(child, page, parent_key, run, rejects)
                else:
                    complete = False
                if etag:
                    etags.append(etag)
        except NotFoundError as exc:
            status = 410 if isinstance(exc, GoneError) else 404
            self._gone(stream, parent_key, parent_cursor, run,
                       f"{what}: {endpoint.method} {path} answers {status} (deleted, or not visible to the token); "
                       f"skipped and recorded (raw._gone_objects), not asked again until the {parent_stream} record "
                       f"changes")
            return None
        except OWED_ON as exc:
            reason = f"{what}: {exc}"
            log.warning("%s; the %s record is stored and this read is owed (raw._owed_reads): the next run reads "
                        "it first", reason, parent_stream)
            self._owe(stream, parent_key, {"path": path, "parent_cursor": parent_cursor}, reason, run)
            return None
        if rejects:  # counted only now: the rejects of a read that was then owed are read again next time
            run.rejects += rejects
            run.result.rejected += len(rejects)
        self._settle(stream, parent_key, run)
        return records, etags, complete

    def _child_records(
        self, child: Child, records: list[Any], parent_key: str, run: _Run, rejects: list[RejectedRecord]
    ) -> list[RawRecord]:
        """The storable child records of one parent; the others go to ``rejects``."""
        endpoint = child.endpoint
        stream = endpoint.stream
        out: list[RawRecord] = []
        for r in records:
            if not isinstance(r, dict):
                self._reject(run, stream, None, r, f"the {stream} list of {parent_key} holds {_what(r)} where a "
                             f"record belongs", rejects)
                continue
            try:
                key = endpoint.key_of(r)
            except ValueError:
                self._reject(run, stream, None, r, f"a {stream} record of {parent_key} has no "
                             f"'{endpoint.primary_key}' (the stream's key), so it cannot be told from others", rejects)
                continue
            key = f"{parent_key}:{key}" if child.key_with_parent else key
            cursor = endpoint.cursor_of(r)
            problem, text = _storable(r, key, cursor)
            if problem:
                self._reject(run, stream, key, r, problem, rejects)
                continue
            out.append(RawRecord(key, r, parent_key, run.scope, cursor, payload_json=text))
        return out


def _what(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__} ({str(value)[:40]!r})"


def _key_or_none(endpoint: Endpoint, record: Any) -> str | None:
    try:
        return endpoint.key_of(record) if isinstance(record, Mapping) else None
    except ValueError:
        return None


def _cursor_or_none(endpoint: Endpoint, record: Any) -> str | None:
    return endpoint.cursor_of(record) if isinstance(record, Mapping) else None


def _kept(endpoint: Endpoint, records: list[Any]) -> list[Any]:
    """``endpoint.keep``'s records, and those it cannot judge (a null): _accept rejects them by name."""
    if endpoint.keep is None:
        return records
    out = []
    for r in records:
        try:
            if endpoint.keep(r):
                out.append(r)
        except Exception:  # noqa: BLE001 - judged (and rejected with a reason) by _accept
            out.append(r)
    return out


def _storable(payload: Any, key: str, cursor: str | None) -> tuple[str | None, str | None]:
    """(why it cannot be stored, None) or (None, the payload as the JSON text to store)."""
    try:
        text, by_orjson = payload_json_text(payload)
    except (TypeError, ValueError) as exc:
        return f"it cannot be written as JSON ({exc})", None
    # orjson refuses a lone surrogate (\ud800 not followed by its pair); json.dumps writes it as an escape, so
    # only its text with such an escape needs the slower walk (searching every large text costs more than
    # writing it).
    if (not by_orjson and "\\ud" in text) or not key.isascii() or (cursor is not None and not cursor.isascii()):
        at = lone_surrogate_at(payload) or ("the key" if lone_surrogate_at(key) else None) or (
            "the cursor" if cursor is not None and lone_surrogate_at(cursor) else None)
        if at:
            return (f"'{at}' holds a lone UTF-16 surrogate (half of a character, e.g. an emoji cut in two), which "
                    f"no UTF-8 store accepts; its payload is shown here with the half character as U+FFFD"), None
    return None, text


def _keep_newest(records: list[RawRecord]) -> list[RawRecord]:
    """One record per key: the newest by cursor value (a record read twice in one page), the later read
    when they are equally new or carry no comparable cursor."""
    chosen: dict[str, RawRecord] = {}
    for record in records:
        held = chosen.get(record.record_key)
        if held is not None and _is_older(record.cursor_value, held.cursor_value):
            continue
        chosen.pop(record.record_key, None)
        chosen[record.record_key] = record
    return list(chosen.values())


def _is_older(cursor: str | None, than: str | None) -> bool:
    try:
        a, b = parse_timestamp(cursor), parse_timestamp(than)
    except ValueError:
        return False
    return a is not None and b is not None and a < b


def utc_now() -> datetime:
    return datetime.now(UTC)
