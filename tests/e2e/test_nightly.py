"""End to end: the simulator's tiny scenario through every asset into the marts and the published marts, twice,
then once more with a failing dbt model, and once through the command line killed while dbt builds, then rerun.

Expected values are worked out by hand from the scenario (simulator/scenarios.py):
flow time = first entry into an active state -> last entry into done.

The published marts (operations/publish.py) are checked on the same runs, so that the tiny organisation is
loaded three times, not five: the second run publishes while a BI reader holds the first run's file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from connectors.config import DBT_PROJECT_DIR
from operations.publish import PUBLISHED_ENV_VAR
from tests.support.e2e import Reader, private_dagster_home, read_once, start_logged, tiny_config

TOKEN = "e2e-secret-token-value"
# The module in CI, one worker: four nightly runs and one killed (tests/conftest.py starts the slowest first).
pytestmark = pytest.mark.slow(220)


@pytest.fixture(scope="module")
def sim():
    from simulator.scenarios import tiny_org
    from simulator.server import SimulatorServer

    with SimulatorServer(tiny_org()) as server:
        yield server


@pytest.fixture(scope="module")
def env(tmp_path_factory, sim):
    root = tmp_path_factory.mktemp("e2e")
    config = root / "throughline.yml"
    config.write_text(tiny_config(sim.url))
    mp = pytest.MonkeyPatch()
    mp.setenv("THROUGHLINE_CONFIG", str(config))
    # The published marts go beside the warehouse, in a folder of their own.
    mp.setenv("THROUGHLINE_WAREHOUSE", str(root / "warehouse" / "throughline.duckdb"))
    mp.delenv(PUBLISHED_ENV_VAR, raising=False)
    mp.setenv("E2E_TOKEN", TOKEN)
    mp.setenv("DBT_LOG_LEVEL_FILE", "debug")  # the tests read the builds' dbt.log (tests/conftest.py leaves it out)
    yield root / "warehouse" / "throughline.duckdb"
    mp.undo()


def execute_nightly():
    import dagster as dg

    from pipelines.definitions import defs

    return defs.resolve_job_def("nightly").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def run_nightly():
    result = execute_nightly()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def query(path, sql):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


MART_SNAPSHOT = {
    "work_items": "SELECT * FROM marts.work_items ORDER BY work_item_id",
    "deployment_frequency_weekly": "SELECT * FROM marts.deployment_frequency_weekly ORDER BY ALL",
    "deployments": "SELECT * FROM marts.deployments ORDER BY ALL",
    "deployment_changes": "SELECT * FROM marts.deployment_changes ORDER BY ALL",
    "pull_request_cycle_times": "SELECT * FROM marts.pull_request_cycle_times ORDER BY ALL",
    "dora_metrics_weekly": "SELECT * FROM marts.dora_metrics_weekly ORDER BY ALL",
    "intervals": "SELECT * FROM intermediate.int_work_items_status_intervals ORDER BY ALL",
}


# What the first run reported as it went (`throughline demo` prints these lines).
PROGRESS: list[str] = []


@pytest.fixture(scope="module")
def first_run(env):
    """The run's result, the marts of MART_SNAPSHOT after it, and each mart's row count in the working warehouse
    then (the later runs add rows to pipeline_runs)."""
    from operations.run_report import progress_to

    with progress_to(PROGRESS.append):
        result = run_nightly()
    marts = [row[0] for row in query(env, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'")]
    counts = {mart: query(env, f'SELECT count(*) FROM marts."{mart}"')[0][0] for mart in marts}
    return result, {name: query(env, sql) for name, sql in MART_SNAPSHOT.items()}, counts


# Marts that hold facts of the data (pipeline_runs holds run ids and times, different by design), less the
# columns that say when the data was read (as of the run, so later in the rerun).
FACT_MARTS = ("work_items", "deployments", "deployment_changes", "pull_request_cycle_times", "dora_metrics_weekly",
              "flow_metrics_weekly")
RUN_TIME_COLUMNS = {"data_complete_to", "stream_data_as_of"}


def facts(path) -> dict[str, list]:
    """The raw tables' row and key counts and the marts of FACT_MARTS (less RUN_TIME_COLUMNS)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        raw = {t: con.execute(f"SELECT count(*), count(DISTINCT (source_instance, record_key)) FROM raw.{t}").fetchone()
               for (t,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' "
                                       "AND table_name NOT LIKE '\\_%' ESCAPE '\\'").fetchall()}
        marts = {}
        for mart in FACT_MARTS:
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = ? "
                "ORDER BY ordinal_position", [mart]).fetchall() if c not in RUN_TIME_COLUMNS]
            marts[mart] = con.execute(f"SELECT {', '.join(columns)} FROM marts.{mart} ORDER BY ALL").fetchall()
        return {"raw": raw, **marts}
    finally:
        con.close()


