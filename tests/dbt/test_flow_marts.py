"""Golden test of the flow marts: a small hand-made Jira history with every edge case, worked out by hand.

Everything below is UTC unless a Jira offset is named; the warehouse is "as of" AS_OF (every raw row's
extracted_at is set to it). Weeks start Monday: 01-05, 01-12, 01-19 (2026).

Teams (seeds written into a copy of the dbt project): project SHOP -> Checkout, project OPS -> Platform,
component Payments -> Payments, label growth -> Growth with value stream Acquisition; Checkout and Payments
are in value stream Online Shop, Platform in Foundations. Project MISC has no rule -> unassigned.

key      type   team      history (status changes; "flag+"/"flag-" = impediment flag raised/cleared)
SHOP-1   Story  Checkout  created 01-05 09:00 (written +01:00); In Progress 01-06 09:00; flag+ 01-07 09:00,
                          flag- 01-07 21:00; "Code Review" 01-08 09:00 (status 10002, renamed "In Review"
                          since); Done 01-09 09:00.
                          flow 72 h, active 72 - 12 flagged = 60 h, waiting 12, blocked 12, lead 96.
SHOP-2   Bug    Checkout  created 01-05 10:00 (written -05:00); In Progress 01-07 10:00; Blocked 01-08 10:00;
                          In Progress 01-10 10:00; Done 01-12 10:00.
                          flow 120 h, active 24 + 48 = 72, waiting = blocked = 48, efficiency 0.6.
SHOP-3   Story  Checkout  label security -> risk. Reopened: created 01-06 08:00; In Progress 01-07 08:00;
                          Done 01-08 08:00; In Progress 01-09 08:00; Done 01-13 08:00.
                          flow 144 h, active 24 + 96 = 120, waiting 24 (the day it was done), reopen 1.
SHOP-4   Task   Checkout  feature (Task has no rule). created 01-07 12:00; In Progress 01-08 12:00; still
                          in progress at the as-of time.
SHOP-5   Story  Checkout  canceled: created 01-07 12:00; Won't Do 01-09 12:00.
SHOP-6   Story  Checkout  straight to done: created 01-12 09:00; Done 01-14 09:00: no flow time, lead 48.
SHOP-7   Story  Checkout  no changelog: created 01-14 06:00 directly in In Progress.
SHOP-8   Story  Payments  moved from OPS (was OPS-1), component Payments: created 01-05 08:00; In Progress
                          01-06 08:00; moved 01-07 08:00 (Key/project items only); Done 01-08 08:00. flow 48.
SHOP-9   Story  Checkout  created 01-05 09:00; In Progress 01-05 12:00; Done 01-06 12:00: flow 24 h.
OPS-2    Bug    Platform  created 01-05 00:00; In Progress 01-05 12:00; Ready for QA (waiting) 01-06 00:00;
                          Done 01-11 23:30 UTC, written +09:00 as 01-12 08:30: completes in week 01-05.
                          flow 155.5 h, active 12.
MISC-1   Story  Growth    label growth: created 01-05 00:00; In Progress 01-19 00:00; Done 01-20 00:00.
MISC-2   Task   unassigned created 01-06 00:00, no changelog, To Do.

Links: OPS-2 blocks SHOP-2; SHOP-4 blocks SHOP-7; EXT-9 (not loaded) blocks SHOP-1; SHOP-1 relates to SHOP-9.
Sprints on board 1 (SHOP): 100 started 01-05 08:00, completed 01-12 08:00; 101 started 01-12 09:00, planned
end 01-26 00:00, open. Sprint items: SHOP-1, SHOP-2, SHOP-4 added to 100 at 01-05 07:00, SHOP-5 at 07:30 and
removed 01-09 12:00; SHOP-3 added 01-06 09:00, SHOP-9 01-05 09:30 (after the start); SHOP-2 and SHOP-4 carried
into 101 at 01-12 08:00 ("100" -> "100, 101"). Stories carry 3 story points, other types none.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from connectors.core.raw import RawRecord
from connectors.config import DBT_PROJECT_DIR

from .warehouse import WITHOUT_UNIT_TESTS, common_options, load_raw, query, query_dicts, warehouse_env

JIRA = "acme-jira"
SITE = "https://acme.atlassian.net"
AS_OF = datetime(2026, 1, 21, 12, 0)

# id -> (current name, category key)
STATUSES = {
    "1": ("To Do", "new"),
    "3": ("In Progress", "indeterminate"),
    "10001": ("Blocked", "indeterminate"),
    "10002": ("In Review", "indeterminate"),
    "10003": ("Done", "done"),
    "10004": ("Won't Do", "done"),
    "10010": ("Ready for QA", "indeterminate"),
}
# names as the changelog wrote them at the time (10002 was renamed since)
STATUS_ID = {name: sid for sid, (name, _) in STATUSES.items()} | {"Code Review": "10002"}

# key -> (id, type, project, created, offset hours, labels, components, current status, changes)
# a change is (at, status name) | (at, "flag+"/"flag-") | (at, "moved", old key)
ISSUES = {
    "SHOP-1": ("101", "Story", "SHOP", "2026-01-05T09:00", 1, [], [], "Done", [
        ("2026-01-06T09:00", "In Progress"), ("2026-01-07T09:00", "flag+"), ("2026-01-07T21:00", "flag-"),
        ("2026-01-08T09:00", "Code Review"), ("2026-01-09T09:00", "Done")]),
    "SHOP-2": ("102", "Bug", "SHOP", "2026-01-05T10:00", -5, [], [], "Done", [
        ("2026-01-07T10:00", "In Progress"), ("2026-01-08T10:00", "Blocked"),
        ("2026-01-10T10:00", "In Progress"), ("2026-01-12T10:00", "Done")]),
    "SHOP-3": ("103", "Story", "SHOP", "2026-01-06T08:00", 0, ["security"], [], "Done", [
        ("2026-01-07T08:00", "In Progress"), ("2026-01-08T08:00", "Done"),
        ("2026-01-09T08:00", "In Progress"), ("2026-01-13T08:00", "Done")]),
    "SHOP-4": ("104", "Task", "SHOP", "2026-01-07T12:00", 0, [], [], "In Progress", [
        ("2026-01-08T12:00", "In Progress")]),
    "SHOP-5": ("105", "Story", "SHOP", "2026-01-07T12:00", 0, [], [], "Won't Do", [
        ("2026-01-09T12:00", "Won't Do")]),
    "SHOP-6": ("106", "Story", "SHOP", "2026-01-12T09:00", 0, [], [], "Done", [("2026-01-14T09:00", "Done")]),
    "SHOP-7": ("107", "Story", "SHOP", "2026-01-14T06:00", 0, [], [], "In Progress", []),
    "SHOP-8": ("108", "Story", "SHOP", "2026-01-05T08:00", 0, [], ["Payments"], "Done", [
        ("2026-01-06T08:00", "In Progress"), ("2026-01-07T08:00", "moved", "OPS-1"),
        ("2026-01-08T08:00", "Done")]),
    "SHOP-9": ("109", "Story", "SHOP", "2026-01-05T09:00", 0, [], [], "Done", [
        ("2026-01-05T12:00", "In Progress"), ("2026-01-06T12:00", "Done")]),
    "OPS-2": ("202", "Bug", "OPS", "2026-01-05T00:00", 9, [], [], "Done", [
        ("2026-01-05T12:00", "In Progress"), ("2026-01-06T00:00", "Ready for QA"),
        ("2026-01-11T23:30", "Done")]),
    "MISC-1": ("301", "Story", "MISC", "2026-01-05T00:00", 0, ["growth"], [], "Done", [
        ("2026-01-19T00:00", "In Progress"), ("2026-01-20T00:00", "Done")]),
    "MISC-2": ("302", "Task", "MISC", "2026-01-06T00:00", 0, [], [], "To Do", []),
}
ISSUE_ID = {key: spec[0] for key, spec in ISSUES.items()} | {"EXT-9": "999"}

# (link id, type, outward "blocks"/"relates to" side, inward side)
LINKS = [
    ("9001", "Blocks", "OPS-2", "SHOP-2"),
    ("9002", "Blocks", "SHOP-4", "SHOP-7"),
    ("9003", "Blocks", "EXT-9", "SHOP-1"),
    ("9004", "Relates", "SHOP-1", "SHOP-9"),
]
LINK_WORDS = {"Blocks": ("blocks", "is blocked by"), "Relates": ("relates to", "relates to")}

# (issue key, at, sprint ids before, sprint ids after)
SPRINT_CHANGES = [
    ("SHOP-1", "2026-01-05T07:00", "", "100"),
    ("SHOP-2", "2026-01-05T07:00", "", "100"),
    ("SHOP-4", "2026-01-05T07:00", "", "100"),
    ("SHOP-5", "2026-01-05T07:30", "", "100"),
    ("SHOP-9", "2026-01-05T09:30", "", "100"),
    ("SHOP-3", "2026-01-06T09:00", "", "100"),
    ("SHOP-5", "2026-01-09T12:00", "100", ""),
    ("SHOP-2", "2026-01-12T08:00", "100", "100, 101"),
    ("SHOP-4", "2026-01-12T08:00", "100", "100, 101"),
]

SEEDS = {
    "work_item_team_mapping.csv": (
        "source_instance,match_on,match_value,team,value_stream\n"
        "*,project,SHOP,Checkout,\n"
        "*,project,ops,Platform,\n"  # matched case-insensitively
        f"{JIRA},component,payments,Payments,\n"
        "*,label,Growth,Growth,Acquisition\n"
    ),
    "team_value_streams.csv": "team,value_stream\nCheckout,Online Shop\nPayments,Online Shop\nPlatform,Foundations\n",
}


def jira_time(text: str, offset_hours: int = 0) -> str:
    """Jira's format in a user's zone: local wall-clock time and its offset."""
    local = datetime.fromisoformat(text) + timedelta(hours=offset_hours)
    sign = "+" if offset_hours >= 0 else "-"
    return f"{local:%Y-%m-%dT%H:%M:%S}.000{sign}{abs(offset_hours):02d}00"


def status_object(name: str) -> dict:
    status_id = STATUS_ID[name]
    current, category = STATUSES[status_id]
    return {"id": status_id, "name": current, "untranslatedName": current,
            "statusCategory": {"key": category, "name": category}}


def issue_record(key: str) -> RawRecord:
    issue_id, issue_type, project, created, offset, labels, components, current, changes = ISSUES[key]
    links = []
    for link_id, link_type, outward, inward in LINKS:
        outward_word, inward_word = LINK_WORDS[link_type]
        link_type_obj = {"id": link_type, "name": link_type, "outward": outward_word, "inward": inward_word}
        if key == outward:  # this issue is the link's source: the other end is its outwardIssue
            links.append({"id": link_id, "type": link_type_obj,
                          "outwardIssue": {"id": ISSUE_ID[inward], "key": inward}})
        elif key == inward:
            links.append({"id": link_id, "type": link_type_obj,
                          "inwardIssue": {"id": ISSUE_ID[outward], "key": outward}})
    updated = changes[-1][0] if changes else created
    return RawRecord(record_key=issue_id, scope=project, cursor_value=jira_time(updated, offset), payload={
        "id": issue_id,
        "key": key,
        "fields": {
            "summary": f"{key} summary",
            "issuetype": {"name": issue_type, "hierarchyLevel": 0},
            "project": {"id": project, "key": project},
            "status": status_object(current),
            "labels": labels,
            "components": [{"name": name} for name in components],
            "issuelinks": links,
            "customfield_10016": 3.0 if issue_type == "Story" else None,
            "created": jira_time(created, offset),
            "updated": jira_time(updated, offset),
        },
        "_throughline": {"storyPointsFields": ["customfield_10016"], "epicLinkField": None},
    })


def histories() -> list[RawRecord]:
    out = []
    for key, (issue_id, _, _, _, offset, _, _, _, changes) in ISSUES.items():
        previous = "To Do"
        for number, (at, what, *rest) in enumerate(changes, start=1):
            if what in ("flag+", "flag-"):
                raised = what == "flag+"
                items = [{"field": "Flagged", "fieldtype": "custom", "fieldId": "customfield_10021",
                          "from": None if raised else "[10019]", "fromString": None if raised else "Impediment",
                          "to": "[10019]" if raised else None, "toString": "Impediment" if raised else ""}]
            elif what == "moved":
                items = [{"field": "Key", "fieldtype": "jira", "from": None, "fromString": rest[0],
                          "to": None, "toString": key},
                         {"field": "project", "fieldtype": "jira", "fieldId": "project", "from": "OPS",
                          "fromString": "Ops", "to": "SHOP", "toString": "Shop"}]
            else:
                items = [{"field": "status", "fieldtype": "jira", "fieldId": "status",
                          "from": STATUS_ID[previous], "fromString": previous,
                          "to": STATUS_ID[what], "toString": what}]
                previous = what
            history_id = f"{issue_id}{number:02d}"
            out.append(RawRecord(record_key=history_id, parent_key=issue_id, cursor_value=jira_time(at, offset),
                                 payload={"id": history_id, "created": jira_time(at, offset), "items": items}))
    for number, (key, at, before, after) in enumerate(SPRINT_CHANGES, start=1):
        history_id = f"8{number:03d}"
        out.append(RawRecord(record_key=history_id, parent_key=ISSUE_ID[key], cursor_value=jira_time(at),
                             payload={"id": history_id, "created": jira_time(at), "items": [{
                                 "field": "Sprint", "fieldtype": "custom", "fieldId": "customfield_10020",
                                 "from": before, "fromString": "", "to": after, "toString": ""}]}))
    return out


def batches():
    sprints = [
        RawRecord(record_key="100", parent_key="1", payload={
            "id": 100, "name": "SHOP Sprint 1", "state": "closed", "originBoardId": 1,
            "startDate": "2026-01-05T08:00:00.000Z", "endDate": "2026-01-12T08:00:00.000Z",
            "completeDate": "2026-01-12T08:00:00.000Z"}),
        RawRecord(record_key="101", parent_key="1", payload={
            "id": 101, "name": "SHOP Sprint 2", "state": "active", "originBoardId": 1,
            "startDate": "2026-01-12T09:00:00.000Z", "endDate": "2026-01-26T00:00:00.000Z"}),
    ]
    return [
        ("jira__statuses", JIRA, [RawRecord(record_key=sid, payload=status_object(name))
                                  for sid, (name, _) in STATUSES.items()]),
        ("jira__issues", JIRA, [issue_record(key) for key in ISSUES]),
        ("jira__changelogs", JIRA, histories()),
        ("jira__boards", JIRA, [RawRecord(record_key="1", scope="SHOP", payload={
            "id": 1, "name": "SHOP board", "type": "scrum", "location": {"projectKey": "SHOP"}})]),
        ("jira__sprints", JIRA, sprints),
    ]


# the nodes whose failure fails a flow test; other teams' models are not its business
FLOW_NODES = ("jira", "flow", "work_item", "sprint", "team")


def copy_project(target: Path, seeds: dict[str, str] = SEEDS) -> Path:
    """The dbt project with a test's team seeds: the shipped seeds map no team (all `unassigned`)."""
    project = target / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    for name, text in seeds.items():
        (project / "seeds" / name).write_text(text)
    return project


