"""Incremental flow models: after each new load, `dbt run` (incremental) must equal a full rebuild.

A small Jira history (source acme-jira, project SHOP) in three loads; times UTC, 2026. A build takes in every
read after the newest read of the last complete build (int_incremental_read_marks), and the reads a shard merged
since then brought, however old (raw._merged_reads); no lookback (dbt_project.yml `incremental_lookback_hours`
is 0).

Load 1, read 01-10 12:00:
  SHOP-1 created 01-05 09:00, In Progress 01-06 09:00, Done 01-08 09:00.
  SHOP-2 created 01-05 10:00, In Progress 01-06 10:00, Done 01-09 10:00.
  SHOP-3 created 01-06 08:00, In Progress 01-07 08:00.
  SHOP-5 created 01-05 08:00, In Review 01-06 08:00 (status 10002).
  SHOP-6 created 01-05 12:00, In Progress 01-06 12:00, Done 01-07 12:00.
Load 2, read 01-20 12:00 (after load 1's 01-10 12:00, the mark of the build after load 1):
  SHOP-1 reopened: In Progress 01-15 09:00 (history and issue row re-read).
  SHOP-2 late-arriving histories: flag raised 01-07 10:00, cleared 01-08 10:00, joined sprint 38 01-07 11:00
  (its issue row not re-read).
  SHOP-3 deleted (a tombstone).
  SHOP-4 new: created 01-16 09:00, joined sprint 38 01-16 10:00, In Progress 01-17 09:00, Done 01-19 09:00.
  Status 10002 renamed "Code Review" (the statuses stream re-read): SHOP-5's rows must follow although
  nothing of SHOP-5 was read again.
  -> changed issues 1, 2, 3, 4 (raw reads in the window); items to rebuild also 5 (its built status name is
     stale); not 6.
After load 2's build, a shard of project OPS (read 01-20 11:00, before that build's mark, 01-20 12:00) is merged:
  OPS-7 created 01-20 09:00, In Progress 01-20 10:00.
Load 3, read 01-21 12:00 (after the mark 01-20 12:00: nothing of load 2 is taken in again):
  SHOP-1 changed again: carried over from sprint 38 into 40 01-21 08:00 (the item lists "38" -> "38, 40"),
  Done 01-21 09:00.
  SHOP-2 re-read with its histories written again whole, without the raised flag of 01-07 (history 203) and
  the sprint of 01-07 11:00 (history 205): a history gone from Jira's answer goes from the parsed changelog too,
  so SHOP-2 has no blocked time and no sprint change.
  SHOP-5 done 01-21 10:00: its open interval (in review since 01-06 08:00) closes. It was in progress on every
  earlier day and week before and after, so the days and weeks before the recomputed ones keep their rows
  as built (UNTOUCHED_DAY, UNTOUCHED_WEEK): only the periods where an interval's contribution changed are
  updated.
  -> changed issues and items to rebuild: 1, 2, 5 and OPS-7, merged late with a read of 01-20 11:00: the window
     takes in every read since, load 2's too (3, 4). Without the merge, load 2 is in no later window: built
     again with nothing new read, it rebuilds no item.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from connectors.core.raw import RawRecord, RawStore
from connectors.core.shards import merge_shard

from .test_flow_marts import STATUSES, jira_time
from .warehouse import load_raw, query, query_dicts, run_dbt

JIRA = "acme-jira"
READ = {1: datetime(2026, 1, 10, 12), 2: datetime(2026, 1, 20, 12), 3: datetime(2026, 1, 21, 12)}
# the paused variant: load 3 read four days after load 2, whose full build never ran
PAUSED_READ = {3: datetime(2026, 1, 24, 12)}
SELECT = ["--select", "+work_items", "+work_item_state_intervals", "+flow_load_daily", "+int_signal_status_waits_weekly",
          "+int_work_items_hierarchy", "+int_jira__incidents", "int_incremental_read_marks"]
INCREMENTAL_MODELS = [
    "intermediate.int_jira__issue_status_changes",
    "intermediate.int_jira__issue_flag_changes",
    "intermediate.int_jira__issue_sprint_changes",
    "intermediate.int_work_items_status_intervals",
    "marts.work_item_state_intervals",
    "marts.work_items",
    "intermediate.int_flow_load_daily",
    "marts.flow_load_daily",
    "intermediate.int_signal_status_weeks",
    "intermediate.int_signal_status_waits_weekly",
]
# only SHOP-5 (in review since 01-06) is in progress on 01-12 and in review in the week of 01-05: load 3 closes
# its interval on 01-21, after both
UNTOUCHED_DAY = date(2026, 1, 12)
UNTOUCHED_WEEK = (date(2026, 1, 5), "Code Review")
NAME = {sid: name for sid, (name, _) in STATUSES.items()}
ID = {name: sid for sid, name in NAME.items()}


def status(status_id: str, name: str | None = None) -> dict:
    current = name or NAME[status_id]
    return {"id": status_id, "name": current, "untranslatedName": current,
            "statusCategory": {"key": STATUSES[status_id][1]}}


def issue(number: int, created: str, current: str, updated: str, project: str = "SHOP") -> RawRecord:
    return RawRecord(record_key=str(number), scope=project, cursor_value=jira_time(updated), payload={
        "id": str(number), "key": f"{project}-{number}",
        "fields": {"summary": f"{project}-{number}", "issuetype": {"name": "Story"},
                   "project": {"id": project, "key": project}, "status": status(ID[current]),
                   "labels": [], "components": [], "customfield_10016": 3.0,
                   "created": jira_time(created), "updated": jira_time(updated)},
        "_throughline": {"storyPointsFields": ["customfield_10016"], "epicLinkField": None},
    })


def history(number: int, seq: int, at: str, item: dict) -> RawRecord:
    history_id = f"{number}{seq:02d}"
    return RawRecord(record_key=history_id, parent_key=str(number), cursor_value=jira_time(at),
                     payload={"id": history_id, "created": jira_time(at), "items": [item]})


def moved(number: int, seq: int, at: str, before: str, after: str) -> RawRecord:
    return history(number, seq, at, {"field": "status", "fieldtype": "jira", "fieldId": "status",
                                     "from": ID[before], "fromString": before, "to": ID[after], "toString": after})


def flag(number: int, seq: int, at: str, raised: bool) -> RawRecord:
    return history(number, seq, at, {
        "field": "Flagged", "fieldtype": "custom", "fieldId": "customfield_10021",
        "from": None if raised else "[10019]", "fromString": None if raised else "Impediment",
        "to": "[10019]" if raised else None, "toString": "Impediment" if raised else ""})


def sprint(number: int, seq: int, at: str, before: str, after: str) -> RawRecord:
    return history(number, seq, at, {"field": "Sprint", "fieldtype": "custom", "fieldId": "customfield_10020",
                                     "from": before, "fromString": None, "to": after, "toString": None})


LOADS = {
    1: [
        ("jira__statuses", [RawRecord(record_key=sid, payload=status(sid)) for sid in STATUSES]),
        ("jira__issues", [
            issue(1, "2026-01-05T09:00", "Done", "2026-01-08T09:00"),
            issue(2, "2026-01-05T10:00", "Done", "2026-01-09T10:00"),
            issue(3, "2026-01-06T08:00", "In Progress", "2026-01-07T08:00"),
            issue(5, "2026-01-05T08:00", "In Review", "2026-01-06T08:00"),
            issue(6, "2026-01-05T12:00", "Done", "2026-01-07T12:00"),
        ]),
        ("jira__changelogs", [
            moved(1, 1, "2026-01-06T09:00", "To Do", "In Progress"), moved(1, 2, "2026-01-08T09:00", "In Progress", "Done"),
            moved(2, 1, "2026-01-06T10:00", "To Do", "In Progress"), moved(2, 2, "2026-01-09T10:00", "In Progress", "Done"),
            moved(3, 1, "2026-01-07T08:00", "To Do", "In Progress"),
            moved(5, 1, "2026-01-06T08:00", "To Do", "In Review"),
            moved(6, 1, "2026-01-06T12:00", "To Do", "In Progress"), moved(6, 2, "2026-01-07T12:00", "In Progress", "Done"),
        ]),
    ],
    2: [
        ("jira__statuses", [RawRecord(record_key="10002", payload=status("10002", "Code Review"))]),
        ("jira__issues", [
            issue(1, "2026-01-05T09:00", "In Progress", "2026-01-15T09:00"),
            issue(4, "2026-01-16T09:00", "Done", "2026-01-19T09:00"),
        ]),
        ("jira__changelogs", [
            moved(1, 3, "2026-01-15T09:00", "Done", "In Progress"),
            flag(2, 3, "2026-01-07T10:00", True), flag(2, 4, "2026-01-08T10:00", False),
            sprint(2, 5, "2026-01-07T11:00", "", "38"), sprint(4, 3, "2026-01-16T10:00", "", "38"),
            moved(4, 1, "2026-01-17T09:00", "To Do", "In Progress"), moved(4, 2, "2026-01-19T09:00", "In Progress", "Done"),
        ]),
        ("jira__deleted_issues", [RawRecord(record_key="3", scope="SHOP", payload={
            "id": "3", "key": "SHOP-3", "project": "SHOP", "missingSince": "2026-01-20T12:00:00Z"})]),
    ],
    3: [
        ("jira__issues", [issue(1, "2026-01-05T09:00", "Done", "2026-01-21T09:00"),
                          issue(2, "2026-01-05T10:00", "Done", "2026-01-09T10:00"),
                          issue(5, "2026-01-05T08:00", "Done", "2026-01-21T10:00")]),
        ("jira__changelogs", [
            sprint(1, 5, "2026-01-21T08:00", "38", "38, 40"), moved(1, 4, "2026-01-21T09:00", "In Progress", "Done"),
            moved(5, 2, "2026-01-21T10:00", "In Review", "Done"),
            moved(2, 1, "2026-01-06T10:00", "To Do", "In Progress"), moved(2, 2, "2026-01-09T10:00", "In Progress", "Done"),
            flag(2, 4, "2026-01-08T10:00", False),
        ]),
    ],
}
# A shard of project OPS (pipelines/sharded_assets.py), read before load 2's build took its mark and merged after
LATE_SHARD_READ = datetime(2026, 1, 20, 11)
LATE_SHARD = [
    ("jira__issues", [issue(7, "2026-01-20T09:00", "In Progress", "2026-01-20T10:00", project="OPS")]),
    ("jira__changelogs", [moved(7, 1, "2026-01-20T10:00", "To Do", "In Progress")]),
]
# what a load's re-read no longer holds (the connector replaces a re-read issue's histories whole)
VANISHED = {3: [("jira__changelogs", "203"), ("jira__changelogs", "205")]}


def load(warehouse: Path, number: int, read_at: datetime | None = None) -> None:
    """Write one load through the raw store, stamped as read at ``read_at`` (default READ[number])."""
    load_raw(warehouse, [(table, JIRA, records) for table, records in LOADS[number]])
    with duckdb.connect(str(warehouse)) as con:
        for table, record_key in VANISHED.get(number, []):
            con.execute(f"DELETE FROM raw.{table} WHERE source_instance = ? AND record_key = ?", [JIRA, record_key])
        for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' AND table_name LIKE 'jira%'"
        ).fetchall():
            # the raw store stamps the real clock, later than any READ: those rows are this load's
            con.execute(f"UPDATE raw.{table} SET extracted_at = ? WHERE extracted_at > ?",
                        [read_at or READ[number], max(*READ.values(), *PAUSED_READ.values())])


def merge_late_shard(warehouse: Path, work: Path) -> None:
    """Land LATE_SHARD in a shard of its own, stamped as read at LATE_SHARD_READ, and merge it as the sharded
    mode does."""
    shard = work / "shard_ops.duckdb"
    load_raw(shard, [(table, JIRA, records) for table, records in LATE_SHARD])
    with duckdb.connect(str(shard)) as con:
        for table, _ in LATE_SHARD:
            con.execute(f"UPDATE raw.{table} SET extracted_at = ?", [LATE_SHARD_READ])
    with RawStore(warehouse) as store:
        merge_shard(store, shard, JIRA, "OPS", "issues", [table for table, _ in LATE_SHARD])


def copy_of(warehouse: Path, work: Path) -> Path:
    """`warehouse` copied into `work` under the same file name: the compiled SQL names the catalog."""
    copy = work / warehouse.name
    shutil.copy(warehouse, copy)
    return copy


def full_rebuild_differences(warehouse: Path, work: Path, select: list[str] = SELECT,
                             models: dict[str, str] | None = None) -> dict[str, int]:
    """Copy the warehouse, rebuild it with --full-refresh and count the rows that differ, per model: `models`
    maps each to the columns compared (default: every column of INCREMENTAL_MODELS)."""
    (work / "refresh").mkdir(exist_ok=True)
    copy = copy_of(warehouse, work / "refresh")
    run_dbt(["run", *select, "--full-refresh"], copy, work / "refresh")
    differences = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(f"ATTACH '{copy}' AS refreshed (READ_ONLY)")
        for model, columns in (models or dict.fromkeys(INCREMENTAL_MODELS, "*")).items():
            differences[model] = con.execute(f"""
                SELECT (SELECT count(*) FROM (SELECT {columns} FROM {model}
                                              EXCEPT ALL SELECT {columns} FROM refreshed.{model}))
                     + (SELECT count(*) FROM (SELECT {columns} FROM refreshed.{model}
                                              EXCEPT ALL SELECT {columns} FROM {model}))
            """).fetchall()[0][0]
    shutil.rmtree(copy.parent)
    return differences


def mark_flow_load_day(warehouse: Path, day: date, age_hours: float) -> float:
    """Set the oldest age of `day` to `age_hours` in int_flow_load_daily and the flow_load_daily built from it;
    return the value it had in int_flow_load_daily."""
    with duckdb.connect(str(warehouse)) as con:
        where = "WHERE day = ? AND team = 'unassigned'"
        (before,) = con.execute(f"SELECT oldest_item_age_hours FROM intermediate.int_flow_load_daily {where}", [day]).fetchall()[0]
        for table in ("intermediate.int_flow_load_daily", "marts.flow_load_daily"):
            con.execute(f"UPDATE {table} SET oldest_item_age_hours = ? {where}", [age_hours, day])
    return before


def mark_status_week(warehouse: Path, week: tuple[date, str], item_microseconds: int) -> int:
    """Set the item-microseconds of `week` (its start and status) in int_signal_status_weeks to
    `item_microseconds`; return the value it had."""
    with duckdb.connect(str(warehouse)) as con:
        where = "WHERE week_start = ? AND status_name = ?"
        (before,) = con.execute(f"SELECT item_microseconds FROM intermediate.int_signal_status_weeks {where}",
                                list(week)).fetchall()[0]
        con.execute(f"UPDATE intermediate.int_signal_status_weeks SET item_microseconds = ? {where}",
                    [item_microseconds, *week])
    return before


def periods(warehouse: Path, grain: str) -> list[str]:
    return [row[0] for row in query(warehouse, "SELECT strftime(period_start, '%m-%d') FROM "
                                    "intermediate.int_flow_periods_to_rebuild WHERE grain = ? ORDER BY 1", [grain])]


def issue_ids(warehouse: Path, model: str) -> list[str]:
    return [row[0] for row in query(warehouse, f"SELECT issue_id FROM intermediate.{model} ORDER BY 1")]


def item(warehouse: Path, number: int) -> dict | None:
    rows = query_dicts(warehouse, "SELECT * FROM marts.work_items WHERE issue_key = ?", [f"SHOP-{number}"])
    return rows[0] if rows else None


@pytest.fixture(scope="module")
def first_build(tmp_path_factory) -> Path:
    """The warehouse built from load 1: where both histories below (`builds`, `paused`) start, built once."""
    work = tmp_path_factory.mktemp("load_1")
    warehouse = work / "throughline.duckdb"
    load(warehouse, 1)
    run_dbt(["seed"], warehouse, work)
    run_dbt(["run", *SELECT], warehouse, work)
    return warehouse


@pytest.fixture(scope="module")
def builds(tmp_path_factory, first_build):
    """The warehouse after each incremental run, with what a full rebuild of it would change."""
    work = tmp_path_factory.mktemp("incremental")
    warehouse = copy_of(first_build, work)
    states = {}
    for number in (2, 3):
        if number == 3:
            merge_late_shard(warehouse, work)
        load(warehouse, number)
        if number == 3:  # a period no changed contribution touches keeps its row as built: the run is incremental
            marked = mark_flow_load_day(warehouse, UNTOUCHED_DAY, -1.0)
            marked_week = mark_status_week(warehouse, UNTOUCHED_WEEK, -1)
        run_dbt(["run", *SELECT], warehouse, work)
        if number == 3:
            assert mark_flow_load_day(warehouse, UNTOUCHED_DAY, marked) == -1.0, "int_flow_load_daily day rewritten"
            assert mark_status_week(warehouse, UNTOUCHED_WEEK, marked_week) == -1, "int_signal_status_weeks week rewritten"
            run_dbt(["run", "--select", "int_signal_status_waits_weekly"], warehouse, work)  # built from the mark
        (work / f"after_load_{number}").mkdir()
        snapshot = copy_of(warehouse, work / f"after_load_{number}")
        states[number] = (snapshot, full_rebuild_differences(warehouse, work))
    return states


def test_incremental_runs_equal_a_full_rebuild(builds):
    for number, (_, differences) in builds.items():
        assert differences == {model: 0 for model in INCREMENTAL_MODELS}, f"after load {number}"


def test_only_issues_read_in_the_window_or_stale_are_rebuilt(builds):
    after_2, after_3 = builds[2][0], builds[3][0]
    assert issue_ids(after_2, "int_jira__changed_issues") == ["1", "2", "3", "4"]
    assert issue_ids(after_2, "int_work_items_to_rebuild") == ["1", "2", "3", "4", "5"]  # 5: renamed status; 6 untouched
    # OPS-7 was read (01-20 11:00) before load 2's mark (01-20 12:00) but merged after its build: the window
    # takes in every read since it, so SHOP-3's tombstone and SHOP-4 of load 2 too; 5 is current now (rebuilt
    # with the new name) and re-read
    assert issue_ids(after_3, "int_jira__changed_issues") == ["1", "2", "3", "4", "5", "7"]
    assert issue_ids(after_3, "int_work_items_to_rebuild") == ["1", "2", "3", "4", "5", "7"]


@pytest.fixture(scope="module")
def nothing_new(tmp_path_factory, builds) -> Path:
    """Load 2's warehouse built once more with nothing read since: the night after a load."""
    work = tmp_path_factory.mktemp("nothing_new")
    warehouse = copy_of(builds[2][0], work)
    run_dbt(["run", *SELECT], warehouse, work)
    return warehouse


