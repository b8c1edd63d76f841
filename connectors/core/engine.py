"""The engine: runs an Endpoint (and its children) page by page into the raw store.

Incremental contract, per (source instance, stream, scope):
- the request lower bound is ``cursor - lookback`` (or ``start_date`` on a first load);
- every page is committed together with whatever cursor it justifies;
- with ascending answers the cursor is the largest committed cursor value; otherwise it moves once
  the whole stream was read; an incomplete record (e.g. a run in progress) holds it back so the
  next run reads that record again;
- an ascending stream paged by position (offset, page number) asks for each next page by cursor
  (from the last record read) rather than by position, so records updated while it pages cannot
  shift an unread record past a page boundary (see Engine._rebase).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from connectors.core.endpoint import Child, Endpoint, format_cursor, parse_timestamp
from connectors.core.http import HttpClient, RequestStats
from connectors.core.raw import CursorUpdate, RawRecord, RawStore, raw_table

log = logging.getLogger(__name__)

# Given a request's params and the records it answered, the params of the next request by cursor (or None).
Rebase = Callable[[dict[str, Any], list[dict]], "dict[str, Any] | None"]


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

    def as_metadata(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "pages": self.pages,
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
        the records whose cursor falls in [start, end) (a history load; see connectors/core/history.py)."""
        if window is not None and endpoint.window_params is None:
            raise ValueError(f"stream '{endpoint.stream}' cannot be read by time window")
        started = time.monotonic()
        table = self.table(endpoint)
        result = StreamResult(self.source_instance, table, scope)
        for child in children:
            self.store.ensure_table(self.table(child.endpoint))
            result.child_records[child.endpoint.stream] = 0
        self.store.ensure_table(table)

        incremental = endpoint.cursor_field is not None
        result.cursor_before = self.store.get_cursor(self.source_instance, endpoint.stream, scope) if incremental else None
        since = self.since(result.cursor_before) if incremental else None
        best: datetime | None = parse_timestamp(result.cursor_before)
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
        fresh = incremental and result.cursor_before is None and self.store.has_rows(table, self.source_instance, scope)
        # A list whose cursor moves only at the end keeps its pages' ETags until then too: after a run
        # that died on page 2, a 304 on page 1 must not end the next run before page 2 is read.
        deferred: list[tuple[str, str, str]] = []
        rebase = None
        if incremental and endpoint.order == "ascending" and getattr(endpoint.paginator, "positional", False):
            rebase = self._rebase(endpoint, params, window)
        for records, etag in self._split_pages(endpoint, path, params, result.stats, fresh, rebase):
            if records is None:
                continue  # 304: this page is stored as it is; nothing to write
            result.pages += 1
            reached_since = False
            page: list[RawRecord] = []
            for record in records:
                value = parse_timestamp(endpoint.cursor_of(record)) if incremental else None
                if value is not None:
                    if best is None or value > best:
                        best = value
                    if endpoint.is_complete is not None and not endpoint.is_complete(record):
                        hold = value if hold is None or value < hold else hold
                    if endpoint.stop_at_since and since is not None and value < since:
                        reached_since = True
                stored = endpoint.transform(record) if endpoint.transform else record
                key = f"{scope}:{endpoint.key_of(record)}" if endpoint.key_with_scope else endpoint.key_of(record)
                page.append(RawRecord(key, stored, None, scope, endpoint.cursor_of(record)))

            batches = [(table, self.source_instance, page)]
            etags: list[tuple[str, str]] = []
            if etag and incremental and endpoint.order != "ascending":
                deferred.append((self.source_instance, *etag))
            elif etag:
                etags.append(etag)
            replaced: list[tuple[str, str, list[str]]] = []
            for child in children:
                parents = records
                if child.only_since and since is not None:
                    parents = [r for r in records if (parse_timestamp(endpoint.cursor_of(r)) or since) >= since]
                whole: list[str] = []
                child_records = self._read_child(
                    child, endpoint, parents, scope, result.stats, etags, fresh, whole if child.replace else None
                )
                if child.replace:
                    replaced.append((self.table(child.endpoint), self.source_instance, whole))
                result.child_records[child.endpoint.stream] += len(child_records)
                batches.append((self.table(child.endpoint), self.source_instance, child_records))

            cursor = None
            if incremental and endpoint.order == "ascending":
                cursor = self._cursor_update(endpoint, scope, best, hold)
            self.store.write(batches, cursor, [(self.source_instance, *e) for e in etags], replaced)
            result.records += len(page)
            if reached_since:
                break

        if incremental and endpoint.order != "ascending":
            cursor = self._cursor_update(endpoint, scope, best, hold)
            if cursor is not None or deferred:
                self.store.write([], cursor, deferred)
        if incremental:
            result.cursor_after = self.store.get_cursor(self.source_instance, endpoint.stream, scope)
        result.seconds = time.monotonic() - started
        log.info(
            "%s %s [%s]: %d records, %d requests, %d retries",
            self.source_instance, table, scope, result.records, result.stats.requests, result.stats.retries,
        )
        return result

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
        rebase: Rebase | None = None,
    ) -> Iterator[tuple[list[dict] | None, tuple[str, str] | None]]:
        """The pages of ``params``, or of the narrower requests ``endpoint.split`` puts in its place."""
        queue = [params]
        while queue:
            narrower: list[dict[str, Any]] = []
            yield from self._pages(endpoint, path, queue.pop(0), stats, narrower=narrower, fresh=fresh, rebase=rebase)
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
    ) -> Iterator[tuple[list[dict] | None, tuple[str, str] | None]]:
        """Yield (records, (request, etag) to save with them) per page; records is None for a 304.

        A 304 answers a conditional request whose page we stored last time. On a newest-first list
        that stops at the cursor it means nothing changed since; elsewhere the next page may still
        have changed, so the Link of the 304 is followed. ``rebase`` (see _rebase) turns the
        paginator's next position into a request by cursor.
        """
        url: str | None = path
        page_size = page_size or self.page_size_for(endpoint)
        again: set[tuple[str, str | None]] = set()
        while url is not None:
            request = f"{url}?{urlencode(sorted((str(k), str(v)) for k, v in params.items()))}" if params else url
            conditional = endpoint.conditional and self.conditional
            known = self.store.get_etag(self.source_instance, request) if conditional and not fresh else None
            body, response = self.client.get_json(
                url, params, stats=stats, headers={"If-None-Match": known} if known else None
            )
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
            etag = response.headers.get("ETag") if conditional else None
            # A request by cursor starts with the records sharing the last page's final cursor value:
            # those unchanged since were just stored (with their children), so they are not passed on.
            unseen = endpoint.kept(
                [r for r in records if (endpoint.key_of(r), endpoint.cursor_of(r)) not in again] if again else records
            )
            yield unseen, ((request, etag) if etag else None)
            asked = page_size + 1 if again else page_size
            step = endpoint.paginator.next_request(params, body, response, len(records), asked)
            if step is None:
                return
            by_cursor = rebase(params, records) if rebase is not None else None
            again = {(endpoint.key_of(r), endpoint.cursor_of(r)) for r in records} if by_cursor is not None else set()
            next_url, params = (None, by_cursor) if by_cursor is not None else step
            url = next_url or path

    def _read_child(
        self,
        child: Child,
        parent_endpoint: Endpoint,
        parents: list[dict],
        scope: str,
        stats: RequestStats,
        etags: list[tuple[str, str]] | None = None,
        fresh: bool = False,
        whole: list[str] | None = None,
    ) -> list[RawRecord]:
        """The child records of ``parents``; ``whole`` collects the parents whose every child page was
        read (none answered 304), whose stored children may therefore be replaced."""
        endpoint = child.endpoint
        out: list[RawRecord] = []

        def keep(records: list[dict], parent_key: str) -> None:
            for r in records:
                key = f"{parent_key}:{endpoint.key_of(r)}" if child.key_with_parent else endpoint.key_of(r)
                out.append(RawRecord(key, r, parent_key, scope, endpoint.cursor_of(r)))

        for parent in parents:
            parent_key = parent_endpoint.key_of(parent)
            if child.embedded is not None:
                embedded, complete = child.embedded(parent)
                if complete:
                    keep(embedded, parent_key)
                    continue
            # Child pages cost one request per parent: always ask for the largest page allowed.
            size = endpoint.max_page_size or self.options.page_size
            params = {**endpoint.params, **endpoint.paginator.first_params(size)}
            path = endpoint.path.format(**child.path_vars(parent))
            complete = True
            for records, etag in self._pages(endpoint, path, params, stats, size, fresh=fresh):
                if records is not None:
                    keep(records, parent_key)
                else:
                    complete = False
                if etag and etags is not None:
                    etags.append(etag)
            if complete and whole is not None:
                whole.append(parent_key)
        return out


def utc_now() -> datetime:
    return datetime.now(UTC)
