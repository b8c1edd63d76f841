"""`throughline copy-raw --target spark` (operations/spark_copy.py): the dbt sources as Parquet directories."""

from __future__ import annotations

import datetime as dt

import duckdb

from operations.spark_copy import copy_raw, spark_dir


def _warehouse(path, payload: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema raw; create schema ops; create schema marts")
        con.execute("create table raw.jira__issues (record_key varchar, payload json, labels varchar[], "
                    "extracted_at timestamp, n hugeint)")
        con.execute("insert into raw.jira__issues values "
                    f"('10001', '{payload}', ['a', null], timestamp '2026-01-05 09:00:00', 12), "
                    "('10002', null, [], null, null)")
        con.execute("create table ops.stream_runs (run_id varchar)")
        con.execute("create table marts.work_items (id varchar)")  # not a dbt source: not copied
        con.execute("create view raw.a_view as select 1 as x")  # views are not copied
    finally:
        con.close()


def test_every_source_table_becomes_a_parquet_directory_with_its_rows(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    _warehouse(warehouse, '{"key": "PAY-1"}')
    copied = copy_raw(warehouse, tmp_path / "spark")

    assert [(t.schema, t.table, t.rows) for t in copied] == [("ops", "stream_runs", 0), ("raw", "jira__issues", 2)]
    assert sorted(p.relative_to(tmp_path / "spark").as_posix() for p in (tmp_path / "spark").rglob("*.parquet")) == [
        "sources/ops/stream_runs/data.parquet", "sources/raw/jira__issues/data.parquet"]
    rows = duckdb.sql(f"select * from read_parquet('{tmp_path}/spark/sources/raw/jira__issues/data.parquet') "
                      "order by record_key").fetchall()
    # JSON as its text (Spark has no JSON type), lists as lists, HUGEINT as a decimal Spark reads.
    assert rows == [("10001", '{"key": "PAY-1"}', ["a", None], dt.datetime(2026, 1, 5, 9), 12),
                    ("10002", None, [], None, None)]
    types = {name: kind for name, kind, *_ in duckdb.sql(
        f"describe select * from read_parquet('{tmp_path}/spark/sources/raw/jira__issues/*.parquet')").fetchall()}
    assert types["payload"] == "VARCHAR" and types["n"] == "DECIMAL(38,0)"


def test_a_second_copy_replaces_the_first(tmp_path):
    first = tmp_path / "first.duckdb"
    second = tmp_path / "second.duckdb"
    _warehouse(first, '{"key": "PAY-1"}')
    _warehouse(second, '{"key": "PAY-2"}')
    copy_raw(first, tmp_path / "spark")
    copy_raw(second, tmp_path / "spark")

    table = tmp_path / "spark" / "sources" / "raw" / "jira__issues"
    assert [p.name for p in table.parent.iterdir()] == ["jira__issues"]  # no .new/.old directory left behind
    assert duckdb.sql(f"select payload from read_parquet('{table}/*.parquet') where record_key = '10001'"
                      ).fetchall() == [('{"key": "PAY-2"}',)]


def test_the_spark_directory_is_beside_the_warehouse_unless_set(tmp_path):
    assert spark_dir(tmp_path / "w.duckdb", {}) == tmp_path / "w.duckdb.spark"
    assert spark_dir(tmp_path / "w.duckdb", {"THROUGHLINE_SPARK_DIR": "/data/spark"}).as_posix() == "/data/spark"
