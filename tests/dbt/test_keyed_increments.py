"""Models incremental by key (macros/keyed_increments.sql): int_work_items_classified, int_work_items_hierarchy
and int_jira__incidents.

A small Jira history (source acme-jira, project SHOP) in three loads; times UTC, 2026.

Load 1, read 01-10 12:00:
  SHOP-30, SHOP-31 initiatives; SHOP-10 an epic whose parent is SHOP-30; SHOP-11 a story of epic SHOP-10;
  SHOP-12 an incident (issue type Incident); SHOP-13 a story of no epic; SHOP-14 a Feature, an epic only because
  story SHOP-15 has it as its parent at hierarchy level 1.
Before load 2's run, SHOP-13's built rows are marked (board_id 'marked' in int_work_items_classified, summary
'marked' in int_work_items_hierarchy): a run that rebuilt them would write the real values again.
Load 2, read 01-20 12:00:
  SHOP-10 re-read with parent SHOP-31: SHOP-11, not read again, moves to initiative SHOP-31.
  SHOP-12 re-read as a Story: no longer an incident, its row goes.
  SHOP-15 re-read under epic SHOP-10: SHOP-14, not read again, has no item left and is an item itself now.
  -> SHOP-13 is neither read nor a child of what was: its marked rows stay.
Load 3: no Jira read; the team seed gains `*,project,SHOP,Checkout,` (as `dbt seed` loads an edited file):
  every item is classified again (team Checkout, value stream "Buy and pay" from team_value_streams), SHOP-13
  too (the mark goes), and work_items follows.
After each run the models equal a full rebuild.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from connectors.core.raw import RawRecord

from .test_flow_marts import jira_time
from .test_incremental import SELECT, full_rebuild_differences, status
from .warehouse import load_raw, query, run_dbt

JIRA = "acme-jira"
READ = {1: datetime(2026, 1, 10, 12), 2: datetime(2026, 1, 20, 12)}
# the columns a rebuild must match (build_settings holds the model's SQL: the same in both)
COMPARED = {
    "intermediate.int_work_items_classified": "work_item_id, issue_key, epic_key, flow_item_type, team, "
                                              "value_stream, board_id, initiative_key, is_flow_item",
    "intermediate.int_jira__incidents": "incident_id, display_key, title, service, severity, started_at",
    "intermediate.int_work_items_hierarchy": "work_item_id, issue_key, summary, hierarchy_level, epic_key, "
                                             "initiative_key",
    "marts.work_items": "*",
}


def issue(number: int, issue_type: str, level: int, parent: tuple[str, str] | None = None) -> RawRecord:
    """SHOP-<number> of `issue_type` at Jira hierarchy `level`, created 01-05 09:00, under `parent` (key, type)."""
    fields = {"summary": f"SHOP-{number}", "issuetype": {"name": issue_type, "hierarchyLevel": level},
              "project": {"id": "SHOP", "key": "SHOP"}, "status": status("1"),
              "labels": [], "components": [], "created": jira_time("2026-01-05T09:00"),
              "updated": jira_time("2026-01-05T09:00")}
    if parent:
        fields["parent"] = {"key": parent[0], "fields": {"issuetype": {
            "name": parent[1], "hierarchyLevel": 2 if parent[1] == "Initiative" else 1}}}
    return RawRecord(record_key=str(number), scope="SHOP", cursor_value=fields["updated"], payload={
        "id": str(number), "key": f"SHOP-{number}", "fields": fields,
        "_throughline": {"storyPointsFields": [], "epicLinkField": None},
    })


LOADS = {
    1: [issue(30, "Initiative", 2), issue(31, "Initiative", 2), issue(10, "Epic", 1, ("SHOP-30", "Initiative")),
        issue(11, "Story", 0, ("SHOP-10", "Epic")), issue(12, "Incident", 0), issue(13, "Story", 0),
        issue(14, "Feature", 1), issue(15, "Story", 0, ("SHOP-14", "Feature"))],
    2: [issue(10, "Epic", 1, ("SHOP-31", "Initiative")), issue(12, "Story", 0), issue(15, "Story", 0, ("SHOP-10", "Epic"))],
}


def load(warehouse: Path, number: int) -> None:
    load_raw(warehouse, [("jira__issues", JIRA, LOADS[number])])
    with duckdb.connect(str(warehouse)) as con:
        # the raw store stamps the real clock, later than any READ: those rows are this load's
        con.execute("UPDATE raw.jira__issues SET extracted_at = ? WHERE extracted_at > ?", [READ[number], READ[2]])


def differences(warehouse: Path, work: Path) -> dict[str, int]:
    return full_rebuild_differences(warehouse, work, SELECT, COMPARED)


def hierarchy(warehouse: Path) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in query(
        warehouse, "SELECT issue_key, summary, hierarchy_level, epic_key, initiative_key "
                   "FROM intermediate.int_work_items_hierarchy")}


def classified(warehouse: Path) -> list[tuple]:
    return query(warehouse, "SELECT issue_key, initiative_key, team, value_stream, board_id "
                            "FROM intermediate.int_work_items_classified ORDER BY issue_key")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    work = tmp_path_factory.mktemp("keyed")
    warehouse = work / "throughline.duckdb"
    load(warehouse, 1)
    run_dbt(["seed"], warehouse, work)
    run_dbt(["run", *SELECT], warehouse, work)
    states = {1: (classified(warehouse), query(warehouse, "SELECT display_key FROM intermediate.int_jira__incidents"))}
    states["hierarchy_1"] = hierarchy(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE intermediate.int_work_items_classified SET board_id = 'marked' WHERE issue_id = '13'")
        con.execute("UPDATE intermediate.int_work_items_hierarchy SET summary = 'marked' WHERE issue_id = '13'")
    load(warehouse, 2)
    run_dbt(["run", *SELECT], warehouse, work)
    states[2] = (classified(warehouse), query(warehouse, "SELECT display_key FROM intermediate.int_jira__incidents"))
    states["hierarchy_2"] = hierarchy(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE intermediate.int_work_items_classified SET board_id = NULL WHERE issue_id = '13'")
        con.execute("UPDATE intermediate.int_work_items_hierarchy SET summary = 'SHOP-13' WHERE issue_id = '13'")
    states["differences_2"] = differences(warehouse, work)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE intermediate.int_work_items_classified SET board_id = 'marked' WHERE issue_id = '13'")
        con.execute("INSERT INTO seeds.work_item_team_mapping VALUES ('*', 'project', 'SHOP', 'Checkout', NULL)")
    run_dbt(["run", *SELECT], warehouse, work)
    states[3] = (classified(warehouse), query(warehouse, "SELECT team, count(*) FROM marts.work_items GROUP BY 1"))
    states["differences_3"] = differences(warehouse, work)
    return states


def test_load_1_places_the_story_under_its_epics_initiative(builds):
    rows, incidents = builds[1]
    assert ("SHOP-11", "SHOP-30", "unassigned", "unassigned", None) in rows
    assert incidents == [("SHOP-12",)]


def test_a_reparented_epic_moves_its_unread_story_and_nothing_else_is_rebuilt(builds):
    rows, incidents = builds[2]
    assert ("SHOP-11", "SHOP-31", "unassigned", "unassigned", None) in rows
    # not read, not a child of anything read: kept as built
    assert ("SHOP-13", None, "unassigned", "unassigned", "marked") in rows
    assert incidents == []
    assert builds["differences_2"] == dict.fromkeys(COMPARED, 0)


def test_the_hierarchy_follows_a_reparented_epic_and_an_epic_left_without_items(builds):
    # (summary, level, epic, initiative)
    before, after = builds["hierarchy_1"], builds["hierarchy_2"]
    assert before["SHOP-11"] == ("SHOP-11", "item", "SHOP-10", "SHOP-30")
    assert before["SHOP-14"] == ("SHOP-14", "epic", "SHOP-14", None)
    assert before["SHOP-15"] == ("SHOP-15", "item", "SHOP-14", None)
    assert after["SHOP-10"] == ("SHOP-10", "epic", "SHOP-10", "SHOP-31")
    assert after["SHOP-11"] == ("SHOP-11", "item", "SHOP-10", "SHOP-31")
    assert after["SHOP-14"] == ("SHOP-14", "item", None, None)
    assert after["SHOP-15"] == ("SHOP-15", "item", "SHOP-10", "SHOP-31")
    assert after["SHOP-30"] == ("SHOP-30", "initiative", None, "SHOP-30")
    assert after["SHOP-13"] == ("marked", "item", None, None)


def test_a_seed_edit_reclassifies_every_item_on_the_next_run(builds):
    rows, teams = builds[3]
    assert {row[0]: row[2:] for row in rows} == {
        f"SHOP-{n}": ("Checkout", "Buy and pay", None) for n in (10, 11, 12, 13, 14, 15, 30, 31)}
    assert teams == [("Checkout", 8)]
    assert builds["differences_3"] == dict.fromkeys(COMPARED, 0)
