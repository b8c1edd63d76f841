"""Compaction: rewrite the working warehouse into a new file and swap it in, reclaiming dead space.

Raw tables keep one version per record (upserts replace), but DuckDB keeps the blocks of replaced and
deleted rows inside the file; after months of nightly re-reads the file is mostly old payloads.
Copying the database into a fresh file drops them; nothing is recomputed, so no mart changes. The run
report is trimmed to `retention.run_report_days` at the same time. Runs weekly (Dagster schedule
`compact_schedule`) in the writer pool, or by hand: `throughline compact`.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.core.errors import ThroughlineError
from connectors.core.raw import STREAM_RUNS_TABLE, open_warehouse


@dataclass(frozen=True)
class Compaction:
    bytes_before: int
    bytes_after: int
    run_report_rows_dropped: int

    def line(self) -> str:
        mib = 1024 * 1024
        return (f"warehouse compacted: {self.bytes_before / mib:.1f} MiB -> {self.bytes_after / mib:.1f} MiB; "
                f"{self.run_report_rows_dropped} run-report rows older than the retention dropped")


def compact(path: Path, *, run_report_days: int = 400, now: datetime | None = None) -> Compaction:
    path = Path(path)
    if not path.exists():
        raise ThroughlineError(f"no warehouse at {path} to compact")
    now = now or datetime.now(UTC)
    before = path.stat().st_size
    fresh = path.with_name(path.name + ".compacting")
    fresh.unlink(missing_ok=True)
    con = open_warehouse(path)  # the writer lock: a running load makes this fail with what to do
    try:
        cutoff = (now - timedelta(days=run_report_days)).replace(tzinfo=None)
        dropped = con.execute(
            f"DELETE FROM {STREAM_RUNS_TABLE} WHERE finished_at < ? RETURNING 1", [cutoff]
        ).fetchall() if _has_table(con, "ops", "stream_runs") else []
        catalog = con.execute("SELECT current_database()").fetchall()[0][0]
        con.execute(f"ATTACH '{fresh}' AS compacted")
        con.execute(f'COPY FROM DATABASE "{catalog}" TO compacted')
        con.execute("DETACH compacted")
    except BaseException:
        fresh.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    # Readers of the working file (there should be none: BI reads the published copy) keep the old
    # inode; the next writer opens the compacted file.
    os.replace(fresh, path)
    wal = path.with_name(path.name + ".wal")
    if wal.exists() and wal.stat().st_size == 0:
        wal.unlink()
    return Compaction(before, path.stat().st_size, len(dropped))


def _has_table(con, schema: str, table: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchall()[0][0])