def load_as_of(path: Path, raw_batches, as_of: datetime) -> None:
    """Load the raw Jira rows as read at `as_of`: the flow marts' as-of time."""
    load_raw(path, raw_batches)
    with duckdb.connect(str(path)) as con:
        for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' AND table_name LIKE 'jira%'"
        ).fetchall():
            con.execute(f"UPDATE raw.{table} SET extracted_at = ?", [as_of])


def dbt_build(project: Path, warehouse: Path, work: Path, select: tuple[str, ...] = (),
              ours: tuple[str, ...] = FLOW_NODES) -> None:
    from dbt.cli.main import dbtRunner

    with warehouse_env(warehouse):
        result = dbtRunner().invoke(["build", *(("--select", *select) if select else ()), *WITHOUT_UNIT_TESTS,
                                     *common_options(work, project)])
    failures = [
        f"{r.node.unique_id}: {r.status}: {r.message}"
        for r in (getattr(result.result, "results", None) or [])
        if str(r.status) not in ("success", "pass", "no-op") and any(part in r.node.unique_id for part in ours)
    ]
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("flow")
    path = work / "throughline.duckdb"
    load_as_of(path, batches(), AS_OF)
    # Only the marts the tests query, and their parents: every data test runs in the full builds (test_marts.py,
    # the demo builds of tests/e2e); these rows check the flow arithmetic, not the other marts.
    select = ("+work_items", "+work_item_state_intervals", "+flow_load_daily", "+flow_metrics_weekly",
              "+flow_metrics_monthly", "+sprint_predictability", "+delivery_forecasts", "+work_item_dependencies")
    dbt_build(copy_project(work), path, work, select=select)
    return path


