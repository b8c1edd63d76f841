"""Published marts (operations/publish.py): BI readers can hold them open while loads and publishes run.

Readers run in their own processes, as BI tools do: DuckDB's locks are per process, and one process
would share a single cached database instance between its connections.
"""

import json
import subprocess
import sys
import textwrap

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from connectors.config import DBT_PROJECT_DIR
from operations.publish import PUBLISHED_ENV_VAR, STORAGE_VERSION, PublishError, publish_marts
from tests.support.e2e import tiny_config

TOKEN = "publish-secret-token-value"

# A BI tool in another process: opens the file read-only, answers one query, then holds the
# connection until told to query again (one line on stdin) and exit.
READER = textwrap.dedent("""
    import json, sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(json.dumps(con.execute(sys.argv[2]).fetchall(), default=str), flush=True)
    sys.stdin.readline()
    print(json.dumps(con.execute(sys.argv[2]).fetchall(), default=str), flush=True)
    con.close()
""")


class Reader:
    def __init__(self, path, sql):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", READER, str(path), sql],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.first = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("reader failed: " + self.proc.stderr.read())
        return json.loads(line)

    def again(self):
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        rows = self._read()
        assert self.proc.wait(timeout=60) == 0, self.proc.stderr.read()
        return rows

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def read_once(path, sql):
    reader = Reader(path, sql)
    reader.stop()
    return reader.first


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


# --- the nightly job end to end: load, dbt build, publish ---------------------------------------

@pytest.fixture(scope="module")
def sim():
    from simulator.scenarios import tiny_org
    from simulator.server import SimulatorServer

    with SimulatorServer(tiny_org()) as server:
        yield server


@pytest.fixture(scope="module")
def env(tmp_path_factory, sim):
    root = tmp_path_factory.mktemp("publish")
    config = root / "throughline.yml"
    config.write_text(tiny_config(sim.url, jira_token="${PUBLISH_TOKEN}", github_token="${PUBLISH_TOKEN}"))
    mp = pytest.MonkeyPatch()
    mp.setenv("THROUGHLINE_CONFIG", str(config))
    mp.setenv("THROUGHLINE_WAREHOUSE", str(root / "warehouse" / "throughline.duckdb"))
    mp.delenv(PUBLISHED_ENV_VAR, raising=False)
    mp.setenv("PUBLISH_TOKEN", TOKEN)
    yield root / "warehouse"
    mp.undo()


def run_nightly():
    import dagster as dg

    from pipelines.definitions import defs

    return defs.resolve_job_def("nightly").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


@pytest.fixture(scope="module")
def first_run(env):
    result = run_nightly()
    assert result.success
    return result


# The tests of the nightly runs below, in CI on one worker: three runs (tests/conftest.py starts the slowest first).
@pytest.mark.slow(160)
def test_the_nightly_job_publishes_every_mart_with_row_counts(env, first_run):
    published = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in first_run.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.asset_key.path[0] in ("published", "dashboards")
    }
    working = duckdb.connect(str(env / "throughline.duckdb"), read_only=True)
    try:
        marts = [r[0] for r in working.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()]
        counts = {m: working.execute(f'SELECT count(*) FROM marts."{m}"').fetchall()[0][0] for m in marts}
    finally:
        working.close()
    assert published["published/marts"]["row_counts"].value == counts
    # tiny org: 5 work items (FLOW-1..5), production deployments in 2 weeks (see test_nightly.py)
    assert counts["work_items"] == 5 and counts["deployment_frequency_weekly"] == 2
    assert published["published/marts"]["rows/work_items"].value == 5
    assert published["dashboards/flow"]["rows/work_items"].value == 5
    assert {r[0] for r in read_once(env / "marts.duckdb", "SELECT table_name FROM duckdb_tables()")} == set(counts)
    for mart in counts:
        assert (env / "parquet" / mart / f"{mart}.parquet").exists()
    # a BI tool reading the Parquet schema finds the dbt description, word for word as the model's YAML has it
    yml = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "flow" / "work_items.yml").read_text())
    column = next(c for c in yml["models"][0]["columns"] if c["name"] == "flow_time_hours")
    schema = pq.read_schema(env / "parquet" / "work_items" / "work_items.parquet")
    assert schema.field("flow_time_hours").metadata[b"description"].decode() == column["description"]
    assert b"docs/METRICS.md" in schema.metadata[b"description"]
    assert TOKEN not in "\n".join(str(e) for e in first_run.all_events)


def test_a_reader_holding_the_published_file_does_not_stop_a_full_load_and_publish(env, first_run):
    published = env / "marts.duckdb"
    inode = published.stat().st_ino
    reader = Reader(published, "SELECT count(*) FROM marts.work_items")
    try:
        result = run_nightly()  # extract, dbt build on the working file, publish a new file
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        assert published.stat().st_ino != inode  # a new file was swapped in
        assert reader.again() == [[5]]  # the reader kept working on the old one
        assert read_once(published, "SELECT count(*) FROM marts.work_items") == [[5]]
    finally:
        reader.stop()


def test_a_failing_dbt_model_publishes_nothing_and_leaves_the_last_good_marts(env, first_run, monkeypatch):
    import pipelines.dbt_assets

    published = env / "marts.duckdb"
    before = published.read_bytes()
    parquet_before = (env / "parquet" / "work_items" / "work_items.parquet").read_bytes()
    # An unbalanced quote in a var breaks the SQL of stg_jira__issues, and so the build.
    broken = ["build", "--vars", json.dumps({"jira_story_points_field": "customfield_1'broken"})]
    monkeypatch.setattr(pipelines.dbt_assets, "dbt_build_args", lambda config: broken)

    result = run_nightly()

    assert not result.success
    failed = {e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    assert failed == {"dbt_models"}
    assert "publish_marts" not in {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert published.read_bytes() == before
    assert (env / "parquet" / "work_items" / "work_items.parquet").read_bytes() == parquet_before
    assert read_once(published, "SELECT count(*) FROM marts.work_items") == [[5]]
    assert not [p for p in env.iterdir() if p.name.endswith(".tmp")]


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