@pytest.fixture(scope="module")
def clean_facts(env, first_run):
    """facts() of the first run's warehouse, before any later run: what a clean run leaves."""
    return facts(env)


def test_raw_tables_hold_the_ground_truth(env, first_run):
    counts = dict(query(env, """
        SELECT 'issues', count(*) FROM raw.jira__issues UNION ALL
        SELECT 'changelogs', count(*) FROM raw.jira__changelogs UNION ALL
        SELECT 'statuses', count(*) FROM raw.jira__statuses UNION ALL
        SELECT 'pulls', count(*) FROM raw.github__pull_requests UNION ALL
        SELECT 'deployments', count(*) FROM raw.github__deployments UNION ALL
        SELECT 'runs', count(*) FROM raw.github__workflow_runs
    """))
    # 5 issues with 3 + 4 + 4 + 1 + 1 status changes; 6 statuses; 3 PRs; 5 deployments; 3 runs
    assert counts == {"issues": 5, "changelogs": 13, "statuses": 6, "pulls": 3, "deployments": 5, "runs": 3}


def test_flow_times_worked_out_by_hand(env, first_run):
    rows = query(env, """
        SELECT issue_key, flow_state, is_done, is_canceled, flow_time_hours, lead_time_hours, reopen_count
        FROM marts.work_items ORDER BY issue_key
    """)
    assert rows == [
        ("FLOW-1", "done", True, False, 72.0, 96.0, 0),
        ("FLOW-2", "done", True, False, 120.0, 168.0, 0),  # 5 Jan 10:00 -> 12 Jan 10:00
        ("FLOW-3", "done", True, False, 144.0, 168.0, 1),
        ("FLOW-4", "active", False, False, None, None, 0),
        ("FLOW-5", "canceled", False, True, None, None, 0),
    ]
    assert query(env, "SELECT median(flow_time_hours) FROM marts.work_items WHERE is_done") == [(120.0,)]


def test_flow_metrics_weekly_worked_out_by_hand(env, first_run):
    # The shipped seeds map no team. Week of 5 Jan: FLOW-1 (Story, 72 h, all active) done, FLOW-5 canceled.
    # Week of 12 Jan: FLOW-3 (Story, 144 h, 120 active) and FLOW-2 (Bug, 120 h, 72 active, 48 Blocked).
    rows = query(env, """
        SELECT week_start::VARCHAR, flow_item_type, flow_velocity, canceled_items, flow_time_p50_hours,
               round(flow_efficiency, 4)
        FROM marts.flow_metrics_weekly
        WHERE grouping_level = 'team_type' AND team = 'unassigned' AND week_start IN ('2026-01-05', '2026-01-12') ORDER BY 1, 2
    """)
    assert rows == [
        ("2026-01-05", "defect", 0, 0, None, None),
        ("2026-01-05", "feature", 1, 1, 72.0, 1.0),
        ("2026-01-12", "defect", 1, 0, 120.0, 0.6),
        ("2026-01-12", "feature", 1, 0, 144.0, round(120 / 144, 4)),
    ]
    assert query(env, "SELECT blocked_time_hours FROM marts.work_items WHERE issue_key = 'FLOW-2'") == [(48.0,)]


def test_deployments_per_week_worked_out_by_hand(env, first_run):
    rows = query(env, """
        SELECT week_start::VARCHAR, deployments, failed_deployments, deployment_attempts
        FROM marts.deployment_frequency_weekly ORDER BY week_start
    """)
    # production: d1 success + d3 failure + d4 success in week of 5 Jan; d5 success in week of 12 Jan
    assert rows == [("2026-01-05", 2, 1, 3), ("2026-01-12", 1, 0, 1)]


