"""Compaction rewrites the warehouse smaller, leaves every table and view answering the same, trims the run report."""

from __future__ import annotations

from datetime import UTC, datetime

import random

import duckdb

from connectors.core.raw import RawRecord, RawStore
from operations.compact import compact
from operations.run_report import write_rows


def report_row(run_id: str, finished: datetime) -> tuple:
    return (run_id, "jira", "j", "issues", "jira__issues", "P", "success", 1, 1, 0, 1, 0, 0, 0, 0.0, None, None,
            1.0, None, finished, finished)


def test_compaction_drops_dead_versions_not_data(tmp_path):
    warehouse = tmp_path / "throughline.duckdb"
    rng = random.Random(7)
    with RawStore(warehouse) as store:
        store.ensure_table("jira__issues")
        # 2,000 issues with big bodies, checkpointed to disk, then re-read small: the big versions' blocks
        # stay in the file (DuckDB reuses free blocks but never shrinks the file)
        store.write([("jira__issues", "j", [
            RawRecord(str(i), {"version": 0, "body": "".join(rng.choices("abcdefghij", k=2000))}, scope="P")
            for i in range(2000)
        ])])
        store.con.execute("CHECKPOINT")
        store.write([("jira__issues", "j", [RawRecord(str(i), {"version": 1}, scope="P") for i in range(2000)])])
        store.con.execute("CREATE SCHEMA marts")
        store.con.execute("""CREATE VIEW marts.latest AS
            SELECT count(*) AS issues, min(payload->>'version') AS oldest FROM raw.jira__issues""")
        write_rows(store, [
            report_row("old", datetime(2025, 1, 1)),     # 420 days before `now`: dropped with 400 days kept
            report_row("kept", datetime(2025, 3, 1)),    # 362 days: kept
        ])
        store.con.execute("CHECKPOINT")
    before = warehouse.stat().st_size

    result = compact(warehouse, run_report_days=400, now=datetime(2026, 2, 25, tzinfo=UTC))

    assert result.bytes_before == before
    assert result.bytes_after == warehouse.stat().st_size < before / 2
    assert result.run_report_rows_dropped == 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT * FROM marts.latest").fetchall() == [(2000, "1")]
        assert con.execute("SELECT run_id FROM ops.stream_runs").fetchall() == [("kept",)]
    assert not (tmp_path / "throughline.duckdb.compacting").exists()
