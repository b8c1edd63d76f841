"""Linear issues through dbt into work_items and work_item_state_intervals, on a hand-made history (raw objects
in Linear's GraphQL shapes, as the connector stores them). All times UTC, week of Mon 2026-01-05.

Linear source `lin`, team MOB (work_item_team_mapping: Mobile, value stream "Buy and pay"). Workflow states
(type): Backlog (backlog), Todo (unstarted), In Progress (started), Ready for Review (started), Done (completed),
Canceled (canceled). flow_state_type_mapping: backlog/unstarted -> new, completed -> done, canceled -> canceled,
started -> by name: "Ready for Review" is a flow_status_mapping row (waiting), "In Progress" active.

  MOB-1 (label tech-debt -> debt, estimate 3), created Mon 09:00 in Todo:
    h1 Mon 10:00 Todo -> In Progress; h2 Tue 10:00 In Progress -> Ready for Review;
    h3 Tue 16:00 Ready for Review -> Done (read on after its issue's page: no parent_key, `issue.id` in the payload)
    intervals: Todo new 1 h | In Progress active 24 h | Ready for Review waiting 6 h | Done (current)
    first active Mon 10:00, completed Tue 16:00: flow time 30 h, lead time 31 h, active 24 h, waiting 6 h,
    flow efficiency 24/30 = 0.8.
  MOB-2 (no label -> feature), created Mon 12:00 in Backlog; h4 Wed 12:00 Backlog -> Canceled:
    intervals: Backlog new 48 h | Canceled (current); canceled Wed 12:00, never active: no flow time.
A history entry without a state change (h5, an estimate edit of MOB-2) adds no interval.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from connectors.config import parse_config
from connectors.core.raw import RawRecord
from operations.dbt import dbt_vars

from .warehouse import load_raw, query_dicts, run_dbt

CONFIG = parse_config({"sources": [{"type": "linear", "name": "lin", "auth": {"api_key": "${K}"}}]}, env={"K": "x"})
TEAM = {"id": "team-mob", "key": "MOB"}
STATES = {name: {"id": f"st-{i}", "name": name, "type": kind} for i, (name, kind) in enumerate((
    ("Backlog", "backlog"), ("Todo", "unstarted"), ("In Progress", "started"), ("Ready for Review", "started"),
    ("Done", "completed"), ("Canceled", "canceled")))}


def issue(n: int, created: str, updated: str, state: str, labels: list[str]) -> RawRecord:
    return RawRecord(f"issue-{n}", {
        "id": f"issue-{n}", "identifier": f"MOB-{n}", "title": f"Issue {n}",
        "url": f"https://linear.app/a/issue/MOB-{n}",
        "createdAt": created, "updatedAt": updated, "archivedAt": None, "startedAt": None, "completedAt": None,
        "canceledAt": None, "estimate": 3.0, "priority": 2.0, "state": STATES[state], "team": TEAM, "cycle": None,
        "project": None, "parent": None, "assignee": None,
        "labels": {"nodes": [{"id": f"label-{name}", "name": name} for name in labels],
                   "pageInfo": {"hasNextPage": False, "endCursor": None}},
    }, scope="all", cursor_value=updated)


def entry(ident: str, at: str, issue_id: str, moved: tuple[str, str] | None, read_on: bool = False) -> RawRecord:
    payload = {"id": ident, "createdAt": at, "fromStateId": STATES[moved[0]]["id"] if moved else None,
               "toStateId": STATES[moved[1]]["id"] if moved else None, "fromEstimate": None if moved else 3.0,
               "toEstimate": None if moved else 5.0, "fromCycleId": None, "toCycleId": None, "fromProjectId": None,
               "toProjectId": None, "fromParentId": None, "toParentId": None}
    if read_on:
        return RawRecord(ident, {**payload, "issue": {"id": issue_id}}, None, "all")
    return RawRecord(ident, payload, issue_id, "all")


RAW = [
    ("linear__issues", "lin", [
        issue(1, "2026-01-05T09:00:00.000Z", "2026-01-06T16:00:00.000Z", "Done", ["tech-debt"]),
        issue(2, "2026-01-05T12:00:00.000Z", "2026-01-07T12:00:00.000Z", "Canceled", []),
    ]),
    ("linear__issue_history", "lin", [
        entry("h1", "2026-01-05T10:00:00.000Z", "issue-1", ("Todo", "In Progress")),
        entry("h2", "2026-01-06T10:00:00.000Z", "issue-1", ("In Progress", "Ready for Review")),
        entry("h3", "2026-01-06T16:00:00.000Z", "issue-1", ("Ready for Review", "Done"), read_on=True),
        entry("h4", "2026-01-07T12:00:00.000Z", "issue-2", ("Backlog", "Canceled")),
        entry("h5", "2026-01-06T08:00:00.000Z", "issue-2", None),
    ]),
    ("linear__workflow_states", "lin", [
        RawRecord(s["id"], {**s, "position": float(i), "team": TEAM, "archivedAt": None}, scope="all")
        for i, s in enumerate(STATES.values())]),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp("linear")
    warehouse = work_dir / "throughline.duckdb"
    load_raw(warehouse, RAW)
    run_dbt(["build", "--select", "+work_items", "+work_item_state_intervals", "staging.linear",
             "--indirect-selection", "cautious", "--exclude", "test_type:unit",
             "--vars", json.dumps(dbt_vars(CONFIG))],
            warehouse, work_dir)
    return warehouse


def test_linear_state_changes_become_state_intervals(warehouse):
    rows = query_dicts(warehouse, "SELECT issue_key, state_interval_index, status_name, flow_state, started_at, "
                       "ended_at, duration_hours FROM marts.work_item_state_intervals WHERE source_instance = 'lin' "
                       "ORDER BY issue_key, state_interval_index")
    assert [(r["issue_key"], r["status_name"], r["flow_state"], r["started_at"], r["duration_hours"]) for r in rows] == [
        ("MOB-1", "Todo", "new", datetime(2026, 1, 5, 9), 1.0),
        ("MOB-1", "In Progress", "active", datetime(2026, 1, 5, 10), 24.0),
        ("MOB-1", "Ready for Review", "waiting", datetime(2026, 1, 6, 10), 6.0),
        ("MOB-1", "Done", "done", datetime(2026, 1, 6, 16), None),
        ("MOB-2", "Backlog", "new", datetime(2026, 1, 5, 12), 48.0),
        ("MOB-2", "Canceled", "canceled", datetime(2026, 1, 7, 12), None),
    ]


def test_linear_issues_are_work_items_with_their_team_and_flow_times(warehouse):
    rows = query_dicts(warehouse, "SELECT work_item_id, issue_key, project_key, flow_item_type, team, value_stream, "
                       "flow_state, first_active_at, completed_at, canceled_at, flow_time_hours, lead_time_hours, "
                       "active_time_hours, waiting_time_hours, flow_efficiency, story_points, is_flow_item "
                       "FROM marts.work_items WHERE source_instance = 'lin' ORDER BY issue_key")
    assert rows == [
        {"work_item_id": "lin:issue-1", "issue_key": "MOB-1", "project_key": "MOB", "flow_item_type": "debt",
         "team": "Mobile", "value_stream": "Buy and pay", "flow_state": "done",
         "first_active_at": datetime(2026, 1, 5, 10), "completed_at": datetime(2026, 1, 6, 16), "canceled_at": None,
         "flow_time_hours": 30.0, "lead_time_hours": 31.0, "active_time_hours": 24.0, "waiting_time_hours": 6.0,
         "flow_efficiency": 0.8, "story_points": 3.0, "is_flow_item": True},
        {"work_item_id": "lin:issue-2", "issue_key": "MOB-2", "project_key": "MOB", "flow_item_type": "feature",
         "team": "Mobile", "value_stream": "Buy and pay", "flow_state": "canceled", "first_active_at": None,
         "completed_at": None, "canceled_at": datetime(2026, 1, 7, 12), "flow_time_hours": None,
         "lead_time_hours": None, "active_time_hours": None, "waiting_time_hours": None, "flow_efficiency": None,
         "story_points": 3.0, "is_flow_item": True},
    ]