def test_dora_marts_worked_out_by_hand(env, first_run):
    # Compare sets as the connector reads them (previous production deployment, any outcome): 103 = c1...c3
    # = [c2, c3], 104 = c3...c4 = [c4], 105 = [c5]. 104 ships since the last success 101: c2, c3 and c4.
    # 101 is the first production deployment: its change set is its sha's history since start_date, c0 and
    # c1 (no PR of either).
    rows = query(env, """
        SELECT deployment_id, status, change_count, pull_request_count, is_change_failure, recovery_hours
        FROM marts.deployments ORDER BY created_at
    """)
    assert rows == [
        ("101", "success", 2, 0, False, None),
        ("103", "failure", 2, 0, True, pytest.approx(23 + 50 / 60)),  # restored by 104 at 01-08 15:10
        ("104", "success", 3, 1, False, None),
        ("105", "success", 1, 1, False, None),
    ]
    # PR #1 (squash, c4): first commit 01-06 09:30 -> 104 finished 01-08 15:10 = 53 h 40 min;
    # PR #2 (c5): first commit 01-10 10:30 -> 105 finished 01-13 15:10 = 76 h 40 min
    lead_times = query(env, """
        SELECT pull_request_number, first_deployment_key, lead_time_hours, deploy_hours
        FROM marts.pull_request_cycle_times ORDER BY 1
    """)
    assert lead_times == [
        (1, "tiny-github:104", pytest.approx(53 + 40 / 60), pytest.approx(190 / 60)),
        (2, "tiny-github:105", pytest.approx(76 + 40 / 60), pytest.approx(30 + 10 / 60)),
    ]
    weeks = query(env, """
        SELECT period_start::VARCHAR, deployments, deployment_attempts, change_failures, lead_time_p50_hours
        FROM marts.dora_metrics_weekly WHERE grouping_level = 'overall' ORDER BY 1
    """)
    assert weeks == [
        ("2026-01-05", 2, 3, 1, pytest.approx(53 + 40 / 60)),
        ("2026-01-12", 1, 1, 0, pytest.approx(76 + 40 / 60)),
    ]


def test_dbt_tests_ran_as_asset_checks_and_passed(first_run):
    result, _, _ = first_run
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(checks) >= 10
    assert all(e.event_specific_data.passed for e in checks)


def test_progress_names_every_stream_as_it_lands_and_each_build_phase(first_run):
    result, _, _ = first_run
    # the 13 changelog items of the scenario come with their issues' requests: a line of their own, no requests
    assert "  tiny-jira: jira__changelogs: 13 records, 0 requests" in PROGRESS
    assert any(line.startswith("  tiny-github: github__deployments: ") for line in PROGRESS)
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    phases = [line for line in PROGRESS if not line.startswith("  ")]
    assert [p.split(":")[0] for p in phases] == ["dbt build", "tests", "publish"]
    assert phases[1] == f"tests: {len(checks)} passed, 0 failed"
    # every stream line comes before the build
    assert max(i for i, line in enumerate(PROGRESS) if line.startswith("  ")) < PROGRESS.index(phases[0])


def test_metadata_counts_and_no_secret_anywhere(env, first_run):
    result, _, _ = first_run
    materialized = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert materialized["raw/jira__changelogs"]["records"].value == 13
    assert materialized["raw/github__deployment_statuses"]["records"].value > 0
    everything = "\n".join(str(e) for e in result.all_events)
    assert TOKEN not in everything
    raw_text = query(env, """
        SELECT string_agg(payload::VARCHAR, '') FROM (
            SELECT payload FROM raw.jira__issues UNION ALL SELECT payload FROM raw.github__deployments)
    """)[0][0]
    assert TOKEN not in raw_text


@pytest.fixture(scope="module")
def second_run(env, first_run, clean_facts):
    """The nightly run again over the same org, while a BI tool (another process) holds the published file the
    first run wrote: the marts after it, and what it did to the published file and its reader. A fixture, not a
    step of one test, so a test that needs both runs has them whichever worker process it lands in."""
    published = env.parent / "marts.duckdb"
    inode = published.stat().st_ino
    reader = Reader(published, "SELECT count(*) FROM marts.work_items")
    # What a build of another warehouse in between (the other test worker's) leaves where dagster-dbt looks
    # for a parse to start from: one this warehouse's build cannot use.
    shared = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"
    shared.write_bytes(b"another warehouse's parse")
    try:
        result = run_nightly()  # extract, dbt build on the working file, publish a new file
        build_folder, = (DBT_PROJECT_DIR / "target").glob(f"dbt_models-{result.run_id[:7]}-*")
        return {
            "marts": {name: query(env, sql) for name, sql in MART_SNAPSHOT.items()},
            "dbt_log": "".join(path.read_text() for path in sorted(build_folder.glob("dbt.log*"))),
            "new_file": published.stat().st_ino != inode,
            "reader": (reader.first, reader.again()),
        }
    finally:
        reader.stop()