def test_the_build_after_a_load_takes_nothing_of_it_again(nothing_new):
    assert issue_ids(nothing_new, "int_jira__changed_issues") == []
    assert issue_ids(nothing_new, "int_work_items_to_rebuild") == []
    # the periods from the last one built on, as after every build (the as-of time may have moved)
    assert periods(nothing_new, "day") == ["01-20"]
    assert periods(nothing_new, "week") == ["01-12", "01-19"]


def test_reads_merged_after_a_build_are_taken_in_however_old(builds):
    warehouse = builds[3][0]
    assert query(warehouse, "SELECT raw_table, scope, strftime(earliest_read, '%m-%d %H') FROM raw._merged_reads "
                            "ORDER BY 1") == [("jira__changelogs", "OPS", "01-20 11"),
                                              ("jira__issues", "OPS", "01-20 11")]
    # in progress since 01-20 10:00, still open
    assert query(warehouse, "SELECT is_done, strftime(first_active_at, '%m-%d %H') FROM marts.work_items "
                            "WHERE issue_key = 'OPS-7'") == [(False, "01-20 10")]


def test_reopened_item_late_flags_deleted_and_new_items_after_load_2(builds):
    warehouse = builds[2][0]
    reopened = item(warehouse, 1)
    assert (reopened["is_done"], reopened["completed_at"], reopened["reopen_count"]) == (False, None, 1)
    late = item(warehouse, 2)
    # flow 01-06 10:00 -> 01-09 10:00 = 72 h; flagged 01-07 10:00 -> 01-08 10:00 = 24 h blocked, not active
    assert (late["flow_time_hours"], late["blocked_time_hours"], late["active_time_hours"]) == (72.0, 24.0, 48.0)
    assert item(warehouse, 3) is None
    assert query(warehouse, "SELECT count(*) FROM marts.work_item_state_intervals WHERE issue_id = '3'") == [(0,)]
    new = item(warehouse, 4)
    # flow 01-17 09:00 -> 01-19 09:00 = 48 h; lead 01-16 09:00 -> 01-19 09:00 = 72 h
    assert (new["flow_time_hours"], new["lead_time_hours"]) == (48.0, 72.0)
    assert query(warehouse, "SELECT status_name FROM marts.work_item_state_intervals "
                            "WHERE issue_id = '5' AND status_id = '10002'") == [("Code Review",)]
    # the late history and the new issue's, parsed from the window's histories only
    assert query(warehouse, "SELECT issue_id, history_id, sprint_id, change "
                            "FROM intermediate.int_jira__issue_sprint_changes ORDER BY 1, 2") == [("2", "205", "38", "added"), ("4", "403", "38", "added")]