def item(warehouse, key: str) -> dict:
    rows = query_dicts(warehouse, "SELECT * FROM marts.work_items WHERE issue_key = ?", [key])
    assert len(rows) == 1, key
    return rows[0]


def times(row: dict) -> tuple:
    return (row["flow_time_hours"], row["active_time_hours"], row["waiting_time_hours"], row["blocked_time_hours"])


# work_items ------------------------------------------------------------------------------------------

def test_every_item_is_a_work_item_with_team_value_stream_and_type(warehouse):
    rows = query(warehouse, "SELECT issue_key, flow_item_type, team, value_stream FROM marts.work_items ORDER BY 1")
    assert rows == [
        ("MISC-1", "feature", "Growth", "Acquisition"),  # label rule with its own value stream
        ("MISC-2", "feature", "unassigned", "unassigned"),  # no rule: kept, not dropped
        ("OPS-2", "defect", "Platform", "Foundations"),
        ("SHOP-1", "feature", "Checkout", "Online Shop"),
        ("SHOP-2", "defect", "Checkout", "Online Shop"),
        ("SHOP-3", "risk", "Checkout", "Online Shop"),  # label security beats issue type Story
        ("SHOP-4", "feature", "Checkout", "Online Shop"),  # Task: no rule, feature
        ("SHOP-5", "feature", "Checkout", "Online Shop"),
        ("SHOP-6", "feature", "Checkout", "Online Shop"),
        ("SHOP-7", "feature", "Checkout", "Online Shop"),
        ("SHOP-8", "feature", "Payments", "Online Shop"),  # component beats project
        ("SHOP-9", "feature", "Checkout", "Online Shop"),
    ]


