"""End to end: the simulator's tiny scenario through every asset into the marts, twice.

Expected values are worked out by hand from the scenario (connectors/simulator/scenarios.py):
flow time = first entry into an active state -> last entry into done.
"""

from __future__ import annotations

import duckdb
import pytest

TOKEN = "e2e-secret-token-value"


@pytest.fixture(scope="module")
def sim():
    from connectors.simulator.scenarios import tiny_org
    from connectors.simulator.server import SimulatorServer

    with SimulatorServer(tiny_org()) as server:
        yield server


@pytest.fixture(scope="module")
def env(tmp_path_factory, sim):
    root = tmp_path_factory.mktemp("e2e")
    config = root / "throughline.yml"
    config.write_text(
        f"""
sources:
  - type: jira
    name: tiny-jira
    base_url: {sim.url}/jira
    auth: {{email: e2e@example.com, api_token: "${{E2E_TOKEN}}"}}
    scope: {{projects: [FLOW]}}
    options: {{start_date: "2026-01-01", backoff_seconds: 0}}
  - type: github
    name: tiny-github
    base_url: {sim.url}/github
    auth: {{token: "${{E2E_TOKEN}}"}}
    scope: {{repos: [acme/checkout]}}
    options: {{start_date: "2026-01-01", backoff_seconds: 0}}
"""
    )
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
    "intervals": "SELECT * FROM intermediate.int_work_items_status_intervals ORDER BY ALL",
}


@pytest.fixture(scope="module")
def first_run(env):
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


def test_deployments_per_week_worked_out_by_hand(env, first_run):
    rows = query(env, """
        SELECT week_start::VARCHAR, deployments, failed_deployments, deployment_attempts
        FROM marts.deployment_frequency_weekly ORDER BY week_start
    """)
    # production: d1 success + d3 failure + d4 success in week of 5 Jan; d5 success in week of 12 Jan
    assert rows == [("2026-01-05", 2, 1, 3), ("2026-01-12", 1, 0, 1)]


def test_dbt_tests_ran_as_asset_checks_and_passed(first_run):
    result, _ = first_run
    checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(checks) >= 10
    assert all(e.event_specific_data.passed for e in checks)


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


def test_rerun_changes_nothing(env, first_run):
    _, before = first_run
    run_nightly()
    after = {name: query(env, sql) for name, sql in MART_SNAPSHOT.items()}
    assert after == before
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
