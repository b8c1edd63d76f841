"""Linear projects as epics and Linear initiatives as initiatives in the realization marts and the delivery forecasts,
on a hand-made history (raw objects in Linear's GraphQL shapes). Source `lin`, team MOB (work_item_team_mapping:
Mobile, value stream "Buy and pay"); every issue has estimate 3. All times UTC, week of Mon 2026-01-05.

Initiative ini-1 "Mobile checkout parity". Projects (status type -> flow state, seed flow_state_type_mapping):
  P1 "Wallet payments", In Progress (started -> active), created Thu 01-01 09:00, started Mon 01-05 08:00, in ini-1,
     target date 2026-02-27.
  P2 "Offline cart", Completed (completed -> done), created Fri 01-02 09:00, started Tue 01-06 09:00, completed
     Thu 01-08 12:00, in ini-1.
  P3 "Tablet layout", Planned (planned -> new), created Sat 01-03 09:00, no initiative, no issues.
Issues:
  MOB-1 (P1, label tech-debt -> debt): Todo Mon 09:00, In Progress Mon 10:00, Done Tue 16:00: flow time 30 h.
  MOB-2 (P1, feature): Backlog Mon 12:00, Canceled Wed 12:00.
  MOB-3 (P2, feature): Todo Mon 09:00, In Progress Tue 10:00, Done Wed 10:00: flow time 24 h.
  MOB-4 (no project, a sub-issue of MOB-3, so P2's): Todo Mon 09:00, In Progress Wed 10:00, Done Thu 10:00: 24 h.
  MOB-5 (no project): Todo Mon 09:00: an item of no epic.
epics:
  P1: items 2, done 1, canceled 1; story points 3 (MOB-2 canceled), done 3; flow time 30 h (debt 1 item, 3 points,
      30 h; feature 1 item, 0 points, 0 h); team Mobile (its issues'); first started 01-05 08:00 (its own start,
      before MOB-1's 10:00); not completed.
  P2: items 2, done 2; points 6, done 6; flow time 48 h (feature); first started 01-06 09:00; completed 01-08 12:00.
  P3: no items; team unassigned; new.
initiatives: ini-1 is no work item (not loaded), named by the hierarchy: epics 2, 1 completed; items 4, done 3,
  canceled 1; points 9, done 9; flow time 78 h; team Mobile; first started 01-05 08:00; not completed (P1 is open).
Forecast subjects: P1 (active) has no open item: 0 remaining, its target the project's target date; P3 (new, no
  items) is unsplit: 5 (the default); P2 is done: none; ini-1: its open epics' remaining, 0 + nothing for P2 = 0.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from connectors.core.raw import RawRecord
from operations.dbt import dbt_vars

from .test_linear_cycles import change
from .test_linear_work_items import CONFIG, TEAM, issue
from .test_linear_work_items import RAW as WORK_ITEMS_RAW  # its workflow states
from .warehouse import load_raw, only, query_dicts, run_dbt

T = datetime.fromisoformat
INITIATIVE = {"id": "ini-1", "name": "Mobile checkout parity", "status": "Active", "targetDate": "2026-03-31"}


def at(day: int, hour: int) -> str:
    return f"2026-01-{day:02d}T{hour:02d}:00:00.000Z"


def project(ident: str, name: str, status: tuple[str, str], created: str, started: str | None,
            completed: str | None, initiatives: list[dict], target: str | None = None) -> RawRecord:
    return RawRecord(ident, {
        "id": ident, "name": name, "url": f"https://linear.app/a/project/{ident}", "createdAt": created,
        "updatedAt": completed or created, "archivedAt": None, "startDate": None, "targetDate": target,
        "startedAt": started, "completedAt": completed, "canceledAt": None, "progress": 0.5,
        "status": {"id": f"ps-{status[1]}", "name": status[0], "type": status[1]},
        "teams": {"nodes": [TEAM], "pageInfo": {"hasNextPage": False, "endCursor": None}},
        "initiatives": {"nodes": initiatives, "pageInfo": {"hasNextPage": False, "endCursor": None}}}, scope="all")


def planned(n: int, created: str, updated: str, state: str, labels: list[str], project_id: str | None,
            parent: str | None = None) -> RawRecord:
    record = issue(n, created, updated, state, labels)
    record.payload["project"] = {"id": project_id} if project_id else None
    record.payload["parent"] = {"id": parent} if parent else None
    return record


RAW = [
    ("linear__projects", "lin", [
        project("p1", "Wallet payments", ("In Progress", "started"), at(1, 9), at(5, 8), None, [INITIATIVE],
                target="2026-02-27"),
        project("p2", "Offline cart", ("Completed", "completed"), at(2, 9), at(6, 9), at(8, 12), [INITIATIVE]),
        project("p3", "Tablet layout", ("Planned", "planned"), at(3, 9), None, None, []),
    ]),
    ("linear__issues", "lin", [
        planned(1, at(5, 9), at(6, 16), "Done", ["tech-debt"], "p1"),
        planned(2, at(5, 12), at(7, 12), "Canceled", [], "p1"),
        planned(3, at(5, 9), at(7, 10), "Done", [], "p2"),
        planned(4, at(5, 9), at(8, 10), "Done", [], None, parent="issue-3"),
        planned(5, at(5, 9), at(5, 9), "Todo", [], None),
    ]),
    ("linear__issue_history", "lin", [
        change("a1", at(5, 10), "issue-1", state=("Todo", "In Progress")),
        change("b1", at(6, 16), "issue-1", state=("In Progress", "Done")),
        change("a2", at(7, 12), "issue-2", state=("Backlog", "Canceled")),
        change("a3", at(6, 10), "issue-3", state=("Todo", "In Progress")),
        change("b3", at(7, 10), "issue-3", state=("In Progress", "Done")),
        change("a4", at(7, 10), "issue-4", state=("Todo", "In Progress")),
        change("b4", at(8, 10), "issue-4", state=("In Progress", "Done")),
    ]),
    *(table for table in WORK_ITEMS_RAW if table[0] == "linear__workflow_states"),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp("linear_projects")
    warehouse = work_dir / "throughline.duckdb"
    load_raw(warehouse, RAW)
    run_dbt(["build", *only("epics", "initiatives", "int_forecast_subjects"), "--exclude", "test_type:unit",
             "--vars", json.dumps(dbt_vars(CONFIG))], warehouse, work_dir)
    return warehouse


def test_projects_are_epics_with_their_issues_flow(warehouse):
    rows = query_dicts(warehouse, """
        SELECT epic_key, summary, initiative_key, is_epic_loaded, team, value_stream, status_name, flow_state,
               items, items_done, items_canceled, story_points, story_points_done, flow_time_hours, debt_items,
               debt_story_points, debt_flow_time_hours, feature_items, feature_story_points,
               feature_flow_time_hours, created_at, first_started_at, completed_at, time_to_market_hours
        FROM marts.epics WHERE source_instance = 'lin' ORDER BY epic_key""")
    zero = {"debt_items": 0, "debt_story_points": 0.0, "debt_flow_time_hours": 0.0}
    assert rows == [
        {"epic_key": "p1", "summary": "Wallet payments", "initiative_key": "ini-1", "is_epic_loaded": True,
         "team": "Mobile", "value_stream": "Buy and pay", "status_name": "In Progress", "flow_state": "active",
         "items": 2, "items_done": 1, "items_canceled": 1, "story_points": 3.0, "story_points_done": 3.0,
         "flow_time_hours": 30.0, "debt_items": 1, "debt_story_points": 3.0, "debt_flow_time_hours": 30.0,
         "feature_items": 1, "feature_story_points": 0.0, "feature_flow_time_hours": 0.0,
         "created_at": T("2026-01-01 09:00"), "first_started_at": T("2026-01-05 08:00"), "completed_at": None,
         "time_to_market_hours": None},
        {"epic_key": "p2", "summary": "Offline cart", "initiative_key": "ini-1", "is_epic_loaded": True,
         "team": "Mobile", "value_stream": "Buy and pay", "status_name": "Completed", "flow_state": "done",
         "items": 2, "items_done": 2, "items_canceled": 0, "story_points": 6.0, "story_points_done": 6.0,
         "flow_time_hours": 48.0, **zero, "feature_items": 2, "feature_story_points": 6.0,
         "feature_flow_time_hours": 48.0, "created_at": T("2026-01-02 09:00"), "first_started_at": T("2026-01-06 09:00"),
         "completed_at": T("2026-01-08 12:00"), "time_to_market_hours": None},
        {"epic_key": "p3", "summary": "Tablet layout", "initiative_key": None, "is_epic_loaded": True,
         "team": "unassigned", "value_stream": "unassigned", "status_name": "Planned", "flow_state": "new",
         "items": 0, "items_done": 0, "items_canceled": 0, "story_points": 0.0, "story_points_done": 0.0,
         "flow_time_hours": 0.0, **zero, "feature_items": 0, "feature_story_points": 0.0,
         "feature_flow_time_hours": 0.0, "created_at": T("2026-01-03 09:00"), "first_started_at": None,
         "completed_at": None, "time_to_market_hours": None},
    ]


def test_initiatives_roll_up_their_projects(warehouse):
    rows = query_dicts(warehouse, """
        SELECT initiative_key, summary, is_initiative_loaded, team, epics, epics_completed, items, items_done,
               items_canceled, story_points, story_points_done, flow_time_hours, first_started_at, completed_at
        FROM marts.initiatives WHERE source_instance = 'lin'""")
    assert rows == [{"initiative_key": "ini-1", "summary": "Mobile checkout parity", "is_initiative_loaded": False,
                     "team": "Mobile", "epics": 2, "epics_completed": 1, "items": 4, "items_done": 3,
                     "items_canceled": 1, "story_points": 9.0, "story_points_done": 9.0, "flow_time_hours": 78.0,
                     "first_started_at": T("2026-01-05 08:00"), "completed_at": None}]


def test_open_projects_and_initiatives_are_forecast_subjects(warehouse):
    rows = query_dicts(warehouse, "SELECT subject_id, subject_name, initiative_key, team, remaining_items, "
                       "has_default_items, target_date, target_kind FROM intermediate.int_forecast_subjects "
                       "ORDER BY subject_id")
    assert rows == [
        {"subject_id": "epic:lin:p1", "subject_name": "Wallet payments", "initiative_key": "ini-1", "team": "Mobile",
         "remaining_items": 0, "has_default_items": False, "target_date": date(2026, 2, 27),
         "target_kind": "project_target_date"},
        {"subject_id": "epic:lin:p3", "subject_name": "Tablet layout", "initiative_key": None, "team": "unassigned",
         "remaining_items": 5, "has_default_items": True, "target_date": None, "target_kind": None},
        {"subject_id": "initiative:lin:ini-1", "subject_name": "Mobile checkout parity", "initiative_key": "ini-1",
         "team": "Mobile", "remaining_items": 0, "has_default_items": False, "target_date": None, "target_kind": None},
    ]
