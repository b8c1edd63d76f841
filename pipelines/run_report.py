"""The run report: what every extraction of a run read, wrote and cost, kept in the warehouse.

Each extract step writes its rows to `ops.stream_runs` as soon as a source instance finishes (or fails),
so a run that dies half-way still leaves the rows of what it did. The `ops/stream_runs` asset runs after
every extract step and puts the run's totals into Dagster metadata; dbt builds the mart
`marts.pipeline_runs` from the table so BI can show data health beside the metrics.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from connectors.core.engine import StreamResult
from connectors.core.errors import ThroughlineError
from connectors.core.raw import STREAM_RUNS_TABLE, RawStore
from connectors.core.source import FailedScope, extraction_of, failed_scope

COLUMNS = (
    "run_id", "source_type", "source_instance", "extraction_group", "stream", "scope", "status", "records",
    "new_records", "updated_records", "requests", "retries", "not_modified", "rate_limit_waits",
    "waited_seconds", "cursor_before", "cursor_after", "seconds", "error", "started_at", "finished_at",
)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


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
    return results, failed


def write_rows(store: RawStore, rows: list[tuple]) -> None:
    if not rows:
        return
    placeholders = ", ".join("?" for _ in COLUMNS)
    with store.lock:
        store.con.executemany(
            f"INSERT INTO {STREAM_RUNS_TABLE} ({', '.join(COLUMNS)}) VALUES ({placeholders})", rows
        )


def run_rows(store: RawStore, run_id: str) -> list[dict]:
    with store.lock:
        cursor = store.con.execute(
            f"SELECT * FROM {STREAM_RUNS_TABLE} WHERE run_id = ? ORDER BY source_instance, stream, scope", [run_id]
        )
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def build_run_report_asset(raw_asset_keys):
    """`ops/stream_runs`: after every extract step, the run's report as Dagster metadata.

    Imported lazily so the connectors' tests need no Dagster.
    """
    import dagster as dg

    from operations.alerts import scope_line
    from pipelines.resources import ThroughlineResource
    from pipelines.settings import WRITER_POOL

    @dg.asset(
        key=dg.AssetKey(["ops", "stream_runs"]),
        deps=list(raw_asset_keys),
        group_name="raw",
        kinds={"duckdb"},
        pool=WRITER_POOL,
        description="The run report (table ops.stream_runs): per run, source, stream and scope, records read, "
        "new and updated, requests, retries, 304s, rate-limit waits, duration, cursor before and after, error.",
    )
    def stream_runs(context: dg.AssetExecutionContext, throughline: ThroughlineResource):
        with RawStore(throughline.warehouse()) as store:
            rows = run_rows(store, context.run_id)
        totals = {
            name: sum(row[name] or 0 for row in rows)
            for name in ("records", "new_records", "updated_records", "requests", "retries", "not_modified")
        }
        failed = sorted({row["source_instance"] for row in rows if row["status"] == "failed"})
        scopes = [scope_line(row["source_instance"], row["scope"], row["stream"], row["error"])
                  for row in rows if row["status"] == "failed" and row["error"]]
        return dg.MaterializeResult(
            metadata={
                **{name: dg.MetadataValue.int(int(value)) for name, value in totals.items()},
                "failed_sources": dg.MetadataValue.json(failed),
                "failed_scopes": dg.MetadataValue.json(scopes),
                "streams": dg.MetadataValue.md(_markdown(rows)),
            }
        )

    return stream_runs


def _markdown(rows: list[dict]) -> str:
    header = ("| source | stream | scope | status | records | new | updated | requests | retries | 304s | seconds "
              "| cursor after |")
    lines = [header, "|" + "---|" * 12]
    for row in rows:
        lines.append(
            f"| {row['source_instance']} | {row['stream']} | {row['scope'] or ''} | {row['status']} | {row['records']} | "
            f"{row['new_records']} | {row['updated_records']} | {row['requests']} | {row['retries']} | "
            f"{row['not_modified']} | {row['seconds']} | {row['cursor_after'] or ''} |"
        )
    return "\n".join(lines)


RUN_OUTCOME_KEY = ("ops", "run_outcome")


def build_run_outcome_asset(after):
    """`ops/run_outcome`: the last step of the nightly. The extract steps record a failed scope or source
    in the run report and succeed with what landed, so dbt and publish build from everything else; this step
    then fails the run, one line per failed source, stream and scope, so the run ends failed and the alert
    (CLI or the failure sensor) names each of them. It also lists the stale scopes.
    """
    import dagster as dg

    from operations.alerts import failed_scopes, scope_line, stale_streams
    from pipelines.resources import ThroughlineResource
    from pipelines.settings import WRITER_POOL

    @dg.asset(
        key=dg.AssetKey(list(RUN_OUTCOME_KEY)),
        deps=list(after),
        group_name="published",
        kinds={"duckdb"},
        pool=WRITER_POOL,
        description="Fails the run when any source or scope failed to read (the marts were still built and "
        "published from what landed); lists each failed scope and each stale one.",
    )
    def run_outcome(context: dg.AssetExecutionContext, throughline: ThroughlineResource):
        warehouse = throughline.warehouse()
        failed = failed_scopes(warehouse, context.run_id)
        stale = stale_streams(warehouse, throughline.config(), utc_now())
        metadata = {
            "failed_scopes": dg.MetadataValue.json([p.line()[2:] for p in failed]),
            "stale": dg.MetadataValue.json([p.line()[2:] for p in stale]),
        }
        if failed:
            raise dg.Failure(
                description=f"{len(failed)} source(s) or scope(s) of this run failed; the marts were built and "
                "published from everything else:\n" + "\n".join(
                    scope_line(p.source or "?", p.scope, p.asset, p.error) for p in failed),
                metadata=metadata,
                allow_retries=False,
            )
        return dg.MaterializeResult(metadata=metadata)

    return run_outcome
