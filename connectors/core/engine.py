"""The engine: runs an Endpoint (and its children) page by page into the raw store.

Incremental contract, per (source instance, stream, scope):
- the request lower bound is ``cursor - lookback`` (or ``start_date`` on a first load);
- every page is committed together with whatever cursor it justifies;
- with ascending answers the cursor is the largest committed cursor value; otherwise it moves once
  the whole stream was read; an incomplete record (e.g. a run in progress) holds it back so the
  next run reads that record again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.core.endpoint import Child, Endpoint, format_cursor, parse_timestamp
from connectors.core.http import HttpClient, RequestStats
from connectors.core.raw import CursorUpdate, RawRecord, RawStore, raw_table

log = logging.getLogger(__name__)


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
            "retries": self.stats.retries,
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
    ) -> StreamResult:
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
        if since is not None and endpoint.since_params is not None:
            params.update(endpoint.since_params(since))
        path = endpoint.path.format(**(path_vars or {}))

        for records in self.pages(endpoint, path, params, result.stats):
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
                page.append(RawRecord(endpoint.key_of(record), stored, None, scope, endpoint.cursor_of(record)))

            batches = [(table, self.source_instance, page)]
            for child in children:
                child_records = self._read_child(child, endpoint, records, scope, result.stats)
                result.child_records[child.endpoint.stream] += len(child_records)
                batches.append((self.table(child.endpoint), self.source_instance, child_records))

            cursor = None
            if incremental and endpoint.order == "ascending":
                cursor = self._cursor_update(endpoint, scope, best, hold)
            self.store.write(batches, cursor)
            result.records += len(page)
            if reached_since:
                break

        if incremental and endpoint.order != "ascending":
            cursor = self._cursor_update(endpoint, scope, best, hold)
            if cursor is not None:
                self.store.write([], cursor)
        if incremental:
            result.cursor_after = self.store.get_cursor(self.source_instance, endpoint.stream, scope)
        result.seconds = time.monotonic() - started
        log.info(
            "%s %s [%s]: %d records, %d requests, %d retries",
            self.source_instance, table, scope, result.records, result.stats.requests, result.stats.retries,
        )
        return result

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
        url: str | None = path
        page_size = page_size or self.page_size_for(endpoint)
        while url is not None:
            body, response = self.client.get_json(url, params, stats=stats)
            records = endpoint.records_of(body)
            yield records
            step = endpoint.paginator.next_request(params, body, response, len(records), page_size)
            if step is None:
                return
            next_url, params = step
            url = next_url or path

    def _read_child(
        self, child: Child, parent_endpoint: Endpoint, parents: list[dict], scope: str, stats: RequestStats
    ) -> list[RawRecord]:
        endpoint = child.endpoint
        out: list[RawRecord] = []

        def keep(records: list[dict], parent_key: str) -> None:
            out.extend(RawRecord(endpoint.key_of(r), r, parent_key, scope, endpoint.cursor_of(r)) for r in records)

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
            for records in self.pages(endpoint, path, params, stats, size):
                keep(records, parent_key)
        return out


def utc_now() -> datetime:
    return datetime.now(UTC)
