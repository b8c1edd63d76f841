"""Azure DevOps team iterations as sprints in sprint_predictability and the sprint forecasts, on a hand-made history
(raw objects in Microsoft's REST 7.1 shapes: TeamSettingsIteration, WorkItem, WorkItemUpdate). Source `ado`, project
Data (team Data); every work item a User Story. All times UTC.

Iterations (a TeamSettingsIteration's dates are days; finishDate is the last day, so the sprint ends a day later):
  Sprint 1 (past):    startDate Mon 2026-03-02, finishDate Fri 03-13: 03-02 00:00 -> 03-14 00:00. Two teams have
                      it: one sprint.
  Sprint 2 (current): startDate Mon 03-16, finishDate Fri 03-27: 03-16 00:00 -> 03-28 00:00.
  Sprint 3 (future):  not started, so not in sprint_predictability.
  "Data" (the project's root) is the backlog: no iteration.
Work items (points), System.IterationPath by update:
  201 (2) created Fri 02-27 09:00 in Sprint 1; Active Tue 03-03, Closed Thu 03-05: committed, done.
  202 (3) created 02-27 09:00 in Data; Data -> Sprint 1 Fri 02-27 15:00 (planned): committed. Active Wed 03-04;
      Sprint 1 -> Sprint 2 on Sprint 1's last day, Fri 03-13 16:00 (the sprint review carries it over): still in
      Sprint 1 at its end, not done; in Sprint 2 before it starts: committed there.
  203 (5) created 02-27 09:00 in Sprint 1; Sprint 1 -> Data Tue 03-10 11:00: removed.
  204 (1) created Wed 03-04 09:00 in Data; Data -> "data\\sprint 1" (paths are not case-sensitive) Wed 03-04 10:00:
      added. Active Thu 03-05, Closed Mon 03-09: added, done.
  205 (8) created 02-27 09:00 in Sprint 1; Active Mon 03-09, Resolved (waiting) Wed 03-11; Sprint 1 -> Data on the
      last day, Fri 03-13 17:00: to the backlog, not a later iteration, so removed.
  206 (2) created 02-27 09:00 in Sprint 1, stays New; Sprint 1 -> Sprint 2 Mon 03-16 09:00 (after Sprint 1's end,
      after Sprint 2's start): in Sprint 1 at its end; added to Sprint 2.
Sprint 1: committed 201, 202, 203, 205, 206 = 5 (20 points); at the end 201, 202, 204, 206; done 201, 204.
  completed committed 1 (201, 2 points): predictability 1/5, story points 2/20; added 1 (204); removed 2 (203,
  205); completed 2 (201, 204: 3 points).
Sprint 2 (active): committed 202 (3 points), added 206, none done: predictability 0, story points 0. Its forecast
  subject: 202 and 206 are in it now and open: 2 remaining items, target the date of its end, 03-28.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from connectors.core.raw import RawRecord
from operations.dbt import dbt_vars

from .test_azure_devops_sources import CONFIG, update, work_item
from .warehouse import load_raw, only, query_dicts, run_dbt

T = datetime.fromisoformat
BACKLOG = "Data"
PATHS = {n: f"Data\\Sprint {n}" for n in (1, 2, 3)}
# System.IterationId is the iteration's classification node id (a number, not the team iteration's GUID)
NODES = {BACKLOG: 10, PATHS[1]: 11, "data\\sprint 1": 11, PATHS[2]: 12, PATHS[3]: 13}


def at(month, day, hour):
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00.000Z"


def iteration(team, n, start, finish, frame):
    iteration_id = f"it-{n}"
    return RawRecord(f"{team}:{iteration_id}", {
        "id": iteration_id, "name": f"Sprint {n}", "path": PATHS[n],
        "attributes": {"startDate": f"{start}T00:00:00Z", "finishDate": f"{finish}T00:00:00Z", "timeFrame": frame},
        "url": f"https://dev.azure.com/acme/p-guid/{team}/_apis/work/teamsettings/iterations/{iteration_id}"},
        team, "Data")


def story(wid, state, created, changed, rev, points, path):
    record = work_item(wid, "User Story", state, created, changed, rev, points=points)
    record.payload["fields"]["System.IterationPath"] = path
    return record


def created(wid, when, path):
    return update(wid, 1, when, state="New", **{"System.IterationPath": {"newValue": path},
                                                "System.IterationId": {"newValue": NODES[path]}})


def moved(wid, rev, when, before, after):
    return update(wid, rev, when, **{"System.IterationPath": {"oldValue": before, "newValue": after},
                                     "System.IterationId": {"oldValue": NODES[before], "newValue": NODES[after]}})


RAW = [
    ("azure_devops__iterations", "ado", [
        iteration("team-data", 1, "2026-03-02", "2026-03-13", "past"),
        iteration("team-ops", 1, "2026-03-02", "2026-03-13", "past"),
        iteration("team-data", 2, "2026-03-16", "2026-03-27", "current"),
        iteration("team-data", 3, "2026-03-30", "2026-04-10", "future"),
    ]),
    ("azure_devops__work_items", "ado", [
        story(201, "Closed", at(2, 27, 9), at(3, 5, 10), 3, 2, PATHS[1]),
        story(202, "Active", at(2, 27, 9), at(3, 13, 16), 4, 3, PATHS[2]),
        story(203, "New", at(2, 27, 9), at(3, 10, 11), 2, 5, BACKLOG),
        story(204, "Closed", at(3, 4, 9), at(3, 9, 10), 4, 1, "data\\sprint 1"),
        story(205, "Resolved", at(2, 27, 9), at(3, 13, 17), 4, 8, BACKLOG),
        story(206, "New", at(2, 27, 9), at(3, 16, 9), 2, 2, PATHS[2]),
    ]),
    ("azure_devops__work_item_updates", "ado", [
        created(201, at(2, 27, 9), PATHS[1]),
        update(201, 2, at(3, 3, 10), "New", "Active"),
        update(201, 3, at(3, 5, 10), "Active", "Closed"),
        created(202, at(2, 27, 9), BACKLOG),
        moved(202, 2, at(2, 27, 15), BACKLOG, PATHS[1]),
        update(202, 3, at(3, 4, 10), "New", "Active"),
        moved(202, 4, at(3, 13, 16), PATHS[1], PATHS[2]),
        created(203, at(2, 27, 9), PATHS[1]),
        moved(203, 2, at(3, 10, 11), PATHS[1], BACKLOG),
        created(204, at(3, 4, 9), BACKLOG),
        moved(204, 2, at(3, 4, 10), BACKLOG, "data\\sprint 1"),
        update(204, 3, at(3, 5, 10), "New", "Active"),
        update(204, 4, at(3, 9, 10), "Active", "Closed"),
        created(205, at(2, 27, 9), PATHS[1]),
        update(205, 2, at(3, 9, 10), "New", "Active"),
        update(205, 3, at(3, 11, 10), "Active", "Resolved"),
        moved(205, 4, at(3, 13, 17), PATHS[1], BACKLOG),
        created(206, at(2, 27, 9), PATHS[1]),
        moved(206, 2, at(3, 16, 9), PATHS[1], PATHS[2]),
    ]),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp("azure_devops_iterations")
    warehouse = work_dir / "throughline.duckdb"
    load_raw(warehouse, RAW)
    run_dbt(["build", *only("sprint_predictability", "int_forecast_subjects"), "--exclude", "test_type:unit",
             "--vars", json.dumps(dbt_vars(CONFIG))], warehouse, work_dir)
    return warehouse


def test_iterations_are_sprints_with_committed_added_removed_and_carried_over_items(warehouse):
    rows = query_dicts(warehouse, "SELECT sprint_key, sprint_name, sprint_state, team, started_at, ended_at, is_closed, "
                       "committed_items, added_items, removed_items, completed_items, completed_committed_items, "
                       "predictability, committed_story_points, completed_committed_story_points, "
                       "completed_story_points, story_point_predictability "
                       "FROM marts.sprint_predictability WHERE source_instance = 'ado' ORDER BY sprint_key")
    assert rows == [
        {"sprint_key": "ado:it-1", "sprint_name": "Sprint 1", "sprint_state": "closed", "team": "Data",
         "started_at": T("2026-03-02 00:00"), "ended_at": T("2026-03-14 00:00"), "is_closed": True,
         "committed_items": 5, "added_items": 1, "removed_items": 2, "completed_items": 2,
         "completed_committed_items": 1, "predictability": 1 / 5, "committed_story_points": 20.0,
         "completed_committed_story_points": 2.0, "completed_story_points": 3.0, "story_point_predictability": 0.1},
        {"sprint_key": "ado:it-2", "sprint_name": "Sprint 2", "sprint_state": "active", "team": "Data",
         "started_at": T("2026-03-16 00:00"), "ended_at": T("2026-03-28 00:00"), "is_closed": False,
         "committed_items": 1, "added_items": 1, "removed_items": 0, "completed_items": 0,
         "completed_committed_items": 0, "predictability": 0.0, "committed_story_points": 3.0,
         "completed_committed_story_points": 0.0, "completed_story_points": 0.0, "story_point_predictability": 0.0},
    ]


def test_the_carry_over_on_the_last_day_is_no_removal_but_a_move_to_the_backlog_is(warehouse):
    rows = query_dicts(warehouse, "SELECT issue_id, sprint_id, change, changed_at "
                       "FROM intermediate.int_azure_devops__work_item_iteration_changes "
                       "WHERE issue_id IN ('202', '205', '206') ORDER BY issue_id, changed_at, item_index")
    assert rows == [
        {"issue_id": "202", "sprint_id": "it-1", "change": "added", "changed_at": T("2026-02-27 15:00")},
        {"issue_id": "202", "sprint_id": "it-2", "change": "added", "changed_at": T("2026-03-13 16:00")},
        {"issue_id": "205", "sprint_id": "it-1", "change": "added", "changed_at": T("2026-02-27 09:00")},
        {"issue_id": "205", "sprint_id": "it-1", "change": "removed", "changed_at": T("2026-03-13 17:00")},
        {"issue_id": "206", "sprint_id": "it-1", "change": "added", "changed_at": T("2026-02-27 09:00")},
        {"issue_id": "206", "sprint_id": "it-2", "change": "added", "changed_at": T("2026-03-16 09:00")},
    ]


def test_the_active_iteration_is_a_forecast_subject(warehouse):
    rows = query_dicts(warehouse, "SELECT subject_id, subject_name, team, remaining_items, target_date, target_kind "
                       "FROM intermediate.int_forecast_subjects WHERE subject_type = 'sprint'")
    assert rows == [{"subject_id": "sprint:ado:it-2", "subject_name": "Sprint 2", "team": "Data", "remaining_items": 2,
                     "target_date": date(2026, 3, 28), "target_kind": "sprint_end"}]
