"""The demo's Data team works in Azure DevOps (simulator/azure_devops_api.py): its Boards work items reach work_items
and the flow marts, its Repos pull requests the pull-request cycle times, its Pipelines environment deployment
records the deployments and the DORA marts, beside the other teams', through the azure_devops connector, staging and
the tracker, change-request and deployment unions.

The Data world (seed 7) is laid out relative to the history window, so it is the same for any as-of day: 42 work
items (the Epic "Data platform" and its Feature "Lakehouse migration" still Active, item 40 Active at the anchor, 3
Removed, 36 Closed; the Feature's items are the Tasks 10, 20, 30 and 40 and every third item, 3, 6, ... 39: 16,
of which 40 is Active and 39 Removed); 24 pull
requests, 21 completed (one abandoned, the newest active); 21 builds of the completed ones, every seventh failed
(3), and for each of the 18 successful builds a staging and a production deployment, the fourth production one
failed.
"""

from __future__ import annotations

from tests.e2e.test_demo_linear import rows

SOURCE = "demo-azure-devops"


def test_the_data_teams_work_items_are_in_the_flow_marts(demo_warehouse):
    assert rows(demo_warehouse, "SELECT team, value_stream, flow_state, count(*) FROM marts.work_items "
                f"WHERE source_instance = '{SOURCE}' GROUP BY ALL ORDER BY ALL") == [
        ("Data", "Platform services", "active", 3), ("Data", "Platform services", "canceled", 3),
        ("Data", "Platform services", "done", 36)]
    # every done flow item has a flow time from its first Active to its Closed
    assert rows(demo_warehouse, f"SELECT count(*) FROM marts.work_items WHERE source_instance = '{SOURCE}' "
                "AND is_done AND (flow_time_hours IS NULL OR flow_time_hours <= 0)") == [(0,)]
    (weeks,) = rows(demo_warehouse, "SELECT count(*) FROM marts.flow_metrics_weekly WHERE team = 'Data'")[0]
    assert weeks > 0


def test_the_data_teams_pull_requests_and_deployments_reach_the_dora_marts(demo_warehouse):
    # 21 completed pull requests; the last merged one has no production deployment after it
    assert rows(demo_warehouse, "SELECT team, count(*), count(first_deployment_key), min(lead_time_hours) > 0 "
                "FROM marts.pull_request_cycle_times WHERE code_host = 'azure_devops' GROUP BY team") == [
        ("Data", 21, 20, True)]
    assert rows(demo_warehouse, "SELECT team, environment, status, count(*) FROM marts.deployments "
                "WHERE source = 'azure_devops' GROUP BY ALL ORDER BY ALL") == [
        ("Data", "production", "failure", 1), ("Data", "production", "success", 17)]
    (deployments,) = rows(demo_warehouse, "SELECT sum(deployments) FROM marts.dora_metrics_weekly "
                          "WHERE grouping_level = 'team' AND team = 'Data'")[0]
    assert deployments == 17  # successful production ones


def test_the_data_teams_iterations_are_sprints_with_their_carry_overs(demo_warehouse):
    # two-week iterations; an unfinished item is carried over at each sprint review (the last day, 16:00): it stays
    # in the sprint it left (never a removal) and is committed in the next; one iteration is current
    sprints = rows(demo_warehouse, "SELECT sprint_state, count(*), sum(removed_items), "
                   "count(*) FILTER (WHERE completed_committed_items < committed_items) FROM marts.sprint_predictability "
                   f"WHERE source_instance = '{SOURCE}' GROUP BY ALL ORDER BY ALL")
    assert [(state, removed) for state, _, removed, _ in sprints] == [("active", 0), ("closed", 0)]
    assert sprints[0][1] == 1 and sprints[1][1] >= 12 and sprints[1][3] > 0
    carried = rows(demo_warehouse, "SELECT count(*) FROM intermediate.int_azure_devops__work_item_iteration_changes "
                   f"WHERE source_instance = '{SOURCE}' AND change = 'removed'")
    assert carried == [(0,)]


def test_the_data_teams_feature_is_an_epic_of_its_epic(demo_warehouse):
    # Azure Boards' backlog levels: the Feature is an epic of the Epic above it (its parent link), the 16 items under
    # it its items (40 still Active, 39 Removed: 14 done); the Epic is an initiative, loaded, with its one Feature
    assert rows(demo_warehouse, "SELECT epic_key, summary, initiative_key, team, flow_state, items, items_done "
                f"FROM marts.epics WHERE source_instance = '{SOURCE}'") == [
        ("1000", "Lakehouse migration", "999", "Data", "active", 16, 14)]
    assert rows(demo_warehouse, "SELECT initiative_key, summary, is_initiative_loaded, team, flow_state, epics, "
                f"epics_completed, items FROM marts.initiatives WHERE source_instance = '{SOURCE}'") == [
        ("999", "Data platform", True, "Data", "active", 1, 0, 16)]
