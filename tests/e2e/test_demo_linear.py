"""The demo's Mobile team plans in Linear (simulator/linear_api.py): its issues reach work_items and the flow marts
beside the Jira teams', through the Linear connector, staging and the tracker unions.

The Mobile world (60 issues, seed 7) is laid out relative to the history window, so it is the same for any as-of
day: every 9th issue (6) is canceled from Todo, MOB-60 is not started at the anchor and MOB-59 in progress;
the other 52 are done.
"""

from __future__ import annotations

import duckdb


def rows(warehouse, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_linear_teams_issues_are_work_items_of_team_mobile(demo_warehouse):
    assert rows(demo_warehouse, "SELECT team, value_stream, flow_state, count(*) FROM marts.work_items "
                "WHERE source_instance = 'demo-linear' GROUP BY ALL ORDER BY ALL") == [
        ("Mobile", "Buy and pay", "active", 1), ("Mobile", "Buy and pay", "canceled", 6),
        ("Mobile", "Buy and pay", "done", 52), ("Mobile", "Buy and pay", "new", 1)]
    # every done item has a flow time from its first In Progress to its Done
    assert rows(demo_warehouse, "SELECT count(*) FROM marts.work_items WHERE source_instance = 'demo-linear' "
                "AND is_done AND (flow_time_hours IS NULL OR flow_time_hours <= 0)") == [(0,)]
    (weeks,) = rows(demo_warehouse, "SELECT count(*) FROM marts.flow_metrics_weekly WHERE team = 'Mobile'")[0]
    assert weeks > 0


def test_the_mobile_teams_projects_are_epics_of_their_initiative(demo_warehouse):
    # issue n is in project n % 2 ("Offline cart" even, "Wallet payments" odd) unless n is a multiple of 3: 20 each;
    # both serve the initiative "Mobile checkout parity"; "Offline cart" is completed
    assert rows(demo_warehouse, "SELECT summary, is_epic_loaded, team, items, completed_at IS NOT NULL "
                "FROM marts.epics WHERE source_instance = 'demo-linear' ORDER BY summary") == [
        ("Offline cart", True, "Mobile", 20, True), ("Wallet payments", True, "Mobile", 20, False)]
    assert rows(demo_warehouse, "SELECT summary, team, epics, epics_completed, items FROM marts.initiatives "
                "WHERE source_instance = 'demo-linear'") == [("Mobile checkout parity", "Mobile", 2, 1, 40)]
