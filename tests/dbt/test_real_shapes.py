"""Contract test: real recorded API objects (../shared/fixtures/devlake) through the raw layer and `dbt build`.

The hand-made payloads of test_marts.py are only as right as our reading of the APIs; these are what Jira
and GitHub really returned (translated status names, `+0800` offsets, embedded changelogs, a repeated PR,
upper-case and empty run statuses). Expectations are computed here from the JSON itself, so a staging
model that reads a wrong path shows up as a mismatch.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from connectors.core.raw import RawRecord

from .warehouse import WITHOUT_UNIT_TESTS, query

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "devlake"
JIRA = "merico"
GITHUB = "github"

pytestmark = pytest.mark.skipif(
    not (FIXTURES / "jira").is_dir(),
    reason=f"recorded API fixtures not found at {FIXTURES} (they live in ../shared beside the project)",
)


def read_objects(relative: str) -> list[dict]:
    csv.field_size_limit(1 << 30)
    with open(FIXTURES / relative, newline="", encoding="utf-8") as handle:
        return [json.loads(row["data"]) for row in csv.DictReader(handle)]


def utc(text: str) -> datetime:
    """Jira's `2020-06-12T08:13:13.360+0800` as the naive UTC datetime the models store."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(timezone.utc).replace(tzinfo=None)


def github_utc(text: str | None) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ") if text else None


def repo_of(url: str) -> str:
    return re.search(r"/repos/([^/]+/[^/]+)/", url).group(1)


@pytest.fixture(scope="module")
def recorded():
    issues = read_objects("jira/_raw_jira_api_issues.csv")
    return {
        "issues": issues,
        "statuses": read_objects("jira/_raw_jira_api_status.csv"),
        # the board issues were read with expand=changelog; the connector stores those histories apart
        "histories": [(issue["id"], history) for issue in issues for history in issue["changelog"]["histories"]],
        # one PR is recorded twice; the raw store keeps one row per record key
        "pull_requests": read_objects("github/_raw_github_api_pull_requests.csv"),
        "runs": read_objects("github/_raw_github_api_runs.csv"),
    }


@pytest.fixture(scope="module")
def warehouse(build_warehouse, recorded):
    return build_warehouse([
        ("jira__issues", JIRA, [
            RawRecord(
                record_key=issue["id"],
                scope=issue["fields"]["project"]["key"],
                cursor_value=issue["fields"]["updated"],
                payload={key: value for key, value in issue.items() if key != "changelog"},
            )
            for issue in recorded["issues"]
        ]),
        ("jira__changelogs", JIRA, [
            RawRecord(record_key=history["id"], parent_key=issue_id, cursor_value=history["created"], payload=history)
            for issue_id, history in recorded["histories"]
        ]),
        ("jira__statuses", JIRA, [
            RawRecord(record_key=status["id"], payload=status) for status in recorded["statuses"]
        ]),
        ("github__pull_requests", GITHUB, [
            RawRecord(record_key=str(pr["id"]), scope=repo_of(pr["url"]), cursor_value=pr["updated_at"], payload=pr)
            for pr in recorded["pull_requests"]
        ]),
        ("github__workflow_runs", GITHUB, [
            RawRecord(record_key=str(run["id"]), scope=repo_of(run["url"]), cursor_value=run["updated_at"], payload=run)
            for run in recorded["runs"]
        ]),
    ], *WITHOUT_UNIT_TESTS)  # every data test on these real rows; the unit tests need none (warehouse.py)


def test_issues_read_every_field_the_metrics_use(warehouse, recorded):
    rows = query(warehouse, """
        SELECT issue_id, issue_key, project_key, issue_type, status_id, status_name, status_category_key,
               labels, parent_key, created_at, updated_at, resolved_at
        FROM staging.stg_jira__issues ORDER BY issue_id
    """)
    expected = sorted(
        (
            issue["id"], issue["key"], fields["project"]["key"], fields["issuetype"]["name"], fields["status"]["id"],
            fields["status"]["name"], fields["status"]["statusCategory"]["key"], fields["labels"],
            (fields.get("parent") or {}).get("key"), utc(fields["created"]), utc(fields["updated"]),
            utc(fields["resolutiondate"]) if fields["resolutiondate"] else None,
        )
        for issue in recorded["issues"]
        for fields in [issue["fields"]]
    )
    assert rows == expected
    # `2020-06-12T08:13:13.360+0800` is 00:13 UTC, not 08:13
    assert ("EE-1", datetime(2020, 6, 12, 0, 13, 13, 360000)) in query(
        warehouse, "SELECT issue_key, created_at FROM staging.stg_jira__issues"
    )


