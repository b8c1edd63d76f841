"""End to end: a tiny, hand-worked history through the raw layer and `dbt build` to the marts.

Expected values were computed by hand from the timeline below (all UTC), not by running the SQL:

FLOW-1 Story created 01-05 09:00; To Do -> In Progress 01-06 09:00 -> In Review 01-08 09:00 -> Done 01-09 09:00
FLOW-2 Bug   created 01-05 10:00; -> In Progress 01-07 10:00 -> Blocked 01-08 10:00 -> In Progress 01-10 10:00
             -> Done 01-12 10:00
FLOW-3 Story created 01-06 08:00; -> In Progress 01-07 08:00 -> Done 01-08 08:00 -> In Progress 01-09 08:00
             -> Done 01-13 08:00
FLOW-4 Task  created 01-07 12:00; -> In Progress 01-08 12:00 (still)
FLOW-5 Story created 01-07 12:00; -> Won't Do 01-09 12:00
acme/checkout deployments: d1 production 01-05 15:00 success 15:10; d2 staging 01-06 15:00 success;
d3 production 01-07 15:00 failure 15:20; d4 production 01-08 15:00 success 15:10;
d5 production 01-13 15:00 success 15:10 (older successes turn `inactive` as GitHub does).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta

import duckdb
import pytest

from connectors.core.raw import RawRecord

from .warehouse import WITHOUT_UNIT_TESTS, Batch, invoke_dbt, load_raw, query, query_dicts, run_dbt

JIRA = "jira-cloud"
GITHUB = "github-acme"
REPO = "acme/checkout"
SITE = "https://acme.atlassian.net"

# id -> (name, category key, category id) as Jira's /rest/api/3/status returns them
STATUSES = {
    "1": ("To Do", "new", 2),
    "3": ("In Progress", "indeterminate", 4),
    "10001": ("Blocked", "indeterminate", 4),
    "10002": ("In Review", "indeterminate", 4),
    "10003": ("Done", "done", 3),
    "10004": ("Won't Do", "done", 3),
}
STATUS_ID = {name: status_id for status_id, (name, _, _) in STATUSES.items()}

# key -> (issue id, type, created, [(changed at, to status name), ...])
ISSUES = {
    "FLOW-1": ("10101", "Story", "2026-01-05T09:00", [
        ("2026-01-06T09:00", "In Progress"), ("2026-01-08T09:00", "In Review"), ("2026-01-09T09:00", "Done"),
    ]),
    "FLOW-2": ("10102", "Bug", "2026-01-05T10:00", [
        ("2026-01-07T10:00", "In Progress"), ("2026-01-08T10:00", "Blocked"),
        ("2026-01-10T10:00", "In Progress"), ("2026-01-12T10:00", "Done"),
    ]),
    "FLOW-3": ("10103", "Story", "2026-01-06T08:00", [
        ("2026-01-07T08:00", "In Progress"), ("2026-01-08T08:00", "Done"),
        ("2026-01-09T08:00", "In Progress"), ("2026-01-13T08:00", "Done"),
    ]),
    "FLOW-4": ("10104", "Task", "2026-01-07T12:00", [("2026-01-08T12:00", "In Progress")]),
    "FLOW-5": ("10105", "Story", "2026-01-07T12:00", [("2026-01-09T12:00", "Won't Do")]),
}

# name -> (environment, created, [(status state, at), ...])
DEPLOYMENTS = {
    "d1": ("production", "2026-01-05T15:00", [("in_progress", "2026-01-05T15:01"), ("success", "2026-01-05T15:10"),
                                              ("inactive", "2026-01-08T15:10")]),
    "d2": ("staging", "2026-01-06T15:00", [("success", "2026-01-06T15:10")]),
    "d3": ("production", "2026-01-07T15:00", [("in_progress", "2026-01-07T15:01"), ("failure", "2026-01-07T15:20")]),
    "d4": ("production", "2026-01-08T15:00", [("in_progress", "2026-01-08T15:01"), ("success", "2026-01-08T15:10"),
                                              ("inactive", "2026-01-13T15:10")]),
    "d5": ("production", "2026-01-13T15:00", [("in_progress", "2026-01-13T15:01"), ("success", "2026-01-13T15:10")]),
}


def jira_time(text: str, offset_hours: int = 0) -> str:
    """Jira's format, in the zone of the user the connector runs as (Jira writes local time + offset)."""
    local = datetime.fromisoformat(text) + timedelta(hours=offset_hours)
    return f"{local:%Y-%m-%dT%H:%M:%S}.000{'+' if offset_hours >= 0 else '-'}{abs(offset_hours):02d}00"