def test_a_history_gone_from_a_reread_issue_goes_from_the_marts_after_load_3(builds):
    warehouse = builds[3][0]
    assert query(warehouse, "SELECT history_id FROM intermediate.int_jira__issue_flag_changes "
                            "WHERE issue_id = '2' ORDER BY 1") == [("204",)]
    assert query(warehouse, "SELECT issue_id, history_id, sprint_id, change "
                            "FROM intermediate.int_jira__issue_sprint_changes ORDER BY 1, 2") == [("1", "105", "40", "added"), ("4", "403", "38", "added")]
    # flow 01-06 10:00 -> 01-09 10:00 = 72 h, all of it active now that the flag of 01-07 is gone
    late = item(warehouse, 2)
    assert (late["flow_time_hours"], late["blocked_time_hours"], late["active_time_hours"]) == (72.0, 0.0, 72.0)


def test_item_changed_again_after_load_3(builds):
    done_again = item(builds[3][0], 1)
    assert (done_again["is_done"], done_again["completed_at"], done_again["reopen_count"]) == (
        True, datetime(2026, 1, 21, 9), 1)
    # first active 01-06 09:00 -> done 01-21 09:00 = 360 h; active 01-06 09 -> 01-08 09 (48 h)
    # + 01-15 09 -> 01-21 09 (144 h) = 192 h
    assert (done_again["flow_time_hours"], done_again["active_time_hours"]) == (360.0, 192.0)