def test_flagged_time_is_blocked_and_not_active_and_offsets_are_utc(warehouse):
    row = item(warehouse, "SHOP-1")
    assert (row["created_at"], row["first_active_at"], row["completed_at"]) == (
        datetime(2026, 1, 5, 9), datetime(2026, 1, 6, 9), datetime(2026, 1, 9, 9))
    assert times(row) == (72.0, 60.0, 12.0, 12.0)
    assert row["flow_efficiency"] == pytest.approx(60 / 72)
    assert (row["lead_time_hours"], row["story_points"]) == (96.0, 3.0)


def test_blocked_status_is_waiting_and_blocked(warehouse):
    row = item(warehouse, "SHOP-2")
    assert times(row) == (120.0, 72.0, 48.0, 48.0)
    assert row["flow_efficiency"] == pytest.approx(0.6)
    assert row["completed_at"] == datetime(2026, 1, 12, 10)  # written 05:00-05:00


def test_reopened_item_counts_to_its_last_completion(warehouse):
    row = item(warehouse, "SHOP-3")
    assert (row["completed_at"], row["reopen_count"]) == (datetime(2026, 1, 13, 8), 1)
    assert times(row) == (144.0, 120.0, 24.0, 0.0)


def test_in_progress_canceled_straight_to_done_and_no_changelog(warehouse):
    in_progress = item(warehouse, "SHOP-4")
    assert (in_progress["flow_state"], in_progress["completed_at"], in_progress["flow_time_hours"],
            in_progress["flow_efficiency"]) == ("active", None, None, None)
    canceled = item(warehouse, "SHOP-5")
    assert (canceled["is_canceled"], canceled["is_done"], canceled["canceled_at"], canceled["flow_time_hours"]) == (
        True, False, datetime(2026, 1, 9, 12), None)
    straight = item(warehouse, "SHOP-6")
    assert (straight["is_done"], straight["first_active_at"], straight["flow_time_hours"],
            straight["lead_time_hours"], straight["completed_at"]) == (
        True, None, None, 48.0, datetime(2026, 1, 14, 9))
    no_changelog = item(warehouse, "SHOP-7")
    assert (no_changelog["flow_state"], no_changelog["first_active_at"]) == ("active", datetime(2026, 1, 14, 6))