def github_time(text: str) -> str:
    return f"{text}:00Z"


def jira_status(status_id: str) -> dict:
    name, category_key, category_id = STATUSES[status_id]
    return {
        "self": f"{SITE}/rest/api/3/status/{status_id}",
        "description": "",
        "iconUrl": f"{SITE}/images/icons/statuses/generic.png",
        "name": name,
        "untranslatedName": name,
        "id": status_id,
        "statusCategory": {
            "self": f"{SITE}/rest/api/3/statuscategory/{category_id}",
            "id": category_id,
            "key": category_key,
            "colorName": {"new": "blue-gray", "indeterminate": "yellow", "done": "green"}[category_key],
            "name": {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}[category_key],
        },
    }


def jira_user(account_id: str, name: str) -> dict:
    return {
        "self": f"{SITE}/rest/api/3/user?accountId={account_id}",
        "accountId": account_id,
        "displayName": name,
        "active": True,
        "timeZone": "Europe/Berlin",
        "accountType": "atlassian",
    }


def jira_batches() -> list[Batch]:
    statuses = [RawRecord(record_key=status_id, payload=jira_status(status_id)) for status_id in STATUSES]
    issues, histories = [], []
    for key, (issue_id, issue_type, created, changes) in ISSUES.items():
        current = changes[-1][1] if changes else "To Do"
        # FLOW-1 is written in UTC+1, as Jira does for a user in Berlin: the marts must still say 09:00 UTC.
        offset = 1 if key == "FLOW-1" else 0
        issues.append(RawRecord(
            record_key=issue_id,
            scope="FLOW",
            cursor_value=jira_time(changes[-1][0] if changes else created, offset),
            payload={
                "id": issue_id,
                "key": key,
                "self": f"{SITE}/rest/api/3/issue/{issue_id}",
                "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
                "fields": {
                    "summary": f"{key} summary",
                    "issuetype": {"id": "10001", "name": issue_type, "subtask": False, "hierarchyLevel": 0},
                    "project": {"id": "10000", "key": "FLOW", "name": "Flow", "projectTypeKey": "software"},
                    "status": {k: v for k, v in jira_status(STATUS_ID[current]).items() if k != "untranslatedName"},
                    "priority": {"id": "3", "name": "Medium"},
                    "labels": ["checkout"] if issue_type == "Story" else [],
                    "parent": None,
                    "customfield_10016": 3.0 if issue_type == "Story" else None,
                    "created": jira_time(created, offset),
                    "updated": jira_time(changes[-1][0] if changes else created, offset),
                    "resolutiondate": jira_time(changes[-1][0], offset) if current in ("Done", "Won't Do") else None,
                },
            },
        ))
        previous = "To Do"
        for number, (changed_at, to_name) in enumerate(changes, start=1):
            history_id = f"{issue_id}{number:02d}"
            items = [{
                "field": "status", "fieldtype": "jira", "fieldId": "status",
                "from": STATUS_ID[previous], "fromString": previous,
                "to": STATUS_ID[to_name], "toString": to_name,
            }]
            if number == 1:
                # Other fields change in the same history; only status items may make intervals.
                items.insert(0, {
                    "field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                    "from": None, "fromString": None, "to": "557058:ada", "toString": "Ada",
                })
            histories.append(RawRecord(
                record_key=history_id,
                parent_key=issue_id,
                scope="FLOW",
                cursor_value=jira_time(changed_at, offset),
                payload={
                    "id": history_id,
                    "author": jira_user("557058:ada", "Ada"),
                    "created": jira_time(changed_at, offset),
                    "items": items,
                },
            ))
            previous = to_name
    return [
        ("jira__statuses", JIRA, statuses),
        ("jira__issues", JIRA, issues),
        ("jira__changelogs", JIRA, histories),
    ]


