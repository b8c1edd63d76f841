"""Flow definitions on a hand-made Jira history, every value worked out by hand (issue 18, items 8, 10, 11, 14):
containers are not flow items, queues are waiting, durations are exact, and each period says whether the
data covers it.

All times UTC, 2026; weeks start Monday (02-23, 03-02, 03-09). Every raw row is "as of" AS_OF = 03-13 12:00.
Project FT -> team Truth (value stream Truth stream) through the seeds written into a copy of the dbt project.
Every issue type maps to `feature` (Epic by the shipped seed, Initiative / Sub-task / Task by default).

key   type (Jira hierarchyLevel)  history
FT-1  Initiative (2)   created 03-02 09:00; In Progress 03-02 10:00; Done 03-06 10:00 (a container: 96 h)
FT-2  Epic (1)         parent FT-1; created 03-02 09:00; In Progress 03-02 10:00; Done 03-06 12:00 (98 h)
FT-3  Story (0)        parent FT-2 (its epic); created 03-02 09:00; the queue workflow:
                         In Progress      03-02 10:00 -> 03-03 10:00  24 h active
                         Ready for Review 03-03 10:00 -> 03-04 10:00  24 h waiting (queue)
                         In Review        03-04 10:00 -> 03-04 14:00   4 h active
                         Ready for QA     03-04 14:00 -> 03-05 14:00  24 h waiting (queue)
                         In QA            03-05 14:00 -> 03-05 18:00   4 h active
                         Ready to Deploy  03-05 18:00 -> 03-06 10:00  16 h waiting (queue)
                         Done             03-06 10:00
                       flow 03-02 10:00 -> 03-06 10:00 = 96 h; active 24 + 4 + 4 = 32 h; waiting 24 + 24 + 16 =
                       64 h; efficiency 32 / 96 = 1/3 (with the queues active it would have been 1).
FT-4  Sub-task (-1)    parent FT-3; created 03-02 11:00; In Progress 03-02 12:00; Done 03-02 18:00 (6 h).
                       Rule: sub-tasks are steps of their parent's work (its flow time spans them), not flow items.
FT-5  Story (0)        created 03-09 08:00; In Progress 03-09 09:00; In Review 09:06; Done 09:18.
                       Active 0.1 h + 0.2 h, flow 0.3 h. In doubles 0.1 + 0.2 = 0.30000000000000004 > 0.3, which
                       gave efficiency 1.0000000000000002 and waiting -5.6e-17; in whole microseconds
                       360,000,000 + 720,000,000 = 1,080,000,000 = the flow time: efficiency exactly 1.0, waiting 0.
FT-7  Epic (1)         created 03-09 09:00; In Progress 03-09 10:00, still in progress at AS_OF.
FT-8  Story (0)        parent FT-7; created 03-10 08:00; In Progress 03-10 09:00, still in progress at AS_OF.
FT-9  Story (0)        created 02-23 09:00, still To Do: the first flow item, so the axis starts week 02-23.

The run report (ops.stream_runs) of source acme-jira, stream jira__issues:
  run r1  03-06 02:00  scopes FT and OPS success
  run r2  03-13 02:00  scope FT failed, scope OPS success
  run r0  03-01 02:00  scope OLD success (removed from the config since: last read > 1 day before 03-13 02:00)
  run history-20260313T030000  03-13 03:00  scope FT success (a history window: does not count)
  stream jira__statuses (no scope) success in r2 at 03-13 02:00; a `*` error row for the failed scope in r2.
  -> jira__issues is complete to min(FT 03-06 02:00, OPS 03-13 02:00) = 03-06 02:00 (OLD left out);
     jira__statuses to 03-13 02:00.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from connectors.core.raw import RawRecord

from .test_flow_marts import FLOW_NODES, copy_project, dbt_build, load_as_of
from .warehouse import query, query_dicts

JIRA = "acme-jira"
AS_OF = datetime(2026, 3, 13, 12, 0)

# id -> (name, category key)
STATUSES = {
    "1": ("To Do", "new"),
    "3": ("In Progress", "indeterminate"),
    "20": ("Ready for Review", "indeterminate"),
    "21": ("In Review", "indeterminate"),
    "22": ("Ready for QA", "indeterminate"),
    "23": ("In QA", "indeterminate"),
    "24": ("Ready to Deploy", "indeterminate"),
    "10003": ("Done", "done"),
}
STATUS_ID = {name: sid for sid, (name, _) in STATUSES.items()}
TYPES = {"Initiative": (2, False), "Epic": (1, False), "Story": (0, False), "Sub-task": (-1, True)}

# key -> (id, type, parent key, created, current status, changes [(at, status)])
ISSUES = {
    "FT-1": ("501", "Initiative", None, "2026-03-02T09:00", "Done", [
        ("2026-03-02T10:00", "In Progress"), ("2026-03-06T10:00", "Done")]),
    "FT-2": ("502", "Epic", "FT-1", "2026-03-02T09:00", "Done", [
        ("2026-03-02T10:00", "In Progress"), ("2026-03-06T12:00", "Done")]),
    "FT-3": ("503", "Story", "FT-2", "2026-03-02T09:00", "Done", [
        ("2026-03-02T10:00", "In Progress"), ("2026-03-03T10:00", "Ready for Review"),
        ("2026-03-04T10:00", "In Review"), ("2026-03-04T14:00", "Ready for QA"),
        ("2026-03-05T14:00", "In QA"), ("2026-03-05T18:00", "Ready to Deploy"), ("2026-03-06T10:00", "Done")]),
    "FT-4": ("504", "Sub-task", "FT-3", "2026-03-02T11:00", "Done", [
        ("2026-03-02T12:00", "In Progress"), ("2026-03-02T18:00", "Done")]),
    "FT-5": ("505", "Story", None, "2026-03-09T08:00", "Done", [
        ("2026-03-09T09:00", "In Progress"), ("2026-03-09T09:06", "In Review"), ("2026-03-09T09:18", "Done")]),
    "FT-7": ("507", "Epic", None, "2026-03-09T09:00", "In Progress", [("2026-03-09T10:00", "In Progress")]),
    "FT-8": ("508", "Story", "FT-7", "2026-03-10T08:00", "In Progress", [("2026-03-10T09:00", "In Progress")]),
    "FT-9": ("509", "Story", None, "2026-02-23T09:00", "To Do", []),
}

SEEDS = {
    "work_item_team_mapping.csv": "source_instance,match_on,match_value,team,value_stream\n*,project,FT,Truth,\n",
    "team_value_streams.csv": "team,value_stream\nTruth,Truth stream\n",
}

# (run id, stream, scope, status, started_at); each read takes 5 minutes
STREAM_RUNS = [
    ("r0", "jira__issues", "OLD", "success", datetime(2026, 3, 1, 2)),
    ("r1", "jira__issues", "FT", "success", datetime(2026, 3, 6, 2)),
    ("r1", "jira__issues", "OPS", "success", datetime(2026, 3, 6, 2)),
    ("r2", "jira__issues", "FT", "failed", datetime(2026, 3, 13, 2)),
    ("r2", "jira__issues", "OPS", "success", datetime(2026, 3, 13, 2)),
    ("r2", "jira__statuses", None, "success", datetime(2026, 3, 13, 2)),
    ("r2", "*", None, "failed", datetime(2026, 3, 13, 2)),
    ("history-20260313T030000", "jira__issues", "FT", "success", datetime(2026, 3, 13, 3)),
]


def jira_time(text: str) -> str:
    return f"{datetime.fromisoformat(text):%Y-%m-%dT%H:%M:%S}.000+0000"


def status_object(name: str) -> dict:
    status_id = STATUS_ID[name]
    category = STATUSES[status_id][1]
    return {"id": status_id, "name": name, "untranslatedName": name, "statusCategory": {"key": category}}


def issue_type(name: str) -> dict:
    level, subtask = TYPES[name]
    return {"name": name, "hierarchyLevel": level, "subtask": subtask}


def issue_record(key: str) -> RawRecord:
    issue_id, type_name, parent, created, current, changes = ISSUES[key]
    updated = changes[-1][0] if changes else created
    fields = {
        "summary": f"{key} summary",
        "issuetype": issue_type(type_name),
        "project": {"id": "FT", "key": "FT"},
        "status": status_object(current),
        "labels": [],
        "components": [],
        "issuelinks": [],
        "customfield_10016": None,
        "created": jira_time(created),
        "updated": jira_time(updated),
    }
    if parent:
        # Jira Cloud writes the parent with its issue type: an epic parent makes the epic link
        fields["parent"] = {"id": ISSUES[parent][0], "key": parent,
                            "fields": {"issuetype": issue_type(ISSUES[parent][1])}}
    return RawRecord(record_key=issue_id, scope="FT", cursor_value=jira_time(updated), payload={
        "id": issue_id, "key": key, "fields": fields,
        "_throughline": {"storyPointsFields": ["customfield_10016"], "epicLinkField": None},
    })


def histories() -> list[RawRecord]:
    out = []
    for key, (issue_id, _, _, _, _, changes) in ISSUES.items():
        previous = "To Do"
        for number, (at, name) in enumerate(changes, start=1):
            history_id = f"{issue_id}{number:02d}"
            out.append(RawRecord(record_key=history_id, parent_key=issue_id, cursor_value=jira_time(at), payload={
                "id": history_id, "created": jira_time(at), "items": [{
                    "field": "status", "fieldtype": "jira", "fieldId": "status", "from": STATUS_ID[previous],
                    "fromString": previous, "to": STATUS_ID[name], "toString": name}]}))
            previous = name
    return out


def batches():
    return [
        ("jira__statuses", JIRA, [RawRecord(record_key=sid, payload=status_object(name))
                                  for sid, (name, _) in STATUSES.items()]),
        ("jira__issues", JIRA, [issue_record(key) for key in ISSUES]),
        ("jira__changelogs", JIRA, histories()),
    ]


def write_run_report(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        for run_id, stream, scope, status, started in STREAM_RUNS:
            con.execute(
                "INSERT INTO ops.stream_runs VALUES (?, 'jira', ?, 'issues', ?, ?, ?, 0, 0, 0, 1, 0, 0, 0, 0, "
                "NULL, NULL, 300, ?, ?, ?)",
                [run_id, JIRA, stream, scope, status, "scope FT: 403 Forbidden" if stream == "*" else None,
                 started, started + timedelta(minutes=5)],
            )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("flow_truth")
    path = work / "throughline.duckdb"
    load_as_of(path, batches(), AS_OF)
    write_run_report(path)
    select = ("+flow_metrics_weekly", "+flow_metrics_monthly", "+pipeline_runs", "+epics", "+initiatives")
    dbt_build(copy_project(work, SEEDS), path, work, select=select,
              ours=(*FLOW_NODES, "pipeline_runs", "stream_runs", "epics", "initiatives"))
    return path


def item(warehouse, key: str) -> dict:
    rows = query_dicts(warehouse, "SELECT * FROM marts.work_items WHERE issue_key = ?", [key])
    assert len(rows) == 1, key
    return rows[0]


def weekly(warehouse) -> dict:
    rows = query_dicts(warehouse, "SELECT * FROM marts.flow_metrics_weekly WHERE grouping_level = 'team_type' AND team = 'Truth'")
    return {row["week_start"]: row for row in rows}


# item 11: queues are waiting ---------------------------------------------------------------------------

def test_queue_statuses_are_waiting_and_work_statuses_active(warehouse):
    rows = dict(query(warehouse, """
        SELECT status_name, flow_state FROM intermediate.int_jira__status_mapping WHERE project_key = 'FT'
    """))
    assert rows == {
        "To Do": "new", "In Progress": "active", "Done": "done",
        "Ready for Review": "waiting", "In Review": "active",
        "Ready for QA": "waiting", "In QA": "active",
        "Ready to Deploy": "waiting",
    }


def test_efficiency_of_an_item_through_the_queues(warehouse):
    row = item(warehouse, "FT-3")
    # 96 h of flow: 24 + 4 + 4 = 32 h active, 24 + 24 + 16 = 64 h in the three queues
    assert (row["flow_time_hours"], row["active_time_hours"], row["waiting_time_hours"]) == (96.0, 32.0, 64.0)
    assert row["flow_efficiency"] == 1 / 3  # 115,200,000,000 us / 345,600,000,000 us, exactly rounded


# item 8: exact durations ---------------------------------------------------------------------------------

def test_fractional_intervals_sum_exactly(warehouse):
    row = item(warehouse, "FT-5")
    assert 0.1 + 0.2 > 0.3  # the float trap this history sets
    assert (row["flow_time_hours"], row["active_time_hours"], row["waiting_time_hours"]) == (0.3, 0.3, 0.0)
    assert row["flow_efficiency"] == 1.0
    # the week it completes in holds it alone: 1,080,000,000 us / 1,080,000,000 us
    assert weekly(warehouse)[date(2026, 3, 9)]["flow_efficiency"] == 1.0


def test_no_ratio_above_one_and_no_negative_time(warehouse):
    assert query(warehouse, """
        SELECT count(*) FROM marts.work_items
        WHERE flow_efficiency NOT BETWEEN 0 AND 1 OR waiting_time_hours < 0 OR active_time_hours < 0
    """) == [(0,)]
    assert query(warehouse, """
        SELECT count(*) FROM marts.flow_metrics_weekly WHERE flow_efficiency NOT BETWEEN 0 AND 1
    """) == [(0,)]


# item 10: containers and sub-tasks are not flow items ------------------------------------------------------

def test_work_items_keep_containers_with_their_level(warehouse):
    rows = query(warehouse, """
        SELECT issue_key, issue_type_hierarchy_level, is_flow_item, flow_time_hours FROM marts.work_items ORDER BY 1
    """)
    assert rows == [
        ("FT-1", 2, False, 96.0),   # initiative: 03-02 10:00 -> 03-06 10:00, kept for analysis
        ("FT-2", 1, False, 98.0),   # epic: 03-02 10:00 -> 03-06 12:00
        ("FT-3", 0, True, 96.0),
        ("FT-4", -1, False, 6.0),   # sub-task: 12:00 -> 18:00
        ("FT-5", 0, True, 0.3),
        ("FT-7", 1, False, None),
        ("FT-8", 0, True, None),
        ("FT-9", 0, True, None),
    ]


def test_velocity_and_flow_time_count_flow_items_only(warehouse):
    """Week 03-02: FT-1, FT-2, FT-3 and FT-4 completed, but only FT-3 is a flow item: velocity 1 (4 with the
    containers and the sub-task), p50 flow time 96 h (not the median of 6, 96, 96, 98 = 96 by luck: p85 tells
    them apart: 96 alone, against 96 + 0.55 * 2 = 97.1), efficiency 1/3."""
    rows = weekly(warehouse)
    assert set(rows) == {date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)}
    week = rows[date(2026, 3, 2)]
    assert (week["flow_item_type"], week["flow_velocity"]) == ("feature", 1)
    assert (week["flow_time_p50_hours"], week["flow_time_p85_hours"]) == (96.0, 96.0)
    assert week["flow_efficiency"] == 1 / 3
    assert rows[date(2026, 3, 9)]["flow_velocity"] == 1  # FT-5
    assert rows[date(2026, 2, 23)]["flow_velocity"] == 0  # FT-9 only created


def test_load_counts_flow_items_only(warehouse):
    """FT-3 is in progress at the ends of 03-02 (In Progress: active), 03-03 (Ready for Review), 03-04 (Ready for
    QA) and 03-05 (Ready to Deploy: all three waiting); the initiative FT-1 and the epic FT-2 were too, and do not
    count. FT-5 starts and ends on 03-09 (never at a day's end). FT-8 is in progress from the end of 03-10 to the
    as-of time; its epic FT-7 from 03-09 does not count. Oldest at AS_OF 03-13 12:00: FT-8, in progress since
    03-10 09:00 = 75 h (the epic would be 98 h)."""
    rows = query(warehouse, """
        SELECT day, wip_items, active_items, waiting_items, oldest_item_age_hours FROM marts.flow_load_daily
        WHERE team = 'Truth' AND day >= '2026-03-02' ORDER BY day
    """)
    wip = {day.day: (n, active, waiting) for day, n, active, waiting, _ in rows}
    assert wip == {
        2: (1, 1, 0), 3: (1, 0, 1), 4: (1, 0, 1), 5: (1, 0, 1), 6: (0, 0, 0), 7: (0, 0, 0), 8: (0, 0, 0),
        9: (0, 0, 0), 10: (1, 1, 0), 11: (1, 1, 0), 12: (1, 1, 0), 13: (1, 1, 0),
    }
    assert rows[-1][4] == 75.0
    # weekly load: week 03-02 = 1, 1, 1, 1, 0, 0, 0 -> 4/7, end 0; week 03-09 = 0, 1, 1, 1, 1 -> 4/5, end 1
    weeks = weekly(warehouse)
    assert (weeks[date(2026, 3, 2)]["flow_load_avg"], weeks[date(2026, 3, 2)]["flow_load_end"]) == (
        pytest.approx(4 / 7), 0)
    assert (weeks[date(2026, 3, 9)]["flow_load_avg"], weeks[date(2026, 3, 9)]["flow_load_end"]) == (0.8, 1)


def test_containers_keep_their_realization_metrics(warehouse):
    """The epic FT-2 holds FT-3 and, through its parent, the sub-task FT-4: 2 items, both done, flow time
    96 + 6 = 102 h; the initiative FT-1 holds the epic and its 2 items."""
    epic = query_dicts(warehouse, "SELECT * FROM marts.epics WHERE epic_key = 'FT-2'")
    assert [(row["items"], row["items_done"], row["flow_time_hours"], row["initiative_key"]) for row in epic] == [
        (2, 2, 102.0, "FT-1")]
    initiative = query_dicts(warehouse, "SELECT * FROM marts.initiatives WHERE initiative_key = 'FT-1'")
    assert [(row["epics"], row["items"]) for row in initiative] == [(1, 2)]


# item 14: the as-of time per source ------------------------------------------------------------------------

def test_each_stream_is_complete_to_its_scope_furthest_behind(warehouse):
    rows = query(warehouse, """
        SELECT DISTINCT stream, stream_data_complete_to FROM marts.pipeline_runs
        WHERE source_instance = 'acme-jira' ORDER BY 1
    """)
    assert rows == [
        ("*", None),  # the error row is no stream
        # FT last succeeded in r1 (its r2 read failed, the history window does not count); OLD is no longer read
        ("jira__issues", datetime(2026, 3, 6, 2)),
        ("jira__statuses", datetime(2026, 3, 13, 2)),
    ]


def test_periods_after_the_complete_time_are_flagged(warehouse):
    """Complete to 03-06 02:00: week 02-23 (ends 03-02 00:00) is complete; week 03-02 (ends 03-09) is not, though
    the last read (AS_OF 03-13) is after it: FT's reads failed since 03-06, so its velocity may still grow; the
    current week 03-09 is not; March (ends 04-01) is not."""
    rows = weekly(warehouse)
    assert {week: (row["is_period_complete"], row["data_complete_to"]) for week, row in rows.items()} == {
        date(2026, 2, 23): (True, datetime(2026, 3, 6, 2)),
        date(2026, 3, 2): (False, datetime(2026, 3, 6, 2)),
        date(2026, 3, 9): (False, datetime(2026, 3, 6, 2)),
    }
    assert query(warehouse, """
        SELECT month_start, is_period_complete FROM marts.flow_metrics_monthly WHERE grouping_level = 'team' AND team = 'Truth' ORDER BY 1
    """) == [(date(2026, 2, 1), True), (date(2026, 3, 1), False)]