def test_only_the_periods_after_the_last_build_are_recomputed_after_load_3(builds):
    warehouse = builds[3][0]
    # the rebuilt items' waiting/active intervals as load 2's build had them (read before the marts replaced them):
    # SHOP-1 01-06 09:00 -> 01-08 09:00 and 01-15 09:00 -> open; SHOP-2 01-06 10:00 -> 01-09 10:00 in three
    # pieces (flag raised 01-07 10:00, cleared 01-08 10:00); SHOP-4 01-17 09:00 -> 01-19 09:00; SHOP-5 01-06 08:00 ->
    # open; SHOP-3 is gone
    assert query(warehouse, "SELECT work_item_id, strftime(started_at, '%m-%d %H'), strftime(ended_at, '%m-%d %H') "
                            "FROM intermediate.int_work_items_replaced_intervals ORDER BY 1, 2") == [
        ("acme-jira:1", "01-06 09", "01-08 09"), ("acme-jira:1", "01-15 09", None),
        ("acme-jira:2", "01-06 10", "01-07 10"), ("acme-jira:2", "01-07 10", "01-08 10"),
        ("acme-jira:2", "01-08 10", "01-09 10"), ("acme-jira:4", "01-17 09", "01-19 09"),
        ("acme-jira:5", "01-06 08", None)]
    # and as load 3's build wrote them (read once, after work_items): SHOP-1 closed at 01-21 09:00, SHOP-2 in two
    # pieces now that the flag raised 01-07 10:00 is gone (its one flag history left, 204 of 01-08 10:00, still
    # cuts), SHOP-5 closed at 01-21 10:00, SHOP-3 none; the first step into work in progress from work_items
    assert query(warehouse, "SELECT work_item_id, strftime(started_at, '%m-%d %H'), strftime(ended_at, '%m-%d %H'), "
                            "strftime(wip_started_at, '%m-%d %H') FROM intermediate.int_work_items_rebuilt_intervals "
                            "WHERE work_item_id IN ('acme-jira:1', 'acme-jira:2', 'acme-jira:3', 'acme-jira:5') "
                            "ORDER BY 1, 2") == [
        ("acme-jira:1", "01-06 09", "01-08 09", "01-06 09"), ("acme-jira:1", "01-15 09", "01-21 09", "01-06 09"),
        ("acme-jira:2", "01-06 10", "01-08 10", "01-06 10"), ("acme-jira:2", "01-08 10", "01-09 10", "01-06 10"),
        ("acme-jira:5", "01-06 08", "01-21 10", "01-06 08")]
    # only the periods from load 2's last day (01-20) and last complete week (01-12) on are recomputed in full;
    # the open intervals closed by load 3 (SHOP-1's from 01-15 09:00 at 01-21 09:00, SHOP-5's from 01-06 08:00 at
    # 01-21 10:00) count the same as before on every earlier day and week: they change only these
    assert periods(warehouse, "day") == ["01-20", "01-21"]
    assert periods(warehouse, "week") == ["01-12", "01-19"]


