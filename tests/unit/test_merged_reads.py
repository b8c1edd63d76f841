"""merge_shard notes the earliest read a shard brings that the warehouse does not hold (raw._merged_reads): the
start of the next build's window for reads committed after a build with an earlier read time
(dbt_project/macros/read_windows.sql)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from connectors.core.raw import MERGED_READS_TABLE, RawRecord, RawStore
from connectors.core.shards import merge_shard

SOURCE = "acme-jira"
TABLE = "jira__issues"


def write(path: Path, reads: dict[str, datetime]) -> None:
    """Issues of project OPS, each stamped as read at its time."""
    with RawStore(path) as store:
        store.write([(TABLE, SOURCE, [RawRecord(record_key=key, scope="OPS", payload={"id": key}) for key in reads])])
    with duckdb.connect(str(path)) as con:
        for key, at in reads.items():
            con.execute(f"UPDATE raw.{TABLE} SET extracted_at = ? WHERE record_key = ?", [at, key])


def merge(warehouse: Path, shard: Path) -> list[tuple]:
    with RawStore(warehouse) as store:
        merge_shard(store, shard, SOURCE, "OPS", "issues", [TABLE])
        return store.con.execute(f"SELECT source_instance, raw_table, scope, earliest_read FROM {MERGED_READS_TABLE} "
                                 "ORDER BY merged_at").fetchall()


def test_a_merge_notes_the_earliest_read_the_warehouse_did_not_hold(tmp_path):
    warehouse, shard = tmp_path / "warehouse.duckdb", tmp_path / "shard.duckdb"
    write(warehouse, {"1": datetime(2026, 1, 10, 12), "2": datetime(2026, 1, 10, 12)})
    # the shard holds issue 1 as the warehouse does, issue 2 read again on 01-12 and issue 3 new, read 01-11:
    # the earliest read the warehouse lacks is issue 3's, not issue 1's older one
    write(shard, {"1": datetime(2026, 1, 10, 12), "2": datetime(2026, 1, 12, 8), "3": datetime(2026, 1, 11, 9)})
    assert merge(warehouse, shard) == [(SOURCE, TABLE, "OPS", datetime(2026, 1, 11, 9))]
    # merged again, it brings nothing the warehouse does not hold: no new row
    assert merge(warehouse, shard) == [(SOURCE, TABLE, "OPS", datetime(2026, 1, 11, 9))]