def test_moved_item_keeps_its_history_under_its_new_key(warehouse):
    row = item(warehouse, "SHOP-8")
    assert (row["project_key"], row["team"], row["flow_time_hours"], row["flow_efficiency"]) == (
        "SHOP", "Payments", 48.0, 1.0)


def test_completion_at_23_30_utc_written_in_tokyo_time_is_in_the_earlier_week(warehouse):
    row = item(warehouse, "OPS-2")
    assert row["completed_at"] == datetime(2026, 1, 11, 23, 30)
    assert times(row) == (155.5, 12.0, 143.5, 0.0)  # 01-05 12:00 -> 01-11 23:30; 12 h active


# work_item_state_intervals ---------------------------------------------------------------------------

def test_state_intervals_split_at_flags_and_use_current_status_names(warehouse):
    rows = query(warehouse, """
        SELECT state_interval_index, status_name, flow_state, is_flagged, is_blocked, started_at, duration_hours
        FROM marts.work_item_state_intervals WHERE issue_key = 'SHOP-1' ORDER BY state_interval_index
    """)
    assert rows == [
        (0, "To Do", "new", False, False, datetime(2026, 1, 5, 9), 24.0),
        (1, "In Progress", "active", False, False, datetime(2026, 1, 6, 9), 24.0),
        (2, "In Progress", "active", True, True, datetime(2026, 1, 7, 9), 12.0),
        (3, "In Progress", "active", False, False, datetime(2026, 1, 7, 21), 12.0),
        (4, "In Review", "active", False, False, datetime(2026, 1, 8, 9), 24.0),  # "Code Review" then
        (5, "Done", "done", False, False, datetime(2026, 1, 9, 9), None),
    ]


def test_state_intervals_are_gap_free(warehouse):
    broken = query(warehouse, """
        SELECT work_item_id FROM (
            SELECT work_item_id, ended_at, is_current,
                   lead(started_at) OVER (PARTITION BY work_item_id ORDER BY state_interval_index) AS next_start
            FROM marts.work_item_state_intervals)
        WHERE ended_at IS DISTINCT FROM next_start OR is_current <> (next_start IS NULL)
    """)
    assert broken == []
    assert query(warehouse, "SELECT count(DISTINCT work_item_id) FROM marts.work_item_state_intervals") == [(12,)]


# flow_load_daily -------------------------------------------------------------------------------------

def load(warehouse, team: str, flow_item_type: str) -> list[tuple]:
    return query(warehouse, """
        SELECT day, wip_items, active_items, waiting_items, oldest_item_age_hours FROM marts.flow_load_daily
        WHERE team = ? AND flow_item_type = ? ORDER BY day
    """, [team, flow_item_type])


def test_daily_load_of_checkout_features(warehouse):
    """Snapshots at each day's end. SHOP-9 is in progress at 01-06 00:00 only; SHOP-1 at the ends of 01-06,
    01-07, 01-08; SHOP-4 from the end of 01-08 on; SHOP-7 from the end of 01-14 on. The last day is counted at
    the as-of time, 01-21 12:00, when SHOP-4 (in progress since 01-08 12:00) is 13 days = 312 h old."""
    rows = load(warehouse, "Checkout", "feature")
    wip = {day.day: n for day, n, _, _, _ in rows}
    assert rows[0][0] == date(2026, 1, 5) and rows[-1][0] == date(2026, 1, 21)
    assert wip == {5: 1, 6: 1, 7: 1, 8: 2, 9: 1, 10: 1, 11: 1, 12: 1, 13: 1,
                   14: 2, 15: 2, 16: 2, 17: 2, 18: 2, 19: 2, 20: 2, 21: 2}
    assert rows[-1][4] == 312.0
    assert rows[-2][4] == 300.0  # end of 01-20


def test_daily_load_of_a_blocked_defect_and_a_reopened_risk(warehouse):
    """SHOP-2: active at the end of 01-07, Blocked (waiting) at the ends of 01-08 and 01-09, active at the ends
    of 01-10 and 01-11, done at the end of 01-12. SHOP-3: in progress at the ends of 01-07, 01-09..01-12, done
    at the end of 01-08 (reopened the next morning); at the end of 01-12 it is 01-13 00:00 - 01-07 08:00 =
    136 h old."""
    defect = {day.day: (n, active, waiting) for day, n, active, waiting, _ in load(warehouse, "Checkout", "defect")}
    assert [defect[d] for d in range(5, 14)] == [
        (0, 0, 0), (0, 0, 0), (1, 1, 0), (1, 0, 1), (1, 0, 1), (1, 1, 0), (1, 1, 0), (0, 0, 0), (0, 0, 0)]
    risk = load(warehouse, "Checkout", "risk")
    assert risk[0][0] == date(2026, 1, 6)  # its axis starts when its first item was created
    assert [n for _, n, _, _, _ in risk[:8]] == [0, 1, 0, 1, 1, 1, 1, 0]
    assert risk[6][4] == 136.0 and risk[7][4] is None


# flow_metrics_weekly / monthly -----------------------------------------------------------------------

