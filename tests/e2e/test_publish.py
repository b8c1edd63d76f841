"""Published marts (operations/publish.py): BI readers can hold them open while loads and publishes run.

Readers run in their own processes, as BI tools do: DuckDB's locks are per process, and one process
would share a single cached database instance between its connections. What the nightly job publishes (and
keeps when its dbt build fails) is checked on tests/e2e/test_nightly.py's runs, which load the tiny
organisation once for both modules.
"""

import json

import duckdb
import pyarrow.parquet as pq
import pytest

from operations.publish import STORAGE_VERSION, PublishError, publish_marts
from tests.support.e2e import Reader, read_once


def make_warehouse(path, work_items):
    """A working warehouse with two marts and a staging view that must not be published."""
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA IF NOT EXISTS marts; CREATE SCHEMA IF NOT EXISTS staging")
    con.execute("CREATE OR REPLACE TABLE marts.work_items (work_item_id VARCHAR, flow_time_hours DOUBLE)")
    con.execute("INSERT INTO marts.work_items VALUES " + ", ".join(f"('{k}', {h})" for k, h in work_items))
    con.execute("CREATE OR REPLACE TABLE marts.deployment_frequency_weekly (week_start DATE, deployments BIGINT)")
    con.execute("INSERT INTO marts.deployment_frequency_weekly VALUES ('2026-01-05', 2), ('2026-01-12', 1)")
    con.execute("CREATE OR REPLACE VIEW staging.stg_secret AS SELECT 1 AS x")
    con.close()


def test_every_mart_is_published_to_a_v1_4_duckdb_file_and_one_parquet_file_per_mart(tmp_path):
    warehouse = tmp_path / "work" / "throughline.duckdb"
    warehouse.parent.mkdir()
    make_warehouse(warehouse, [("A-1", 72.0), ("A-2", 120.0), ("A-3", 144.0)])
    out = tmp_path / "published"
    docs = {"work_items": ("One row per work item. See docs/METRICS.md.", {"flow_time_hours": "Flow time in hours."})}

    result = publish_marts(warehouse, out, docs)

    # 3 work items, 2 weeks; the staging view is not a mart
    assert result.row_counts == {"deployment_frequency_weekly": 2, "work_items": 3}
    tables = read_once(out / "marts.duckdb", "SELECT schema_name, table_name, comment FROM duckdb_tables() ORDER BY 2")
    assert tables == [
        ["main", "deployment_frequency_weekly", None],
        ["main", "work_items", "One row per work item. See docs/METRICS.md."],
    ]
    # the file's catalog is `marts`, so BI SQL can say marts.work_items
    assert read_once(out / "marts.duckdb", "SELECT sum(flow_time_hours) FROM marts.work_items") == [[336.0]]
    assert read_once(out / "marts.duckdb", "SELECT comment FROM duckdb_columns() WHERE column_name = 'flow_time_hours'") == [
        ["Flow time in hours."]]
    # written in the storage format BI tools embedding DuckDB 1.4 can open
    assert read_once(out / "marts.duckdb", "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'marts'") == [
        [STORAGE_VERSION + "+"]]
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*), sum(flow_time_hours) FROM '{out}/parquet/work_items/work_items.parquet'").fetchall() == [(3, 336.0)]
    assert con.execute(f"SELECT sum(deployments) FROM '{out}/parquet/deployment_frequency_weekly/*.parquet'").fetchall() == [(3,)]
    # the descriptions travel in the Parquet file: the table's in the file metadata, a column's in its field's
    schema = pq.read_schema(out / "parquet" / "work_items" / "work_items.parquet")
    assert schema.metadata[b"description"] == b"One row per work item. See docs/METRICS.md."
    assert schema.field("flow_time_hours").metadata == {b"description": b"Flow time in hours."}
    assert schema.field("work_item_id").metadata is None  # no description, no metadata
    assert pq.read_schema(out / "parquet" / "deployment_frequency_weekly" / "deployment_frequency_weekly.parquet"
                          ).metadata in (None, {})
    manifest = json.loads((out / "parquet" / "_published.json").read_text())
    assert manifest["row_counts"] == {"deployment_frequency_weekly": 2, "work_items": 3}
    assert sorted(p.name for p in out.iterdir()) == ["marts.duckdb", "parquet"]  # no temporary file left


def test_a_reader_holding_the_old_file_keeps_reading_it_and_a_new_reader_sees_the_new_marts(tmp_path):
    warehouse = tmp_path / "throughline.duckdb"
    make_warehouse(warehouse, [("A-1", 72.0)])
    publish_marts(warehouse, tmp_path)
    published = tmp_path / "marts.duckdb"
    old_reader = Reader(published, "SELECT count(*) FROM work_items")
    try:
        assert old_reader.first == [[1]]
        make_warehouse(warehouse, [("A-1", 72.0), ("A-2", 120.0)])
        publish_marts(warehouse, tmp_path)  # succeeds although a reader holds the published file
        assert read_once(published, "SELECT count(*) FROM work_items") == [[2]]
        assert old_reader.again() == [[1]]  # its snapshot lives until it closes
    finally:
        old_reader.stop()


def test_a_warehouse_without_marts_publishes_nothing_and_keeps_the_last_good_marts(tmp_path):
    warehouse = tmp_path / "throughline.duckdb"
    make_warehouse(warehouse, [("A-1", 72.0)])
    publish_marts(warehouse, tmp_path)
    before = (tmp_path / "marts.duckdb").read_bytes()
    empty = tmp_path / "empty" / "throughline.duckdb"
    empty.parent.mkdir()
    duckdb.connect(str(empty)).close()
    with pytest.raises(PublishError, match="no tables in schema 'marts'.*left as they were"):
        publish_marts(empty, tmp_path)
    assert (tmp_path / "marts.duckdb").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "marts.duckdb", "parquet", "throughline.duckdb"]


def test_every_mart_analysts_read_is_documented_and_under_contract():
    """What publish copies into BI comments: each mart links docs/METRICS.md, each column is typed and described."""
    from pathlib import Path

    from pipelines.dbt_assets import dbt_project
    from operations.publish import MARTS_SCHEMA, dashboard_exposures, mart_descriptions

    manifest = json.loads(Path(dbt_project.manifest_path).read_text())
    marts = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == MARTS_SCHEMA]
    assert {"work_items", "deployment_frequency_weekly"} <= {n["name"] for n in marts}
    for node in marts:
        assert node["config"]["contract"]["enforced"], node["name"]
        assert "docs/METRICS.md" in node["description"], node["name"]
        assert node["columns"], node["name"]
        for name, column in node["columns"].items():
            assert column["description"] and column["data_type"], (node["name"], name)
    assert set(mart_descriptions(manifest)) == {n["name"] for n in marts}
    dashboards = {d["name"]: d["marts"] for d in dashboard_exposures(manifest)}
    # every page's "as of" line reads pipeline_runs and work_items (dashboards/partials/as-of.md)
    assert dashboards["flow"] == ["flow_load_daily", "pipeline_runs", "work_items"]
    assert dashboards["overview"] == ["deployment_frequency_weekly", "pipeline_runs", "work_items"]
