"""Shard files of the sharded extraction mode (pipelines/sharded_assets.py): where each partition's small warehouse
lives, and the merge of one shard into the working warehouse.

A partition is a source and one of its scopes (or the whole source). Its shard is a raw store of its own, with its
own cursors and ETags; the merge replaces the partition's rows of the warehouse by the shard's, so merging a shard
twice gives the same tables.
"""

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.core.raw import (
    ETAG_TABLE, GONE_TABLE, MERGED_READS_TABLE, OWED_TABLE, RAW_SCHEMA, REJECTS_TABLE, STATE_TABLE, STREAM_RUNS_COLUMNS,
    STREAM_RUNS_TABLE, RawStore,
)


def shards_root(config, warehouse: Path) -> Path:
    """`extraction.shards_path`, else `shards/` beside the warehouse."""
    configured = config.extraction.shards_path
    return Path(configured).expanduser().resolve() if configured else warehouse.parent / "shards"


def shard_path(root: Path, source: str, group: str, scope: str | None) -> Path:
    """`<root>/<source>/<group>/<scope slug>.duckdb`, `_source.duckdb` for a whole-source partition."""
    if scope is None:
        name = "_source"
    else:
        # Readable, and unique: `acme/web` and `acme_web` are different scopes.
        slug = re.sub(r"[^A-Za-z0-9_-]+", "_", scope).strip("_")
        name = f"{slug}-{hashlib.sha1(scope.encode()).hexdigest()[:8]}"
    return root / source / group / f"{name}.duckdb"


_MERGE_COLUMNS = ("parent_key", "scope", "cursor_value", "payload", "extracted_at")
# How long a merge's late reads are remembered: a build takes in those merged after its last complete build,
# so only a warehouse whose builds all failed for longer than this would need a --full-refresh build.
MERGED_READS_KEPT = timedelta(days=90)


def merge_shard(store: RawStore, path: Path, source: str, scope: str | None, group: str, tables: list[str]
                ) -> dict[str, int]:
    """Replace the partition's rows of each table with the shard's, copy its state and run report, and note
    the earliest read the shard brings per table (MERGED_READS_TABLE: the incremental builds take in the reads
    merged after them, however old their read time): one transaction of the warehouse. Returns per table the
    shard rows whose scope is not the partition's.
    The partition is the source's `scope`, or the whole source when it is None.

    Rows are owned by a partition through their scope: a whole-source partition owns all the source's rows;
    a scope's partition owns the rows of its scope. Rows of a scope's shard with another scope (none of the
    built-in per-scope groups writes one) are upserted and never deleted: no single shard holds all of them.
    On a key clash the newer read wins, as in the single mode (an issue moved between two configured
    projects is in both projects' shards; the later read is its current project).
    """
    alias = "shard"
    con = store.con
    with store.lock:
        con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS {alias} (READ_ONLY)")
        try:
            present = {name for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?",
                [alias, RAW_SCHEMA]).fetchall()}
            foreign: dict[str, int] = {}
            merged_at = datetime.now(UTC).replace(tzinfo=None)
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(f"DELETE FROM {MERGED_READS_TABLE} WHERE merged_at < ?", [merged_at - MERGED_READS_KEPT])
                for table in tables:
                    if table not in present:
                        continue
                    # Before the rows are replaced: the shard's reads the warehouse does not hold yet (by key and
                    # read time); the earliest may be older than the newest read the last build took in.
                    con.execute(
                        f"""INSERT INTO {MERGED_READS_TABLE}
                            SELECT ?, ?, ?, ?, min(shard_rows.extracted_at)
                            FROM {alias}.{RAW_SCHEMA}.{table} AS shard_rows
                            WHERE shard_rows.source_instance = ? AND NOT EXISTS (
                                SELECT 1 FROM {RAW_SCHEMA}.{table} AS held
                                WHERE held.source_instance = shard_rows.source_instance
                                    AND held.record_key = shard_rows.record_key
                                    AND held.extracted_at = shard_rows.extracted_at)
                            HAVING min(shard_rows.extracted_at) IS NOT NULL""",
                        [source, table, scope, merged_at, source])
                    if scope is None:
                        con.execute(f"DELETE FROM {RAW_SCHEMA}.{table} WHERE source_instance = ?", [source])
                    else:
                        con.execute(f"DELETE FROM {RAW_SCHEMA}.{table} WHERE source_instance = ? AND scope = ?",
                                    [source, scope])
                        foreign[table] = con.execute(
                            f"SELECT count(*) FROM {alias}.{RAW_SCHEMA}.{table} "
                            "WHERE source_instance = ? AND scope IS DISTINCT FROM ?",
                            [source, scope]).fetchone()[0]
                    updates = ", ".join(f"{c} = excluded.{c}" for c in _MERGE_COLUMNS)
                    con.execute(
                        f"""INSERT INTO {RAW_SCHEMA}.{table}
                            SELECT * FROM {alias}.{RAW_SCHEMA}.{table} WHERE source_instance = ?
                            ON CONFLICT (source_instance, record_key) DO UPDATE SET {updates}
                            WHERE excluded.extracted_at >= {RAW_SCHEMA}.{table}.extracted_at""",
                        [source],
                    )
                # The shard's cursors are the ones in use; copied so that a switch back to the single mode
                # continues incrementally instead of reloading from start_date.
                for state in (STATE_TABLE, ETAG_TABLE):
                    con.execute(f"INSERT OR REPLACE INTO {state} SELECT * FROM {alias}.{state} WHERE source_instance = ?",
                                [source])
                # Owed reads, gone children and rejected records are the partition's ledgers: the shard's are
                # current (a read it settled is gone from its ledger), so they replace the partition's rows.
                for ledger in (OWED_TABLE, GONE_TABLE, REJECTS_TABLE):
                    if ledger.split(".", 1)[1] not in present:
                        continue  # a shard written before the ledgers existed
                    where, args = ("source_instance = ?", [source]) if scope is None else (
                        "source_instance = ? AND scope IS NOT DISTINCT FROM ?", [source, scope])
                    con.execute(f"DELETE FROM {ledger} WHERE {where}", args)
                    con.execute(f"INSERT OR REPLACE INTO {ledger} SELECT * FROM {alias}.{ledger} WHERE {where}", args)
                # A landing run reads one partition, so (run, source, group) names this shard's rows exactly.
                columns = ", ".join(STREAM_RUNS_COLUMNS)
                con.execute(
                    f"""DELETE FROM {STREAM_RUNS_TABLE} WHERE source_instance = ? AND extraction_group = ?
                        AND run_id IN (SELECT run_id FROM {alias}.{STREAM_RUNS_TABLE})""",
                    [source, group])
                con.execute(
                    f"""INSERT INTO {STREAM_RUNS_TABLE} ({columns}) SELECT {columns} FROM {alias}.{STREAM_RUNS_TABLE}
                        WHERE source_instance = ? AND extraction_group = ?""",
                    [source, group])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.execute(f"DETACH {alias}")
    store.ledgers_changed()
    return foreign