def weekly(warehouse, team: str) -> dict:
    """The team's type rows (grouping_level team_type) by (day of week_start, flow item type)."""
    rows = query_dicts(warehouse, """
        SELECT * FROM marts.flow_metrics_weekly WHERE grouping_level = 'team_type' AND team = ? ORDER BY ALL
    """, [team])
    return {(row["week_start"].day, row["flow_item_type"]): row for row in rows}


def rollup(warehouse, mart: str, level: str, team: str, value_stream: str) -> dict:
    """The rows of one rolled-up group (flow_item_type `all`) by period start."""
    period = "week_start" if mart == "flow_metrics_weekly" else "month_start"
    rows = query_dicts(warehouse, f"""
        SELECT * FROM marts.{mart}
        WHERE grouping_level = ? AND team = ? AND value_stream = ? AND flow_item_type = 'all'
    """, [level, team, value_stream])
    return {row[period]: row for row in rows}


def test_weekly_velocity_flow_time_and_efficiency(warehouse):
    """Checkout, week of 01-05: features SHOP-9 (24 h) and SHOP-1 (72 h) completed: p50 48, p85 24 + 0.85 * 48
    = 64.8, p95 24 + 0.95 * 48 = 69.6, efficiency (24 + 60) / (24 + 72) = 0.875; SHOP-5 canceled apart.
    Week of 01-12: SHOP-6 (feature, no flow time), SHOP-2 (defect, 120 h, 72 active), SHOP-3 (risk, 144 h,
    120 active). Week of 01-19: nothing completed, still a row per type."""
    rows = weekly(warehouse, "Checkout")
    assert set(rows) == {(d, t) for d in (5, 12, 19) for t in ("feature", "defect", "risk")}
    feature = rows[(5, "feature")]
    assert (feature["flow_velocity"], feature["canceled_items"], feature["completed_story_points"]) == (2, 1, 6.0)
    assert feature["flow_time_p50_hours"] == pytest.approx(48.0)
    assert feature["flow_time_p85_hours"] == pytest.approx(64.8)
    assert feature["flow_time_p95_hours"] == pytest.approx(69.6)
    assert feature["flow_efficiency"] == pytest.approx(0.875)
    straight = rows[(12, "feature")]
    assert (straight["flow_velocity"], straight["flow_time_p50_hours"], straight["flow_efficiency"]) == (1, None, None)
    assert straight["lead_time_p50_hours"] == 48.0
    assert rows[(12, "defect")]["flow_efficiency"] == pytest.approx(0.6)
    assert rows[(12, "risk")]["flow_time_p50_hours"] == 144.0
    assert [rows[(19, t)]["flow_velocity"] for t in ("feature", "defect", "risk")] == [0, 0, 0]
    assert rows[(19, "feature")]["flow_time_p50_hours"] is None


def test_weekly_load_and_distribution(warehouse):
    """Week of 01-05 daily loads: feature 1,1,1,2,1,1,1 (avg 8/7, end 1), defect 0,0,1,1,1,1,1 (5/7, end 1),
    risk from 01-06: 0,1,0,1,1,1 (4/6, end 1). Load shares: 8/7 : 5/7 : 2/3 = 24 : 15 : 14 of 53.
    Completed shares: 2 features of 2. Week of 01-12: one item of each type, 1/3 each."""
    rows = weekly(warehouse, "Checkout")
    assert (rows[(5, "feature")]["flow_load_avg"], rows[(5, "feature")]["flow_load_end"]) == (
        pytest.approx(8 / 7), 1)
    assert (rows[(5, "defect")]["flow_load_avg"], rows[(5, "defect")]["flow_load_end"]) == (pytest.approx(5 / 7), 1)
    assert (rows[(5, "risk")]["flow_load_avg"], rows[(5, "risk")]["flow_load_end"]) == (pytest.approx(4 / 6), 1)
    assert [rows[(5, t)]["flow_distribution_load"] for t in ("feature", "defect", "risk")] == pytest.approx(
        [24 / 53, 15 / 53, 14 / 53])
    assert [rows[(5, t)]["flow_distribution_completed"] for t in ("feature", "defect", "risk")] == [1.0, 0.0, 0.0]
    assert [rows[(12, t)]["flow_distribution_completed"] for t in ("feature", "defect", "risk")] == pytest.approx(
        [1 / 3, 1 / 3, 1 / 3])
    # 01-19 .. 01-21: SHOP-4 and SHOP-7 in progress every day
    assert (rows[(19, "feature")]["flow_load_avg"], rows[(19, "feature")]["flow_load_end"]) == (2.0, 2)


def test_weeks_without_completions_are_zero_rows(warehouse):
    growth = weekly(warehouse, "Growth")
    assert [(d, growth[(d, "feature")]["flow_velocity"]) for d in (5, 12, 19)] == [(5, 0), (12, 0), (19, 1)]
    assert growth[(19, "feature")]["value_stream"] == "Acquisition"
    assert growth[(19, "feature")]["flow_time_p50_hours"] == 24.0
    platform = weekly(warehouse, "Platform")
    assert platform[(5, "defect")]["flow_velocity"] == 1  # 01-11 23:30 UTC, not the next week
    assert platform[(12, "defect")]["flow_velocity"] == 0


