"""The raw layer: one DuckDB table per stream, bulk upserts, and the cursor state beside them.

Data and cursor are written in one transaction, so a cursor can never run ahead of the rows it
covers, and a kill between two batches loses at most the batch being written (re-read next run).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from connectors.core.errors import WarehouseLockedError

RAW_SCHEMA = "raw"
STATE_TABLE = f"{RAW_SCHEMA}._state"
# ETags of list pages, per source instance and request, for conditional requests (GitHub answers a
# matching If-None-Match with 304, which costs no rate limit). Kept beside the data they describe so a
# new warehouse never trusts an ETag whose records it does not hold.
ETAG_TABLE = f"{RAW_SCHEMA}._etags"
# What each extraction did, one row per run, source instance, stream and scope (the run report). In its
# own schema because it is not an API object: the raw layer's seven-column contract stays exact.
OPS_SCHEMA = "ops"
STREAM_RUNS_TABLE = f"{OPS_SCHEMA}.stream_runs"
STREAM_RUNS_DDL = f"""CREATE TABLE IF NOT EXISTS {STREAM_RUNS_TABLE} (
    run_id VARCHAR NOT NULL,
    source_type VARCHAR NOT NULL,
    source_instance VARCHAR NOT NULL,
    extraction_group VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,
    scope VARCHAR,
    status VARCHAR NOT NULL,
    records BIGINT NOT NULL,
    new_records BIGINT,
    updated_records BIGINT,
    requests BIGINT NOT NULL,
    retries BIGINT NOT NULL,
    not_modified BIGINT NOT NULL,
    rate_limit_waits BIGINT NOT NULL,
    waited_seconds DOUBLE NOT NULL,
    cursor_before VARCHAR,
    cursor_after VARCHAR,
    seconds DOUBLE NOT NULL,
    error VARCHAR,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL
)"""

_COLUMNS = pa.schema(
    [
        ("source_instance", pa.string()),
        ("record_key", pa.string()),
        ("parent_key", pa.string()),
        ("scope", pa.string()),
        ("cursor_value", pa.string()),
        ("payload", pa.string()),
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


@dataclass(frozen=True)
class CursorUpdate:
    source_instance: str
    stream: str
    scope: str
    cursor_value: str


def open_warehouse(path: str | os.PathLike[str], *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, turning DuckDB's lock error into one that says what to do."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLockedError(
                f"warehouse {path} is in use by another process (DuckDB allows one writer): wait for the "
                f"running load to finish, or close the tool holding it; BI tools should read the published "
                f"copy instead. DuckDB said: {str(exc).splitlines()[0]}"
            ) from None
        raise


class RawStore:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.con = open_warehouse(self.path)
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        self.con.execute(
            f"""CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
                source_instance VARCHAR NOT NULL,
                stream VARCHAR NOT NULL,
                scope VARCHAR NOT NULL,
                cursor_value VARCHAR NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source_instance, stream, scope)
            )"""
        )
        self.con.execute(
            f"""CREATE TABLE IF NOT EXISTS {ETAG_TABLE} (
                source_instance VARCHAR NOT NULL,
                request VARCHAR NOT NULL,
                etag VARCHAR NOT NULL,
                updated_at TIMESTAMP NOT NULL,
                PRIMARY KEY (source_instance, request)
            )"""
        )
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {OPS_SCHEMA}")
        self.con.execute(STREAM_RUNS_DDL)
        self._known: set[str] = set()
        # (table, source_instance, scope) -> [new, updated] records written through this store: the run report
        # tells new from re-read records without a scan of the table (the primary key decides).
        self.write_counts: dict[tuple[str, str, str | None], list[int]] = {}
        # One DuckDB connection is not safe to use from several threads at once, and a write is a
        # transaction of several statements: connectors that read repositories in parallel take turns
        # here. Re-entrant because write() calls ensure_table().
        self.lock = threading.RLock()
        self._etags: dict[str, dict[str, str]] = {}  # source instance -> request -> ETag (get_etag)

    def __enter__(self) -> RawStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def ensure_table(self, table: str) -> None:
        with self.lock:
            self._ensure_table(table)

    def _ensure_table(self, table: str) -> None:
        if table in self._known:
            return
        self.con.execute(
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
        with self.lock:
            row = self.con.execute(
                f"SELECT cursor_value FROM {STATE_TABLE} WHERE source_instance = ? AND stream = ? AND scope = ?",
                [source_instance, stream, scope],
            ).fetchall()
        return row[0][0] if row else None

    def has_rows(self, table: str, source_instance: str, scope: str) -> bool:
        with self.lock:
            self._ensure_table(table)
            return bool(self.con.execute(
                f"SELECT count(*) FROM {RAW_SCHEMA}.{table} WHERE source_instance = ? AND scope = ?",
                [source_instance, scope],
            ).fetchall()[0][0])

    def get_etag(self, source_instance: str, request: str) -> str | None:
        # Read once per source instance and kept: a query per request cost ~20% of a GitHub load. Only this
        # store writes the warehouse while it is open (one writer), and write() updates the copy.
        with self.lock:
            known = self._etags.get(source_instance)
            if known is None:
                known = self._etags[source_instance] = dict(self.con.execute(
                    f"SELECT request, etag FROM {ETAG_TABLE} WHERE source_instance = ?", [source_instance]
                ).fetchall())
            return known.get(request)

    def write(
        self,
        batches: Iterable[tuple[str, str, list[RawRecord]]],
        cursor: CursorUpdate | None = None,
        etags: Iterable[tuple[str, str, str]] = (),
        replace_children: Iterable[tuple[str, str, list[str]]] = (),
    ) -> int:
        """Upsert several (table, source_instance, records) batches, a cursor and the ETags of the pages
        those records came from ((source_instance, request, etag)) in one transaction.

        ``replace_children`` (table, source_instance, parent keys): the rows of those parents are deleted
        first, so the batches hold their whole current set of children.
        """
        with self.lock:
            return self._write(list(batches), cursor, list(etags), list(replace_children))

    def _write(
        self,
        batches: list[tuple[str, str, list[RawRecord]]],
        cursor: CursorUpdate | None,
        etags: list[tuple[str, str, str]],
        replace_children: list[tuple[str, str, list[str]]],
    ) -> int:
        written = 0
        pending_counts: dict[tuple[str, str, str | None], list[int]] = {}
        now = datetime.now(UTC).replace(tzinfo=None)
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table, source_instance, parent_keys in replace_children:
                self.ensure_table(table)
                if parent_keys:
                    self.con.execute(
                        f"DELETE FROM {RAW_SCHEMA}.{table} WHERE source_instance = ? "
                        f"AND parent_key IN (SELECT unnest(?::VARCHAR[]))",
                        [source_instance, list(parent_keys)],
                    )
            for table, source_instance, records in batches:
                self.ensure_table(table)
                if not records:
                    continue
                # ON CONFLICT cannot touch one key twice in a statement: keep the last version read.
                latest = {r.record_key: r for r in records}
                arrow = pa.Table.from_pydict(
                    {
                        "source_instance": [source_instance] * len(latest),
                        "record_key": list(latest),
                        "parent_key": [r.parent_key for r in latest.values()],
                        "scope": [r.scope for r in latest.values()],
                        "cursor_value": [r.cursor_value for r in latest.values()],
                        "payload": [json.dumps(r.payload, separators=(",", ":")) for r in latest.values()],
                        "extracted_at": [now] * len(latest),
                    },
                    schema=_COLUMNS,
                )
                self.con.register("_raw_batch", arrow)
                # Insert what is new first (the primary key index finds conflicts, no scan), then
                # replace the rest: the counts of both become the run report's new / updated.
                inserted = self.con.execute(
                    f"""INSERT INTO {RAW_SCHEMA}.{table}
                        SELECT source_instance, record_key, parent_key, scope, cursor_value,
                               payload::JSON, extracted_at
                        FROM _raw_batch
                        ON CONFLICT DO NOTHING
                        RETURNING record_key, scope"""
                ).fetchall()
                if len(inserted) < len(latest):
                    self.con.execute(
                        f"""INSERT OR REPLACE INTO {RAW_SCHEMA}.{table}
                            SELECT source_instance, record_key, parent_key, scope, cursor_value,
                                   payload::JSON, extracted_at
                            FROM _raw_batch
                            WHERE record_key NOT IN (SELECT unnest(?::VARCHAR[]))""",
                        [[row[0] for row in inserted]],
                    )
                self.con.unregister("_raw_batch")
                for record in latest.values():
                    pending_counts.setdefault((table, source_instance, record.scope), [0, 0])[1] += 1
                for _key, scope in inserted:
                    counts = pending_counts[(table, source_instance, scope)]
                    counts[0] += 1
                    counts[1] -= 1
                written += len(latest)
            if cursor is not None:
                self.con.execute(
                    f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES (?, ?, ?, ?, ?)",
                    [cursor.source_instance, cursor.stream, cursor.scope, cursor.cursor_value, now],
                )
            # One statement for the transaction's ETags (one per request was most of a small write's time);
            # the same request twice keeps the later ETag, as one statement cannot replace a row twice.
            latest_etags = {(source_instance, request): etag for source_instance, request, etag in etags}
            if latest_etags:
                self.con.execute(
                    f"INSERT OR REPLACE INTO {ETAG_TABLE} VALUES " + ", ".join(["(?, ?, ?, ?)"] * len(latest_etags)),
                    [v for (source_instance, request), etag in latest_etags.items()
                     for v in (source_instance, request, etag, now)],
                )
            self.con.execute("COMMIT")
            for (source_instance, request), etag in latest_etags.items():
                if source_instance in self._etags:
                    self._etags[source_instance][request] = etag
            for key, (new, updated) in pending_counts.items():  # only what was committed counts
                total = self.write_counts.setdefault(key, [0, 0])
                total[0] += new
                total[1] += updated
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return written