def test_rerun_changes_nothing(env, first_run, second_run):
    _, before, _ = first_run
    assert second_run["marts"] == before
    dupes = query(env, "SELECT count(*) - count(DISTINCT record_key) FROM raw.jira__changelogs")
    assert dupes == [(0,)]


def test_the_rerun_parses_only_what_changed_since_the_first_runs_build(second_run):
    """A parse holds for one warehouse name: the rerun starts from the last parse of its own, even when the other
    test worker built another kind of warehouse in between (operations/dbt.py kept_parse)."""
    assert "Partial parsing enabled: 0 files deleted, 0 files added, 0 files changed." in second_run["dbt_log"]
    assert "Unable to do partial parsing" not in second_run["dbt_log"]


def test_jira_reference_streams_of_the_tiny_org(env, first_run):
    counts = dict(query(env, """
        SELECT 'projects', count(*) FROM raw.jira__projects UNION ALL
        SELECT 'fields', count(*) FROM raw.jira__fields UNION ALL
        SELECT 'boards', count(*) FROM raw.jira__boards UNION ALL
        SELECT 'sprints', count(*) FROM raw.jira__sprints UNION ALL
        SELECT 'deleted_issues', count(*) FROM raw.jira__deleted_issues
    """))
    # project FLOW with its one scrum board and no sprints; 16 system + 2 custom fields; nothing deleted
    assert counts == {"projects": 1, "fields": 18, "boards": 1, "sprints": 0, "deleted_issues": 0}
    assert query(env, "SELECT project_key, is_team_managed FROM staging.stg_jira__projects") == [("FLOW", False)]
    assert query(env, "SELECT field_id FROM staging.stg_jira__fields WHERE field_name = 'Story point estimate'") == [
        ("customfield_10016",)]


def test_run_report_tells_new_from_reread_records(env, first_run, second_run):
    """Two runs happened (first_run and second_run). The tiny org holds 5 issues and 13 changelog
    histories: all new in the first run; the rerun adds nothing new, whatever its lookback re-reads."""
    runs = query(env, """
        SELECT run_id, min(run_started_at) AS started FROM marts.pipeline_runs GROUP BY run_id ORDER BY started
    """)
    assert len(runs) == 2
    first, second = runs[0][0], runs[1][0]
    by_stream = {
        (run_id, stream): (records, new, updated, status)
        for run_id, stream, records, new, updated, status in query(env, """
            SELECT run_id, stream, records, new_records, updated_records, status FROM marts.pipeline_runs
            WHERE source_instance = 'tiny-jira'
        """)
    }
    assert by_stream[(first, "jira__issues")] == (5, 5, 0, "success")
    assert by_stream[(first, "jira__changelogs")] == (13, 13, 0, "success")
    assert query(env, f"SELECT sum(new_records) FROM marts.pipeline_runs WHERE run_id = '{second}'") == [(0,)]
    assert query(env, "SELECT count(*) FROM marts.pipeline_runs WHERE records <> new_records + updated_records") == [(0,)]
    # each stream's latest run: the rerun for the issues; exactly one latest row per stream
    assert query(env, "SELECT run_id FROM marts.pipeline_runs WHERE is_latest_run AND stream = 'jira__issues'") == [
        (second,)]
    assert query(env, """SELECT count(*) FROM (SELECT source_instance, stream FROM marts.pipeline_runs
                          GROUP BY ALL HAVING count(*) FILTER (WHERE is_latest_run) <> 1)""") == [(0,)]


# --- what the nightly job publishes (operations/publish.py) -----------------------------------

def test_the_nightly_job_publishes_every_mart_with_row_counts(env, first_run):
    result, _, counts = first_run
    folder = env.parent
    published = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
        and e.asset_key.path[0] in ("published", "dashboards")
    }
    assert published["published/marts"]["row_counts"].value == counts
    # tiny org: 5 work items (FLOW-1..5), production deployments in 2 weeks (the tests above)
    assert counts["work_items"] == 5 and counts["deployment_frequency_weekly"] == 2
    assert published["published/marts"]["rows/work_items"].value == 5
    assert published["dashboards/flow"]["rows/work_items"].value == 5
    assert {r[0] for r in read_once(folder / "marts.duckdb", "SELECT table_name FROM duckdb_tables()")} == set(counts)
    for mart in counts:
        assert (folder / "parquet" / mart / f"{mart}.parquet").exists()
    # a BI tool reading the Parquet schema finds the dbt description, word for word as the model's YAML has it
    yml = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "flow" / "work_items.yml").read_text())
    column = next(c for c in yml["models"][0]["columns"] if c["name"] == "flow_time_hours")
    schema = pq.read_schema(folder / "parquet" / "work_items" / "work_items.parquet")
    assert schema.field("flow_time_hours").metadata[b"description"].decode() == column["description"]
    assert b"docs/METRICS.md" in schema.metadata[b"description"]