def test_monthly_metrics(warehouse):
    rows = query_dicts(warehouse, """
        SELECT * FROM marts.flow_metrics_monthly WHERE team = 'Checkout' AND flow_item_type = 'feature'
    """)
    assert len(rows) == 1
    row = rows[0]
    assert row["month_start"] == date(2026, 1, 1)
    # SHOP-9, SHOP-1, SHOP-6 completed (flow times 24 and 72; SHOP-6 has none); SHOP-5 canceled
    assert (row["flow_velocity"], row["canceled_items"], row["flow_time_p50_hours"]) == (3, 1, 48.0)
    assert row["flow_load_end"] == 2  # at the as-of time


def test_team_rows_take_percentiles_from_the_items(warehouse):
    """Checkout, all types, week of 01-12: SHOP-6 (feature, no flow time, lead 48 h), SHOP-2 (defect, flow 120 h,
    72 active, lead 01-05 10:00 -> 01-12 10:00 = 168 h) and SHOP-3 (risk, 144 h, 120 active, lead 168 h).
    Flow times 120, 144: p50 132 (no type row has it: they say 120, 144 and NULL), p85 120 + 0.85 * 24 = 140.4,
    p95 120 + 0.95 * 24 = 142.8; efficiency (72 + 120) / (120 + 144) = 8/11; lead p50 of 48, 168, 168 = 168;
    points: stories SHOP-6 and SHOP-3, 3 each. Week of 01-05: the two features and SHOP-5 canceled."""
    rows = rollup(warehouse, "flow_metrics_weekly", "team", "Checkout", "Online Shop")
    assert sorted(rows) == [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)]
    week = rows[date(2026, 1, 12)]
    assert (week["flow_velocity"], week["canceled_items"], week["completed_story_points"]) == (3, 0, 6.0)
    assert week["flow_time_p50_hours"] == pytest.approx(132.0)
    assert week["flow_time_p85_hours"] == pytest.approx(140.4)
    assert week["flow_time_p95_hours"] == pytest.approx(142.8)
    assert week["flow_efficiency"] == pytest.approx(8 / 11)
    assert week["lead_time_p50_hours"] == 168.0
    # a share of the types: no type on this row
    assert (week["flow_distribution_completed"], week["flow_distribution_load"]) == (None, None)
    first = rows[date(2026, 1, 5)]
    assert (first["flow_velocity"], first["canceled_items"], first["flow_time_p50_hours"]) == (2, 1, 48.0)


def test_team_row_load_sums_the_types_per_day(warehouse):
    """Checkout, week of 01-05, in progress at each day's end, feature + defect + risk (risk from 01-06):
    01-05 1 + 0, 01-06 1 + 0 + 0, 01-07 1 + 1 + 1, 01-08 2 + 1 + 0, then 1 + 1 + 1 to 01-11: 17 / 7, end 3 (not
    the sum of the type averages 8/7 + 5/7 + 4/6)."""
    week = rollup(warehouse, "flow_metrics_weekly", "team", "Checkout", "Online Shop")[date(2026, 1, 5)]
    assert (week["flow_load_avg"], week["flow_load_end"]) == (pytest.approx(17 / 7), 3)


def test_value_stream_and_overall_rows(warehouse):
    """Online Shop, week of 01-05: SHOP-9 (24 h, 24 active), SHOP-1 (72 h, 60 active) of Checkout and SHOP-8 of
    Payments (48 h, all active): p50 48, p85 48 + 0.7 * 24 = 64.8, efficiency 132 / 144.
    Overall adds Platform's OPS-2 (155.5 h, 12 active): flow times 24, 48, 72, 155.5, p50 60,
    p85 72 + 0.55 * 83.5 = 117.925, efficiency 144 / 299.5; SHOP-5 canceled."""
    stream = rollup(warehouse, "flow_metrics_weekly", "value_stream", "all", "Online Shop")[date(2026, 1, 5)]
    assert stream["flow_velocity"] == 3
    assert (stream["flow_time_p50_hours"], stream["flow_time_p85_hours"]) == (
        pytest.approx(48.0), pytest.approx(64.8))
    assert stream["flow_efficiency"] == pytest.approx(132 / 144)
    overall = rollup(warehouse, "flow_metrics_weekly", "overall", "all", "all")[date(2026, 1, 5)]
    assert (overall["flow_velocity"], overall["canceled_items"]) == (4, 1)
    assert (overall["flow_time_p50_hours"], overall["flow_time_p85_hours"]) == (
        pytest.approx(60.0), pytest.approx(117.925))
    assert overall["flow_efficiency"] == pytest.approx(144 / 299.5)
    # Acquisition's only item was created 01-05: its axis starts there, with zero rows before its completion
    growth = rollup(warehouse, "flow_metrics_weekly", "value_stream", "all", "Acquisition")
    assert [growth[date(2026, 1, d)]["flow_velocity"] for d in (5, 12, 19)] == [0, 0, 1]


def test_every_level_counts_each_item_once(warehouse):
    """Summed within one grouping_level, velocity and cancellations are the items done and canceled: 8 and 1."""
    rows = query(warehouse, """
        SELECT grouping_level, sum(flow_velocity), sum(canceled_items)
        FROM marts.flow_metrics_weekly GROUP BY grouping_level ORDER BY grouping_level
    """)
    assert rows == [("overall", 8, 1), ("team", 8, 1), ("team_type", 8, 1), ("value_stream", 8, 1)]
    assert query(warehouse, """
        SELECT DISTINCT grouping_level, team = 'all', value_stream = 'all', flow_item_type = 'all'
        FROM marts.flow_metrics_monthly ORDER BY 1
    """) == [("overall", True, True, True), ("team", False, False, True), ("team_type", False, False, False),
             ("value_stream", True, False, True)]