def marks(warehouse: Path) -> list[tuple]:
    return query(warehouse, "SELECT source_type, source_instance, strftime(newest_read, '%m-%d %H') "
                            "FROM intermediate.int_incremental_read_marks")


@pytest.fixture(scope="module")
def paused(tmp_path_factory, first_build):
    """Load 2's build is cut short (only stg_jira__issues and the marks are selected), and load 3 is read on
    01-24 12:00: the mark is still load 1's."""
    work = tmp_path_factory.mktemp("paused")
    warehouse = copy_of(first_build, work)
    after_1 = marks(warehouse)
    load(warehouse, 2)
    run_dbt(["run", "--select", "+stg_jira__issues", "int_incremental_read_marks"], warehouse, work)
    after_partial = marks(warehouse)
    load(warehouse, 3, PAUSED_READ[3])
    run_dbt(["run", *SELECT], warehouse, work)
    return warehouse, after_1, after_partial, marks(warehouse), full_rebuild_differences(warehouse, work)


def test_a_build_that_did_not_complete_moves_no_mark(paused):
    _, after_1, after_partial, after_3, _ = paused
    assert after_1 == after_partial == [("jira", JIRA, "01-10 12")]
    assert after_3 == [("jira", JIRA, "01-24 12")]


def test_reads_since_the_last_complete_build_are_taken_in_after_a_pause(paused):
    warehouse, *_, differences = paused
    # load 2 (read 01-20 12:00) is after the mark of 01-10 12:00 though before 01-21 12:00 (load 3 less 72 h)
    assert issue_ids(warehouse, "int_jira__changed_issues") == ["1", "2", "3", "4", "5"]
    assert differences == {model: 0 for model in INCREMENTAL_MODELS}
    # SHOP-4, new in load 2: flow 01-17 09:00 -> 01-19 09:00 = 48 h; lead 01-16 09:00 -> 01-19 09:00 = 72 h
    new = item(warehouse, 4)
    assert (new["flow_time_hours"], new["lead_time_hours"]) == (48.0, 72.0)
    # SHOP-2's late flag of load 2 (01-07 10:00 -> 01-08 10:00) was re-read without history 203 in load 3
    late = item(warehouse, 2)
    assert (late["flow_time_hours"], late["blocked_time_hours"], late["active_time_hours"]) == (72.0, 0.0, 72.0)
    # SHOP-1 done again 01-21 09:00: active 01-06 09 -> 01-08 09 (48 h) + 01-15 09 -> 01-21 09 (144 h)
    done_again = item(warehouse, 1)
    assert (done_again["completed_at"], done_again["active_time_hours"]) == (datetime(2026, 1, 21, 9), 192.0)
    assert item(warehouse, 3) is None
