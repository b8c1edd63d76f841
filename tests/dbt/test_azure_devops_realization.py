"""Azure DevOps work items in the realization marts and the delivery forecasts, by Azure Boards' backlog levels
(Epic: initiative, Feature: epic), on a hand-made history (raw objects in Microsoft's REST 7.1 shapes: WorkItem
with its Hierarchy-Reverse relation, WorkItemUpdate). Source `ado`, project Data (team Data, value stream Platform
services: the seeds work_item_team_mapping and team_value_streams). All times UTC, March 2026.

Epic 1 "Data platform": created 03-01 09:00, Active 03-02 08:00.
  Feature 10 "Lakehouse migration" (parent 1): created 03-01 10:00, Active 03-02 09:00.
    101 User Story (3 points): created 03-02 09:00, Active 03-02 12:00, Closed 03-04 12:00: flow time 48 h.
      103 Task (parent 101, so Feature 10's): Active 03-03 08:00, Closed 03-03 20:00: 12 h; a Task is no flow item.
    102 Bug (2 points): New, open.
  Feature 20 "Data catalog" (parent 1): created 03-01 11:00, Active 03-03 09:00, Closed 03-06 12:00.
    201 User Story (5 points): created 03-03 09:00, Active 03-03 10:00, Closed 03-05 10:00: 48 h.
  301 User Story (1 point) directly under Epic 1: Active 03-04 09:00, Closed 03-04 21:00: 12 h; initiative 1, no
      epic, so in no epic's or initiative's rollup (initiatives roll up their epics).
401 Bug, no parent: Active 03-05 09:00, Closed 03-05 15:00: 6 h.
epics:
  10: items 101, 102, 103 = 3, done 2 (101, 103); points 3 + 2 = 5, done 3; flow time 48 + 12 = 60 h (feature:
      101 and 103, 3 points, 60 h; defect: 102, 2 points, 0 h); first started 03-02 09:00 (its own Active, before
      101's 12:00); not completed.
  20: items 1, done 1; points 5, done 5; flow time 48 h; first started 03-03 09:00; completed 03-06 12:00.
initiatives: 1 is loaded: epics 2, 1 completed; items 4, done 3; points 10, done 8; flow time 108 h; first
  started 03-02 08:00 (its own Active); not completed.
investment_distribution, March: the done items (Features and Epics are containers): 101, 103, 201, 301 feature
  (4 items, 3 + 5 + 1 = 9 points, 48 + 12 + 48 + 12 = 120 h), 401 defect (1 item, 6 h): shares 4/5 and 1/5 of the
  items, 120/126 and 6/126 of the flow time.
Forecast subjects: Feature 10 (active): its open flow items, 102: 1 remaining, by its Target Date 2026-04-30;
  Feature 20 is done: none; Epic 1: its open epics' remaining, 1, with no Target Date.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from operations.dbt import dbt_vars

from .test_azure_devops_sources import CONFIG, ts, update, work_item
from .warehouse import load_raw, only, query_dicts, run_dbt

T = datetime.fromisoformat


def item(wid, kind, title, state, created, changed, rev, parent=None, points=None):
    record = work_item(wid, kind, state, created, changed, rev, parent=parent, points=points)
    record.payload["fields"]["System.Title"] = title
    return record


def targeted(record, target):
    record.payload["fields"]["Microsoft.VSTS.Scheduling.TargetDate"] = target
    return record


def history(wid, created, *moves):
    """The updates of a work item created New at `created`, then moved to each (state, time) in turn."""
    updates, before = [update(wid, 1, created, state="New")], "New"
    for rev, (state, at) in enumerate(moves, start=2):
        updates.append(update(wid, rev, at, before, state))
        before = state
    return updates


RAW = [
    ("azure_devops__work_items", "ado", [
        item(1, "Epic", "Data platform", "Active", ts(1, 9), ts(2, 8), 2),
        targeted(item(10, "Feature", "Lakehouse migration", "Active", ts(1, 10), ts(2, 9), 2, parent=1),
                 "2026-04-30T00:00:00Z"),
        item(20, "Feature", "Data catalog", "Closed", ts(1, 11), ts(6, 12), 3, parent=1),
        item(101, "User Story", "Ingest orders", "Closed", ts(2, 9), ts(4, 12), 3, parent=10, points=3),
        item(102, "Bug", "Late partitions", "New", ts(2, 10), ts(2, 10), 1, parent=10, points=2),
        item(103, "Task", "Schema", "Closed", ts(2, 11), ts(3, 20), 3, parent=101),
        item(201, "User Story", "Search tables", "Closed", ts(3, 9), ts(5, 10), 3, parent=20, points=5),
        item(301, "User Story", "Cost spike", "Closed", ts(2, 9), ts(4, 21), 3, parent=1, points=1),
        item(401, "Bug", "Crash", "Closed", ts(2, 9), ts(5, 15), 3),
    ]),
    ("azure_devops__work_item_updates", "ado", [
        *history(1, ts(1, 9), ("Active", ts(2, 8))),
        *history(10, ts(1, 10), ("Active", ts(2, 9))),
        *history(20, ts(1, 11), ("Active", ts(3, 9)), ("Closed", ts(6, 12))),
        *history(101, ts(2, 9), ("Active", ts(2, 12)), ("Closed", ts(4, 12))),
        *history(102, ts(2, 10)),
        *history(103, ts(2, 11), ("Active", ts(3, 8)), ("Closed", ts(3, 20))),
        *history(201, ts(3, 9), ("Active", ts(3, 10)), ("Closed", ts(5, 10))),
        *history(301, ts(2, 9), ("Active", ts(4, 9)), ("Closed", ts(4, 21))),
        *history(401, ts(2, 9), ("Active", ts(5, 9)), ("Closed", ts(5, 15))),
    ]),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp("azure_devops_realization")
    warehouse = work_dir / "throughline.duckdb"
    load_raw(warehouse, RAW)
    run_dbt(["build", *only("epics", "initiatives", "investment_distribution", "int_forecast_subjects"),
             "--exclude", "test_type:unit", "--vars", json.dumps(dbt_vars(CONFIG))], warehouse, work_dir)
    return warehouse


def test_features_are_epics_of_their_nearest_epic(warehouse):
    rows = query_dicts(warehouse, """
        SELECT epic_key, summary, initiative_key, is_epic_loaded, team, status_name, flow_state, items, items_done,
               items_canceled, story_points, story_points_done, flow_time_hours, feature_items, feature_story_points,
               feature_flow_time_hours, defect_items, defect_story_points, created_at, first_started_at, completed_at
        FROM marts.epics WHERE source_instance = 'ado' ORDER BY epic_key""")
    assert rows == [
        {"epic_key": "10", "summary": "Lakehouse migration", "initiative_key": "1", "is_epic_loaded": True,
         "team": "Data", "status_name": "Active", "flow_state": "active", "items": 3, "items_done": 2,
         "items_canceled": 0, "story_points": 5.0, "story_points_done": 3.0, "flow_time_hours": 60.0,
         "feature_items": 2, "feature_story_points": 3.0, "feature_flow_time_hours": 60.0, "defect_items": 1,
         "defect_story_points": 2.0, "created_at": T("2026-03-01 10:00"), "first_started_at": T("2026-03-02 09:00"),
         "completed_at": None},
        {"epic_key": "20", "summary": "Data catalog", "initiative_key": "1", "is_epic_loaded": True,
         "team": "Data", "status_name": "Closed", "flow_state": "done", "items": 1, "items_done": 1,
         "items_canceled": 0, "story_points": 5.0, "story_points_done": 5.0, "flow_time_hours": 48.0,
         "feature_items": 1, "feature_story_points": 5.0, "feature_flow_time_hours": 48.0, "defect_items": 0,
         "defect_story_points": 0.0, "created_at": T("2026-03-01 11:00"), "first_started_at": T("2026-03-03 09:00"),
         "completed_at": T("2026-03-06 12:00")},
    ]


def test_an_epic_rolls_up_its_features(warehouse):
    rows = query_dicts(warehouse, """
        SELECT initiative_key, summary, is_initiative_loaded, team, status_name, flow_state, epics, epics_completed,
               items, items_done, items_canceled, story_points, story_points_done, flow_time_hours, created_at,
               first_started_at, completed_at
        FROM marts.initiatives WHERE source_instance = 'ado'""")
    assert rows == [{"initiative_key": "1", "summary": "Data platform", "is_initiative_loaded": True,
                     "team": "Data", "status_name": "Active", "flow_state": "active", "epics": 2,
                     "epics_completed": 1, "items": 4, "items_done": 3, "items_canceled": 0, "story_points": 10.0,
                     "story_points_done": 8.0, "flow_time_hours": 108.0, "created_at": T("2026-03-01 09:00"),
                     "first_started_at": T("2026-03-02 08:00"), "completed_at": None}]


def test_investment_distribution_counts_the_items_not_their_containers(warehouse):
    rows = query_dicts(warehouse, """
        SELECT value_stream, flow_item_type, completed_items, completed_story_points, flow_time_hours,
               share_of_items, share_of_flow_time
        FROM marts.investment_distribution WHERE month_start = DATE '2026-03-01' ORDER BY flow_item_type""")
    assert rows == [
        {"value_stream": "Platform services", "flow_item_type": "defect", "completed_items": 1.0,
         "completed_story_points": 0.0, "flow_time_hours": 6.0, "share_of_items": pytest.approx(1 / 5),
         "share_of_flow_time": pytest.approx(6 / 126)},
        {"value_stream": "Platform services", "flow_item_type": "feature", "completed_items": 4.0,
         "completed_story_points": 9.0, "flow_time_hours": 120.0, "share_of_items": pytest.approx(4 / 5),
         "share_of_flow_time": pytest.approx(120 / 126)},
    ]


def test_open_features_and_epics_are_forecast_subjects(warehouse):
    rows = query_dicts(warehouse, "SELECT subject_id, subject_name, initiative_key, team, remaining_items, "
                       "has_default_items, target_date, target_kind FROM intermediate.int_forecast_subjects "
                       "ORDER BY subject_id")
    assert rows == [
        {"subject_id": "epic:ado:10", "subject_name": "Lakehouse migration", "initiative_key": "1",
         "team": "Data", "remaining_items": 1, "has_default_items": False, "target_date": date(2026, 4, 30),
         "target_kind": "work_item_target_date"},
        {"subject_id": "initiative:ado:1", "subject_name": "Data platform", "initiative_key": "1",
         "team": "Data", "remaining_items": 1, "has_default_items": False, "target_date": None,
         "target_kind": None},
    ]