def test_a_reader_holding_the_published_file_does_not_stop_a_full_load_and_publish(env, second_run):
    # second_run succeeded (run_nightly asserts it) although the reader held the file the first run published
    assert second_run["new_file"]  # a new file was swapped in
    assert second_run["reader"] == ([[5]], [[5]])  # the reader kept working on the old one
    assert read_once(env.parent / "marts.duckdb", "SELECT count(*) FROM marts.work_items") == [[5]]


def test_a_failing_dbt_model_publishes_nothing_and_leaves_the_last_good_marts(env, first_run, tmp_path, monkeypatch):
    import pipelines.dbt_assets

    # In a copy of the warehouse and its published marts, so that the run report the tests above read (two runs)
    # stays as it was whichever order the tests run in.
    folder = tmp_path / "warehouse"
    shutil.copytree(env.parent, folder)
    monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(folder / env.name))
    published = folder / "marts.duckdb"
    before = published.read_bytes()
    parquet_before = (folder / "parquet" / "work_items" / "work_items.parquet").read_bytes()
    # An unbalanced quote in a var breaks the SQL of stg_jira__issues, and so the build. Its vars differ from the
    # last build's, so every incremental model would be rebuilt in full: --fail-fast ends the build at that first
    # failure, as the models outside its lineage would not change what this test sees (half a minute in CI).
    broken = ["build", "--fail-fast", "--vars", json.dumps({"jira_story_points_field": "customfield_1'broken"})]
    monkeypatch.setattr(pipelines.dbt_assets, "dbt_build_args", lambda config: broken)

    result = execute_nightly()

    assert not result.success
    failed = {e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    assert failed == {"dbt_models"}
    assert "publish_marts" not in {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert published.read_bytes() == before
    assert (folder / "parquet" / "work_items" / "work_items.parquet").read_bytes() == parquet_before
    assert read_once(published, "SELECT count(*) FROM marts.work_items") == [[5]]
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    # Its vars are not the config's, and still its dbt started from the parse the first run kept: no var changes
    # what a parse records (tests/dbt/test_parse_without_vars.py), so throughline-dbt leaves them out of the check.
    [build] = (DBT_PROJECT_DIR / "target").glob(f"dbt_models-{result.run_id[:7]}-*")
    dbt_log = "".join(path.read_text() for path in sorted(build.glob("dbt.log*")))
    assert "Partial parsing enabled: 0 files deleted, 0 files added, 0 files changed." in dbt_log
    assert "customfield_1'broken" in dbt_log  # (the build that failed on its var)


def test_a_build_of_some_dbt_assets_leaves_the_unchanged_out_and_records_nothing(env, first_run, tmp_path,
                                                                                  monkeypatch):
    """A build of one mart picked in the UI, after a new run report: the mart's sources did not change since the
    first run's build, so dbt leaves it out and Dagster reports it left as it is; and since the build rebuilt
    only that mart, the inputs recorded for the next nightly stay the first run's (operations/unchanged_nodes.py)."""
    import dagster as dg

    from pipelines.definitions import defs

    folder = tmp_path / "warehouse"
    shutil.copytree(env.parent, folder)
    warehouse = folder / env.name
    monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(warehouse))
    record = "SELECT unique_id, state FROM ops.build_inputs ORDER BY 1"
    before = query(warehouse, record)
    assert len(before) > 70  # the first run built every asset: it recorded each source's state and the project's
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO ops.stream_runs "
                    "SELECT * REPLACE ('a later run' AS run_id) FROM ops.stream_runs LIMIT 1")
    run_reports = "SELECT count(*) || ':' || sum(hash(t)) FROM ops.stream_runs AS t"

    work_items = dg.AssetKey(["marts", "work_items"])
    result = defs.resolve_job_def("nightly").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=[work_items])

    assert result.success
    [materialization] = result.asset_materializations_for_node("dbt_models")
    assert materialization.asset_key == work_items
    assert materialization.metadata["left as it is"].value == "none of its inputs changed since the last build"
    # the run reports changed, and pipeline_runs was not rebuilt: their new state is not recorded
    assert dict(before)["source.throughline.ops.stream_runs"] != query(warehouse, run_reports)[0][0]
    assert query(warehouse, record) == before


