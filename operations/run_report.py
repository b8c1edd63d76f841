"""The run report: what every extraction of a run read, wrote and cost, kept in the warehouse.

Each extract step writes its rows to `ops.stream_runs` as soon as a source instance finishes (or fails),
so a run that dies half-way still leaves the rows of what it did; a history load writes them too. The
`ops/stream_runs` asset (pipelines/run_report.py) puts a run's totals into Dagster metadata; dbt builds the
mart `marts.pipeline_runs` from the table so BI can show data health beside the metrics.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from connectors.core.engine import StreamResult
from connectors.core.errors import ThroughlineError
from connectors.core.raw import STREAM_RUNS_COLUMNS, STREAM_RUNS_TABLE, RawStore, raw_table
from connectors.core.source import FailedScope, extraction_of, failed_scope


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# Who hears a progress line as the run goes (`throughline demo` prints them); nobody by default.
_progress_listeners: list[Callable[[str], None]] = []


@contextmanager
def progress_to(listener: Callable[[str], None]) -> Iterator[None]:
    """Send the run's progress lines (one per source and stream as it lands, one per build phase) to
    ``listener`` while the block runs; the run executes in this process (execute_in_process)."""
    _progress_listeners.append(listener)
    try:
        yield
    finally:
        _progress_listeners.remove(listener)


def report_progress(line: str) -> None:
    for listener in list(_progress_listeners):
        listener(line)


def stream_lines(source_type: str, source_instance: str, results: list[StreamResult],
                 failed: list[FailedScope]) -> list[str]:
    """One line per stream of a source's extract (child streams too): records and requests over its scopes,
    failed scopes."""
    totals: dict[str, list[int]] = {}
    for r in [*results, *(f.result for f in failed)]:
        total = totals.setdefault(r.table, [0, 0, 0])
        total[0] += r.records
        total[1] += r.stats.requests
        for child, n in r.child_records.items():  # read with their parent's requests (e.g. Jira changelogs)
            totals.setdefault(raw_table(source_type, child), [0, 0, 0])[0] += n
    for f in failed:
        totals[f.result.table][2] += 1
    return [
        f"  {source_instance}: {table}: {records} records, {requests} requests"
        + (f", {failures} scope(s) FAILED" if failures else "")
        for table, (records, requests, failures) in totals.items()
    ]


@dataclass
class SourceRun:
    """One source instance's part of an extract step, from start to commit (or failure)."""

    run_id: str
    source_type: str
    source_instance: str
    group: str
    started_at: datetime
    counts_before: dict[tuple[str, str, str | None], list[int]]

    @classmethod
    def start(cls, store: RawStore, run_id: str, source_type: str, source_instance: str, group: str) -> "SourceRun":
        return cls(run_id, source_type, source_instance, group, utc_now(),
                   {k: list(v) for k, v in store.write_counts.items()})

    def rows(self, store: RawStore, results: list[StreamResult], failed: list[FailedScope] | str | None = None
             ) -> list[tuple]:
        """One row per stream and scope read (success), per failed scope (failed, with its error and what it
        cost), and per stream that committed records without returning a result. ``failed`` may be one error
        text for the whole source."""
        if isinstance(failed, str):
            failed = [FailedScope(None, failed, StreamResult(self.source_instance, "*", None))]
        failed = failed or []
        finished = utc_now()
        delta: dict[tuple[str, str | None], list[int]] = {}
        for (table, instance, scope), (new, updated) in store.write_counts.items():
            if instance != self.source_instance:
                continue
            before_new, before_updated = self.counts_before.get((table, instance, scope), [0, 0])
            if new - before_new or updated - before_updated:
                delta[(table, scope)] = [new - before_new, updated - before_updated]
        elapsed = (finished - self.started_at).total_seconds()

        def row(r: StreamResult, new: int, updated: int, status: str, error: str | None) -> tuple:
            return (
                self.run_id, self.source_type, self.source_instance, self.group, r.table, r.scope, status,
                r.records, new, updated, r.stats.requests, r.stats.retries, r.stats.not_modified,
                r.stats.rate_limit_waits, round(r.stats.waited_seconds, 3), r.cursor_before, r.cursor_after,
                round(r.seconds, 3), error, self.started_at, finished,
            )

        rows = [row(r, *delta.get((r.table, r.scope), [0, 0]), "success", None) for r in results]
        reported = {(r.table, r.scope) for r in results}
        for f in failed:
            scope = f.scope if f.scope is not None else f.result.scope
            r = f.result if f.result.scope == scope else replace(f.result, scope=scope)
            # what the failing stream committed before its error counts too (new/updated), and stays
            rows.append(row(r, *delta.get((r.table, r.scope), [0, 0]), "failed", f.error))
            reported.add((r.table, r.scope))
        failed_scopes = {f.scope for f in failed}
        # Records committed by streams that never returned a result (a scope failed after them, or the source
        # failed mid-way): what was saved is part of the report too, failed with its scope.
        for (table, scope), (new, updated) in sorted(delta.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            if (table, scope) not in reported:
                committed = StreamResult(self.source_instance, table, scope, records=new + updated, seconds=elapsed)
                status = "failed" if scope in failed_scopes or None in failed_scopes else "success"
                rows.append(row(committed, new, updated, status, None))
        return rows


def read_source(store: RawStore, run_id: str, source_type: str, source_instance: str, group: str,
                read: Callable[[], list[StreamResult]], *, reraise: bool = False
                ) -> tuple[list[StreamResult], list[FailedScope]]:
    """Run one source's extract of a group and write its run-report rows, also when scopes or the whole
    source failed: (results read whole, failed scopes). With ``reraise`` the source's error is raised after
    the rows are written; errors that are not the source's (a bug, an interrupt) always are."""
    source_run = SourceRun.start(store, run_id, source_type, source_instance, group)
    results: list[StreamResult] = []
    failed: list[FailedScope] = []
    try:
        results = read()
    except (ThroughlineError, ValueError) as exc:
        extraction = extraction_of(exc)
        if extraction is not None:
            results, failed = extraction.results, extraction.failed
        else:  # the source failed before any scope (credentials, the scope listing, the config)
            failed = [failed_scope(source_instance, "*", None, exc)]
        if reraise:
            write_rows(store, source_run.rows(store, results, failed))
            raise
    except BaseException as exc:
        write_rows(store, source_run.rows(store, results, str(exc) or type(exc).__name__))
        raise
    write_rows(store, source_run.rows(store, results, failed))
    if _progress_listeners:
        for line in stream_lines(source_type, source_instance, results, failed):
            report_progress(line)
    return results, failed


def write_rows(store: RawStore, rows: list[tuple]) -> None:
    if not rows:
        return
    placeholders = ", ".join("?" for _ in STREAM_RUNS_COLUMNS)
    with store.lock:
        store.con.executemany(
            f"INSERT INTO {STREAM_RUNS_TABLE} ({', '.join(STREAM_RUNS_COLUMNS)}) VALUES ({placeholders})", rows
        )


def run_rows(store: RawStore, run_id: str) -> list[dict]:
    with store.lock:
        cursor = store.con.execute(
            f"SELECT * FROM {STREAM_RUNS_TABLE} WHERE run_id = ? ORDER BY source_instance, stream, scope", [run_id]
        )
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
