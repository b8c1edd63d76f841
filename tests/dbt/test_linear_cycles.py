"""Linear cycles as sprints in sprint_predictability, on a hand-made history (raw objects in Linear's GraphQL
shapes). Source `lin`, team MOB; every issue has estimate 3.

Cycle 1 (c1): starts Mon 2026-01-05 00:00, ends and completed Mon 2026-01-12 00:00. Cycle 2 (c2): starts
2026-01-12 00:00, ends 2026-01-19 00:00, not completed.
  MOB-1, MOB-2, MOB-3 created Sun 2026-01-04 09:00 in Todo, each put in c1 Sun 10:00: committed (3 items, 9 points).
  MOB-4 created Sun 09:00 in Todo, put in c1 Wed 2026-01-07 10:00: added.
  MOB-1 Todo -> Done Tue 2026-01-06 10:00 (committed, done); MOB-4 Todo -> Done Thu 2026-01-08 10:00 (added, done).
  MOB-2 stays in Todo and is carried over c1 -> c2 at c1's completion (Mon 01-12 00:00): still in c1 at its end,
  not a removal; in c2 at c2's start, so committed there. MOB-3 stays in Todo in c1.
c1: committed 3, added 1, removed 0, completed 2 (MOB-1, MOB-4), completed committed 1 (MOB-1):
predictability 1/3; story points 9 committed, 3 completed committed: 1/3. c2: committed 1 (MOB-2), done 0: 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.core.raw import RawRecord
from operations.dbt import dbt_vars

from .test_linear_work_items import CONFIG, STATES, TEAM, issue
from .test_linear_work_items import RAW as WORK_ITEMS_RAW  # its workflow states
from .warehouse import load_raw, only, query_dicts, run_dbt

SUNDAY = "2026-01-04T09:00:00.000Z"


def change(ident: str, at: str, issue_id: str, *, state: tuple[str, str] | None = None,
           cycle: tuple[str | None, str | None] = (None, None)) -> RawRecord:
    return RawRecord(ident, {
        "id": ident, "createdAt": at, "fromStateId": STATES[state[0]]["id"] if state else None,
        "toStateId": STATES[state[1]]["id"] if state else None, "fromEstimate": None, "toEstimate": None,
        "fromCycleId": cycle[0], "toCycleId": cycle[1], "fromProjectId": None, "toProjectId": None,
        "fromParentId": None, "toParentId": None}, issue_id, "all")


def cycle(ident: str, number: int, starts: str, ends: str, completed: str | None) -> RawRecord:
    return RawRecord(ident, {"id": ident, "number": float(number), "name": None, "team": TEAM, "startsAt": starts,
                             "endsAt": ends, "completedAt": completed, "archivedAt": None}, scope="all")


RAW = [
    ("linear__issues", "lin", [
        issue(1, SUNDAY, "2026-01-06T10:00:00.000Z", "Done", []),
        issue(2, SUNDAY, "2026-01-12T00:00:00.000Z", "Todo", []),
        issue(3, SUNDAY, "2026-01-04T10:00:00.000Z", "Todo", []),
        issue(4, SUNDAY, "2026-01-08T10:00:00.000Z", "Done", []),
    ]),
    ("linear__issue_history", "lin", [
        *(change(f"in{n}", "2026-01-04T10:00:00.000Z", f"issue-{n}", cycle=(None, "c1")) for n in (1, 2, 3)),
        change("in4", "2026-01-07T10:00:00.000Z", "issue-4", cycle=(None, "c1")),
        change("done1", "2026-01-06T10:00:00.000Z", "issue-1", state=("Todo", "Done")),
        change("done4", "2026-01-08T10:00:00.000Z", "issue-4", state=("Todo", "Done")),
        change("carry2", "2026-01-12T00:00:00.000Z", "issue-2", cycle=("c1", "c2")),
    ]),
    ("linear__cycles", "lin", [
        cycle("c1", 1, "2026-01-05T00:00:00.000Z", "2026-01-12T00:00:00.000Z", "2026-01-12T00:00:00.000Z"),
        cycle("c2", 2, "2026-01-12T00:00:00.000Z", "2026-01-19T00:00:00.000Z", None),
    ]),
    *(table for table in WORK_ITEMS_RAW if table[0] == "linear__workflow_states"),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp("linear_cycles")
    warehouse = work_dir / "throughline.duckdb"
    load_raw(warehouse, RAW)
    run_dbt(["build", *only("sprint_predictability"), "--exclude", "test_type:unit",
             "--vars", json.dumps(dbt_vars(CONFIG))], warehouse, work_dir)
    return warehouse


def test_linear_cycles_are_sprints_with_committed_added_and_carried_over_items(warehouse):
    rows = query_dicts(warehouse, "SELECT sprint_key, sprint_name, sprint_state, team, committed_items, "
                       "added_items, removed_items, completed_items, completed_committed_items, predictability, "
                       "committed_story_points, completed_committed_story_points, story_point_predictability "
                       "FROM marts.sprint_predictability WHERE source_instance = 'lin' ORDER BY sprint_key")
    assert rows == [
        {"sprint_key": "lin:c1", "sprint_name": "MOB Cycle 1", "sprint_state": "closed", "team": "Mobile",
         "committed_items": 3, "added_items": 1, "removed_items": 0, "completed_items": 2,
         "completed_committed_items": 1, "predictability": 1 / 3, "committed_story_points": 9.0,
         "completed_committed_story_points": 3.0, "story_point_predictability": 1 / 3},
        {"sprint_key": "lin:c2", "sprint_name": "MOB Cycle 2", "sprint_state": "active", "team": "Mobile",
         "committed_items": 1, "added_items": 0, "removed_items": 0, "completed_items": 0,
         "completed_committed_items": 0, "predictability": 0.0, "committed_story_points": 3.0,
         "completed_committed_story_points": 0.0, "story_point_predictability": 0.0},
    ]