def github_user(login: str) -> dict:
    return {"login": login, "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "type": "User", "site_admin": False}


def github_batches() -> list[Batch]:
    api = f"https://api.github.com/repos/{REPO}"
    deployments, statuses = [], []
    for number, (name, (environment, created, status_history)) in enumerate(DEPLOYMENTS.items(), start=1):
        deployment_id = 900 + number
        deployments.append(RawRecord(
            record_key=str(deployment_id),
            scope=REPO,
            cursor_value=github_time(created),
            payload={
                "url": f"{api}/deployments/{deployment_id}",
                "id": deployment_id,
                "node_id": f"DE_kwDO{deployment_id}",
                "sha": f"{number:040x}",
                "ref": "main",
                "task": "deploy",
                "payload": {},
                "original_environment": environment,
                "environment": environment,
                "description": f"deploy {name}",
                "creator": github_user("deploy-bot"),
                "created_at": github_time(created),
                "updated_at": github_time(status_history[-1][1]),
                "statuses_url": f"{api}/deployments/{deployment_id}/statuses",
                "repository_url": api,
                "transient_environment": False,
                "production_environment": environment == "production",
            },
        ))
        for index, (state, at) in enumerate(status_history, start=1):
            status_id = deployment_id * 10 + index
            statuses.append(RawRecord(
                record_key=str(status_id),
                parent_key=str(deployment_id),
                scope=REPO,
                cursor_value=github_time(at),
                payload={
                    "url": f"{api}/deployments/{deployment_id}/statuses/{status_id}",
                    "id": status_id,
                    "node_id": f"DES_kwDO{status_id}",
                    "state": state,
                    "creator": github_user("deploy-bot"),
                    "description": "",
                    "environment": environment,
                    "target_url": "",
                    "log_url": "",
                    "environment_url": "",
                    "created_at": github_time(at),
                    "updated_at": github_time(at),
                    "deployment_url": f"{api}/deployments/{deployment_id}",
                    "repository_url": api,
                },
            ))
    # Tags of d1 and d4; `v1.1.0` is listed by two source instances (a GitHub Enterprise mirror, say).
    tags = [
        RawRecord(record_key=f"{REPO}:{name}", scope=REPO, payload={
            "name": name, "commit": {"sha": sha, "url": f"{api}/commits/{sha}"},
            "zipball_url": f"{api}/zipball/refs/tags/{name}", "tarball_url": f"{api}/tarball/refs/tags/{name}",
            "node_id": f"REF_{name}",
        })
        for name, sha in (("v1.0.0", f"{1:040x}"), ("v1.1.0", f"{4:040x}"))
    ]
    return [("github__deployments", GITHUB, deployments), ("github__deployment_statuses", GITHUB, statuses),
            ("github__tags", GITHUB, tags), ("github__tags", "github-mirror", tags[1:])]


def snapshot_marts(warehouse) -> dict[str, list[tuple]]:
    tables = [name for (name,) in query(
        warehouse,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1",
    )]
    return {table: query(warehouse, f"SELECT * FROM marts.{table} ORDER BY ALL") for table in tables}


_BUILT: dict[str, tuple] = {}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """(warehouse, the marts after the first build, the marts after a second): built once per process, as
    test_column_docs.py reads it too (a module-scoped fixture imported elsewhere is set up again there)."""
    if "built" not in _BUILT:
        work = tmp_path_factory.mktemp("dbt")
        path = work / "throughline.duckdb"
        load_raw(path, [*jira_batches(), *github_batches()])
        run_dbt(["build"], path, work)
        first = snapshot_marts(path)
        # A second build over unchanged raw data must change nothing (the orchestrator reruns freely). Without the
        # tests: the first build ran them, and on the same marts (the snapshots must be equal) they would find
        # the same.
        run_dbt(["build", *WITHOUT_UNIT_TESTS, "resource_type:test"], path, work)
        _BUILT["built"] = (path, first, snapshot_marts(path))
    return _BUILT["built"]


def work_item(warehouse, key: str) -> dict:
    path, _, _ = warehouse
    rows = query_dicts(path, "SELECT * FROM marts.work_items WHERE issue_key = ?", [key])
    assert len(rows) == 1, key
    return rows[0]


def test_flow_1_straight_through(warehouse):
    item = work_item(warehouse, "FLOW-1")
    assert item["work_item_id"] == f"{JIRA}:10101"
    assert item["created_at"] == datetime(2026, 1, 5, 9, 0)
    assert item["first_active_at"] == datetime(2026, 1, 6, 9, 0)
    assert item["completed_at"] == datetime(2026, 1, 9, 9, 0)
    assert item["flow_time_hours"] == 72.0
    assert item["lead_time_hours"] == 96.0
    assert (item["is_done"], item["is_canceled"], item["reopen_count"]) == (True, False, 0)


def test_flow_2_blocked_time_stays_inside_flow_time(warehouse):
    item = work_item(warehouse, "FLOW-2")
    assert item["flow_time_hours"] == 120.0  # 01-07 10:00 -> 01-12 10:00, the 48 h Blocked included
    assert item["lead_time_hours"] == 168.0  # 01-05 10:00 -> 01-12 10:00, 7 days
    assert item["reopen_count"] == 0


def test_flow_3_reopened_counts_to_last_completion(warehouse):
    item = work_item(warehouse, "FLOW-3")
    assert item["completed_at"] == datetime(2026, 1, 13, 8, 0)
    assert item["flow_time_hours"] == 144.0  # 01-07 08:00 -> 01-13 08:00, the day it was first Done included
    assert item["lead_time_hours"] == 168.0
    assert item["reopen_count"] == 1


def test_flow_4_in_progress_has_no_completion(warehouse):
    item = work_item(warehouse, "FLOW-4")
    assert item["flow_state"] == "active"
    assert item["first_active_at"] == datetime(2026, 1, 8, 12, 0)
    assert (item["is_done"], item["completed_at"], item["flow_time_hours"], item["lead_time_hours"]) == (
        False, None, None, None,
    )


def test_flow_5_canceled_is_not_done(warehouse):
    item = work_item(warehouse, "FLOW-5")
    assert item["flow_state"] == "canceled"
    assert (item["is_canceled"], item["is_done"], item["completed_at"]) == (True, False, None)
    assert item["canceled_at"] == datetime(2026, 1, 9, 12, 0)
    assert item["flow_time_hours"] is None


def test_median_flow_time_of_done_items(warehouse):
    path, _, _ = warehouse
    assert query(path, "SELECT median(flow_time_hours) FROM marts.work_items WHERE is_done") == [(120.0,)]


def test_flow_2_status_intervals_are_gap_free(warehouse):
    path, _, _ = warehouse
    rows = query(
        path,
        "SELECT status_name, flow_state, started_at, ended_at FROM intermediate.int_work_items_status_intervals "
        "WHERE issue_key = 'FLOW-2' ORDER BY interval_index",
    )
    assert rows == [
        ("To Do", "new", datetime(2026, 1, 5, 10), datetime(2026, 1, 7, 10)),
        ("In Progress", "active", datetime(2026, 1, 7, 10), datetime(2026, 1, 8, 10)),
        ("Blocked", "waiting", datetime(2026, 1, 8, 10), datetime(2026, 1, 10, 10)),
        ("In Progress", "active", datetime(2026, 1, 10, 10), datetime(2026, 1, 12, 10)),
        ("Done", "done", datetime(2026, 1, 12, 10), None),
    ]


def test_deployment_frequency_weekly(warehouse):
    path, _, _ = warehouse
    rows = query(
        path,
        "SELECT week_start, deployments, failed_deployments, deployment_attempts "
        "FROM marts.deployment_frequency_weekly "
        "WHERE source_instance = ? AND service = ? AND environment = 'production' ORDER BY week_start",
        [GITHUB, REPO],
    )
    assert rows == [(date(2026, 1, 5), 2, 1, 3), (date(2026, 1, 12), 1, 0, 1)]
    # staging is not production
    assert query(path, "SELECT DISTINCT environment FROM marts.deployment_frequency_weekly") == [("production",)]


def test_dora_marts_of_the_same_deployments(warehouse):
    """d3 failed (01-07 15:20) and the next production success d4 finished 01-08 15:10: one change failure,
    recovered in 23 h 50 min. Week of 01-05: successes d1 (01-05) and d4 (01-08) on 2 days, 3 attempts;
    week of 01-12: d5. No compare data, pull requests or incidents in this history."""
    path, _, _ = warehouse
    rows = query(path, "SELECT deployment_id, status, is_change_failure, recovery_hours, team, change_count "
                       "FROM marts.deployments ORDER BY created_at")
    assert rows == [
        ("901", "success", False, None, "unassigned", 0),
        ("903", "failure", True, pytest.approx(23 + 50 / 60), "unassigned", 0),
        ("904", "success", False, None, "unassigned", 0),
        ("905", "success", False, None, "unassigned", 0),
    ]
    weeks = query(path, """
        SELECT period_start, deployments, deployment_days_per_week, deployment_attempts, change_failures,
               change_failure_rate, recovery_time_p50_hours
        FROM marts.dora_metrics_weekly WHERE grouping_level = 'overall' ORDER BY period_start""")
    assert weeks == [
        (date(2026, 1, 5), 2, 2.0, 3, 1, pytest.approx(1 / 3), pytest.approx(23 + 50 / 60)),
        (date(2026, 1, 12), 1, 1.0, 1, 0, 0.0, None),
    ]


def test_models_land_in_plain_schemas(warehouse):
    path, _, _ = warehouse
    schemas = {name for (name,) in query(path, "SELECT DISTINCT table_schema FROM information_schema.tables")}
    assert {"raw", "staging", "intermediate", "marts", "seeds"} <= schemas
    assert not any(name.startswith("main_") for name in schemas)


def test_rebuild_changes_nothing(warehouse):
    _, first, second = warehouse
    flow_marts = {"work_items", "work_item_state_intervals", "flow_metrics_weekly", "flow_metrics_monthly",
                  "flow_load_daily", "sprint_predictability", "work_item_dependencies"}
    dora_marts = {"deployment_frequency_weekly", "deployments", "deployment_changes", "pull_request_cycle_times",
                  "incidents", "dora_metrics_weekly", "dora_metrics_monthly", "dora_performance"}
    assert flow_marts | dora_marts <= set(first)
    assert first == second


def test_tags_stage_one_row_per_instance_repo_and_name(warehouse):
    path, _, _ = warehouse
    sql = "SELECT source_instance, repo, tag_name, commit_sha FROM staging.stg_github__tags ORDER BY ALL"
    assert query(path, sql) == [
        (GITHUB, REPO, "v1.0.0", f"{1:040x}"),
        (GITHUB, REPO, "v1.1.0", f"{4:040x}"),
        ("github-mirror", REPO, "v1.1.0", f"{4:040x}"),
    ]


def test_not_null_columns_fails_naming_each_column_with_its_null_rows(warehouse, tmp_path):
    """The model-level not_null_columns test (tests/generic/not_null_columns.sql): NULLs in two listed columns
    fail it with their rows counted (FLOW-2's five intervals lose started_at, FLOW-1's first loses flow_state),
    one row per column in the stored failures."""
    path, _, _ = warehouse
    copy = tmp_path / path.name  # the same file name: the parsed manifest is reused
    shutil.copyfile(path, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE intermediate.int_work_items_status_intervals SET started_at = NULL "
                    "WHERE issue_key = 'FLOW-2'")
        con.execute("UPDATE intermediate.int_work_items_status_intervals SET flow_state = NULL "
                    "WHERE issue_key = 'FLOW-1' AND interval_index = 0")
    result = invoke_dbt(["test", "--select", "int_work_items_status_intervals,test_name:not_null_columns",
                         "--store-failures"], copy, tmp_path)
    [outcome] = [r for r in result.result.results if r.node.resource_type == "test"]
    assert outcome.node.name == "not_null_int_work_items_status_intervals"
    assert (str(outcome.status), outcome.failures) == ("fail", 6)
    failures = query(copy, f"SELECT column_name, null_rows FROM {outcome.node.relation_name} ORDER BY 1")
    assert failures == [("flow_state", 1), ("started_at", 5)]


def test_the_whole_project_compiles_on_a_warehouse_never_loaded(tmp_path):
    """`dbt compile` and `dbt docs generate` (`make docs` on a fresh clone) before any load: the on-run-start hook
    that creates missing raw tables does not run for them, so a model that reads the warehouse while it compiles
    must read no raw table that is missing. The Jira read window of a warehouse without Jira tables is empty."""
    warehouse = tmp_path / "throughline.duckdb"  # the name the module's other builds parsed the project for
    result = invoke_dbt(["compile"], warehouse, tmp_path)
    assert result.success, result.exception
    compiled = next((tmp_path / "target" / "compiled").rglob("int_jira__changed_issues.sql")).read_text()
    assert '"raw"."jira__changelogs" where false' in compiled
