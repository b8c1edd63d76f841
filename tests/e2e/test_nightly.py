"""End to end: the simulator's tiny scenario through every asset into the marts, twice.

Expected values are worked out by hand from the scenario (simulator/scenarios.py):
flow time = first entry into an active state -> last entry into done.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.support.e2e import tiny_config

TOKEN = "e2e-secret-token-value"
# The module in CI, one worker: two nightly runs (tests/conftest.py starts the slowest first).
pytestmark = pytest.mark.slow(105)


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
    mp.setenv("THROUGHLINE_WAREHOUSE", str(root / "warehouse.duckdb"))
    mp.setenv("E2E_TOKEN", TOKEN)
    yield root / "warehouse.duckdb"
    mp.undo()


def run_nightly():
    import dagster as dg

    from pipelines.definitions import defs

    result = defs.resolve_job_def("nightly").execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
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
    from operations.run_report import progress_to

    with progress_to(PROGRESS.append):
        result = run_nightly()
    return result, {name: query(env, sql) for name, sql in MART_SNAPSHOT.items()}


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
    result, _ = first_run
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(checks) >= 10
    assert all(e.event_specific_data.passed for e in checks)


def test_progress_names_every_stream_as_it_lands_and_each_build_phase(first_run):
    result, _ = first_run
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
    result, _ = first_run
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
def second_run(env, first_run):
    """The nightly run again over the same org: the marts after it. A fixture, not a step of one test, so a
    test that needs both runs has them whichever worker process it lands in."""
    run_nightly()
    return {name: query(env, sql) for name, sql in MART_SNAPSHOT.items()}


def test_rerun_changes_nothing(env, first_run, second_run):
    _, before = first_run
    assert second_run == before
    dupes = query(env, "SELECT count(*) - count(DISTINCT record_key) FROM raw.jira__changelogs")
    assert dupes == [(0,)]


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