def test_changelog_items_unnest_every_item(warehouse, recorded):
    expected = [
        (history["id"], index, issue_id, item["field"], item["fieldtype"], item.get("from"), item.get("toString"),
         utc(history["created"]))
        for issue_id, history in recorded["histories"]
        for index, item in enumerate(history["items"], start=1)
    ]
    rows = query(warehouse, """
        SELECT history_id, item_index, issue_id, field, field_type, from_value, to_string, changed_at
        FROM staging.stg_jira__changelog_items
    """)
    assert sorted(rows, key=repr) == sorted(expected, key=repr)


def test_statuses_keep_translated_names_and_categories(warehouse, recorded):
    rows = query(warehouse, "SELECT status_id, status_name, status_category_key FROM staging.stg_jira__statuses")
    assert sorted(rows) == sorted((s["id"], s["name"], s["statusCategory"]["key"]) for s in recorded["statuses"])


def test_statuses_resolve_to_flow_states(warehouse):
    mapping = dict(query(
        warehouse,
        "SELECT status_id, flow_state FROM intermediate.int_jira__status_mapping WHERE project_key = 'EE'",
    ))
    assert mapping["10068"] == "done"  # 已完成 ("done"): decided by its category, whatever the language
    assert mapping["10074"] == "active"  # 开发中 ("in development")
    # Deleted statuses, known only from the changelog and without a category:
    assert mapping["10000"] == "new"  # "To Do", like the live "To Do" (10033)
    assert mapping["5"] == "done"  # "Resolved"
    assert mapping["10029"] == "waiting"  # "Ready for Dev"


def test_first_active_is_the_first_move_to_in_progress(warehouse, recorded):
    # Status 3 was called "In Development" when EE-1 entered it and "In Progress" now: match on the id.
    issue_id = next(issue["id"] for issue in recorded["issues"] if issue["key"] == "EE-1")
    first_in_progress = min(
        utc(history["created"])
        for owner, history in recorded["histories"] if owner == issue_id
        for item in history["items"] if item["field"] == "status" and item["to"] == "3"
    )
    assert query(warehouse, "SELECT first_active_at FROM marts.work_items WHERE issue_key = 'EE-1'") == [
        (first_in_progress,)
    ]
    assert query(
        warehouse,
        "SELECT status_name FROM intermediate.int_work_items_status_intervals "
        "WHERE issue_key = 'EE-1' AND status_id = '3'",
    ) == [("In Progress",)]


def test_work_items_and_intervals_cover_every_issue(warehouse, recorded):
    assert query(warehouse, "SELECT count(*) FROM marts.work_items") == [(len(recorded["issues"]),)]
    status_changes = sum(
        1 for _, history in recorded["histories"] for item in history["items"] if item["field"] == "status"
    )
    assert query(warehouse, "SELECT count(*) FROM intermediate.int_work_items_status_intervals") == [
        (len(recorded["issues"]) + status_changes,)
    ]


def test_pull_requests(warehouse, recorded):
    prs = {pr["id"]: pr for pr in recorded["pull_requests"]}.values()
    rows = query(warehouse, """
        SELECT pull_request_id, repo, pull_request_number, state, author, created_at, merged_at, head_sha,
               base_ref, is_draft
        FROM staging.stg_github__pull_requests ORDER BY pull_request_id
    """)
    assert rows == sorted(
        (
            str(pr["id"]), "panjf2000/ants", pr["number"], pr["state"], pr["user"]["login"],
            github_utc(pr["created_at"]), github_utc(pr["merged_at"]), pr["head"]["sha"], pr["base"]["ref"],
            bool(pr.get("draft")),
        )
        for pr in prs
    )


def test_workflow_runs_normalise_case(warehouse, recorded):
    rows = query(warehouse, """
        SELECT run_id, workflow_name, status, conclusion, head_sha, run_attempt, created_at
        FROM staging.stg_github__workflow_runs
    """)
    # recorded runs include made-up upper-case statuses (`STALE`) and empty conclusions of unfinished runs
    assert sorted(rows) == sorted(
        (
            str(run["id"]), run["name"], run["status"].lower(), (run["conclusion"] or "").lower() or None,
            run["head_sha"], run["run_attempt"], github_utc(run["created_at"]),
        )
        for run in recorded["runs"]
    )