def test_monthly_rollup_rows(warehouse):
    """January, Checkout all types: SHOP-9, SHOP-1, SHOP-6, SHOP-2, SHOP-3; flow times 24, 72, 120, 144: p50 96.
    Overall adds SHOP-8 (48), OPS-2 (155.5), MISC-1 (24): 24, 24, 48, 72, 120, 144, 155.5: p50 72."""
    team = rollup(warehouse, "flow_metrics_monthly", "team", "Checkout", "Online Shop")[date(2026, 1, 1)]
    assert (team["flow_velocity"], team["flow_time_p50_hours"]) == (5, 96.0)
    overall = rollup(warehouse, "flow_metrics_monthly", "overall", "all", "all")[date(2026, 1, 1)]
    assert (overall["flow_velocity"], overall["flow_time_p50_hours"], overall["flow_load_end"]) == (8, 72.0, 2)


# sprint_predictability -------------------------------------------------------------------------------

def test_sprint_committed_against_completed(warehouse):
    """Sprint 100 (01-05 08:00 -> 01-12 08:00): committed SHOP-1, -2, -4, -5 (added before the start); at the end
    SHOP-1 is done, SHOP-2 is 2 h short, SHOP-4 in progress, SHOP-5 was removed (canceled). SHOP-9 and SHOP-3
    were added after the start; SHOP-9 is done, SHOP-3 in its reopened stretch. Points: committed 3 + 3 = 6
    (stories SHOP-1, SHOP-5), completed committed 3, completed 3 + 3.
    Sprint 101 (open, judged at its planned end 01-26): carried-over SHOP-2 (done 01-12 10:00) and SHOP-4."""
    rows = {row["sprint_id"]: row for row in query_dicts(warehouse, "SELECT * FROM marts.sprint_predictability")}
    first = rows["100"]
    assert (first["committed_items"], first["completed_committed_items"], first["added_items"],
            first["removed_items"], first["completed_items"]) == (4, 1, 2, 1, 2)
    assert (first["committed_story_points"], first["completed_committed_story_points"],
            first["completed_story_points"]) == (6.0, 3.0, 6.0)
    assert (first["predictability"], first["story_point_predictability"], first["team"], first["is_closed"]) == (
        0.25, 0.5, "Checkout", True)
    second = rows["101"]
    assert (second["committed_items"], second["completed_committed_items"], second["predictability"],
            second["is_closed"]) == (2, 1, 0.5, False)


def test_the_active_sprint_is_forecast_with_its_open_items(warehouse):
    """Sprint 101 is active: its members now are SHOP-2 (done) and SHOP-4 (in progress), so 1 item remains,
    due at its planned end 01-26; closed sprint 100 has no forecast (docs/METRICS.md#delivery-forecasts)."""
    rows = query_dicts(warehouse, "SELECT * FROM marts.delivery_forecasts WHERE subject_type = 'sprint'")
    assert [(row["subject_id"], row["team"], row["value_stream"], row["remaining_items"], str(row["target_date"]),
             row["target_kind"], str(row["as_of_date"])) for row in rows] == [
        (f"sprint:{JIRA}:101", "Checkout", item(warehouse, "SHOP-4")["value_stream"], 1, "2026-01-26", "sprint_end",
         "2026-01-21")]
    assert rows[0]["target_probability"] is not None


# work_item_dependencies ------------------------------------------------------------------------------

def test_blocking_links_across_teams_with_their_wait(warehouse):
    """OPS-2 blocks SHOP-2: both exist from 01-05 10:00; OPS-2 is done 01-11 23:30: 157.5 h, Platform ->
    Checkout. SHOP-4 blocks SHOP-7: both open, 01-14 06:00 -> as-of 01-21 12:00 = 174 h, same team. EXT-9 is
    not loaded: another team, wait unknown. The Relates link is no dependency."""
    rows = query(warehouse, """
        SELECT blocking_issue_key, blocked_issue_key, blocking_team, blocked_team, is_cross_team, is_resolved,
               blocked_wait_hours
        FROM marts.work_item_dependencies ORDER BY link_id
    """)
    assert rows == [
        ("OPS-2", "SHOP-2", "Platform", "Checkout", True, True, 157.5),
        ("SHOP-4", "SHOP-7", "Checkout", "Checkout", False, False, 174.0),
        ("EXT-9", "SHOP-1", None, "Checkout", True, False, None),
    ]


def test_without_a_run_report_the_data_is_complete_to_the_as_of_time(warehouse):
    """No ops.stream_runs rows here (raw tables loaded directly): the flow data counts as complete to the as-of
    time 01-21 12:00, so the weeks of 01-05 and 01-12 are complete and the current week of 01-19 is not."""
    rows = query(warehouse, """
        SELECT DISTINCT week_start, data_complete_to, is_period_complete FROM marts.flow_metrics_weekly ORDER BY 1
    """)
    assert rows == [(date(2026, 1, d), AS_OF, d < 19) for d in (5, 12, 19)]