def test_a_model_whose_code_changed_is_rebuilt_in_full_by_the_next_nightly(env, first_run, tmp_path, monkeypatch):
    """An upgrade changed pull_request_cycle_times' formulas: here its recorded code is another version's, and its
    rows hold what that version computed (every lead time 1000 h longer). Its inputs did not change, so an
    incremental run, which compares the inputs' columns, would keep the old hours; a build of it (picked in the UI,
    as a nightly would) rebuilds it in full by itself and says so in the log (operations/unchanged_nodes.py,
    macros/full_refresh.sql). A build of some assets records nothing: the next nightly rebuilds it in full again."""
    import dagster as dg

    from pipelines.definitions import defs

    folder = tmp_path / "warehouse"
    shutil.copytree(env.parent, folder)
    warehouse = folder / env.name
    monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(warehouse))
    code = "code:model.throughline.pull_request_cycle_times"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE marts.pull_request_cycle_times SET lead_time_hours = coalesce(lead_time_hours, 0) + 1000")
        recorded = con.execute("SELECT state FROM ops.build_inputs WHERE unique_id = ?", [code]).fetchall()[0][0]
        con.execute("UPDATE ops.build_inputs SET state = 'an older version' WHERE unique_id = ?", [code])
    assert query(warehouse, MART_SNAPSHOT["pull_request_cycle_times"]) != first_run[1]["pull_request_cycle_times"]

    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("nightly").execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(["marts", "pull_request_cycle_times"])])

    assert result.success
    assert query(warehouse, MART_SNAPSHOT["pull_request_cycle_times"]) == first_run[1]["pull_request_cycle_times"]
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("incremental models rebuilt in full (1)" in m and m.endswith(": pull_request_cycle_times")
               for m in messages), [m for m in messages if "rebuilt in full" in m]
    assert recorded != "an older version"
    record = f"SELECT state FROM ops.build_inputs WHERE unique_id = '{code}'"
    assert query(warehouse, record) == [("an older version",)]


def test_sigkill_during_dbt_then_an_immediate_rerun_equals_a_clean_run(env, clean_facts, tmp_path):
    """`throughline run` is killed while its dbt builds (dbt holds the warehouse): the reaper kills the orphaned dbt
    at once, and the rerun started right after succeeds and leaves what the clean first run left."""
    import dagster as dg

    from operations.processes import marked

    command = [sys.executable, "-m", "operations.cli", "run"]
    # in another folder than the first run's warehouse, under the same name
    warehouse = tmp_path / "killed" / env.name
    warehouse.parent.mkdir()
    home = private_dagster_home(tmp_path)
    run_env = {**os.environ, "THROUGHLINE_CONFIG": os.environ["THROUGHLINE_CONFIG"],
               "THROUGHLINE_WAREHOUSE": str(warehouse), "DAGSTER_HOME": str(home)}
    output = tmp_path / "killed-run.log"
    proc = start_logged(command, run_env, output)
    try:
        deadline = time.monotonic() + 600
        children: list[int] = []
        while not children:  # dbt is the run's only child process: it carries the run's mark
            assert proc.poll() is None, f"the run ended before dbt started:\n{output.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "dbt never started"
            children = [pid for pid in marked(proc.pid) if b"dbt" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            time.sleep(0.05)
        time.sleep(1.0)  # dbt has opened the warehouse and is building
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while marked(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked(proc.pid) == [], "a child of the killed run is still alive"

    rerun = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "was interrupted earlier: marked failed and its warehouse slot freed" in rerun.stderr

    killed = facts(warehouse)
    assert killed == clean_facts
    assert all(total == distinct for total, distinct in killed["raw"].values())  # nothing stored twice
    # the rerun published too
    with duckdb.connect(str(warehouse.parent / "marts.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM work_items").fetchone() == (5,)
    # Its dbt (throughline-dbt, operations/dbt_main.py) started from the first run's parse, made for a warehouse of
    # the same name in another folder; dbt's own check would have parsed the whole project again
    # ("Unable to do partial parsing because profile has changed").
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [succeeded] = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
    [build] = (DBT_PROJECT_DIR / "target").glob(f"dbt_models-{succeeded.run_id[:7]}-*")
    dbt_log = "".join(path.read_text() for path in sorted(build.glob("dbt.log*")))
    assert "Partial parsing enabled: 0 files deleted, 0 files added, 0 files changed." in dbt_log
    assert "Unable to do partial parsing" not in dbt_log
