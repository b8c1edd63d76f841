"""Azure DevOps work items, a pull request and its deployments through dbt, from hand-made raw objects shaped as
Microsoft's REST 7.1 reference documents them (WorkItem, WorkItemUpdate, GitPullRequest, GitPullRequestCommentThread,
GitCommitRef, Build, EnvironmentInstance, EnvironmentDeploymentExecutionRecord), as the connector stores them.
All times UTC, week of Mon 2026-03-02. Source `ado`, project Data (work_item_team_mapping: team Data, value stream
"Platform services"); repository Data/data-platform (service_teams: Data).

Work items (flow_state_type_mapping azure_devops rows: New new, Active active, Resolved waiting, Closed done,
Removed canceled):
  100 Feature "Lakehouse", Active: a container (not a flow item), the parent of 101 through its
      System.LinkTypes.Hierarchy-Reverse relation.
  101 User Story (tags "tech-debt; Lake" -> debt, 3 points), created Mon 09:00 in New:
      rev 2 Mon 12:00 New -> Active; rev 3 Mon 15:00 tags only (no interval); rev 4 Tue 12:00 Active -> Resolved;
      rev 5 Wed 12:00 Resolved -> Closed. Intervals: New new 3 h | Active active 24 h | Resolved waiting 24 h |
      Closed done. First active Mon 12:00, done Wed 12:00: flow time 48 h, lead time 51 h, efficiency 24/48 = 0.5.
  102 Bug (-> defect), created Mon 10:00 in New; rev 2 Tue 10:00 New -> Removed: New 24 h | Removed canceled.
  103 Bug in "Released" (a customised process's state the seed does not name): done by its name.
Pull request 31 (completed): commits authored 03-01 15:00 and 03-02 08:00; opened 03-02 09:00; the author comments
at 10:00 (not a response); bo comments at 11:00 (first response); cy votes 10 at 13:30 (approved); closed (merged)
at 14:00; bo comments at 15:00 (after the merge). Builds of main: 500 (sha m0), 501 (m1), 502 (m2). Deployment
records: 2:1 production of 500 succeeded 03-02 12:00-12:10 (before the merge); 1:2 staging of 501 14:30-14:40 (not
production); 2:3 production of 501 failed 15:00-15:05; 2:4 production of 501 succeeded 16:00-16:20 (ships #31);
2:5 production of 502 succeeded 03-03 10:00-10:10; 2:6 production of 502 still running since 03-03 11:00.
So: coding 18 h, pickup 2 h, review 3 h, deploy 14:00 -> 16:20 = 7/3 h, lead time 03-01 15:00 -> 03-02 16:20 =
76/3 h.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from connectors.config import parse_config
from connectors.core.raw import RawRecord
from operations.dbt import dbt_vars

from .warehouse import load_raw, query, query_dicts, run_dbt

T = datetime.fromisoformat
CONFIG = parse_config({"sources": [{"type": "azure_devops", "name": "ado", "auth": {"token": "${K}"},
                                    "scope": {"organization": "acme", "projects": ["Data"]}}]}, env={"K": "x"})
WIT = "https://dev.azure.com/acme/0d1f/_apis/wit/workItems"


def ts(day, hour, minute=0):
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00.00Z"


def who(name):
    return {"displayName": name.title(), "id": f"id-{name}", "uniqueName": f"{name}@acme.example"}


def work_item(wid, kind, state, created, changed, rev, tags=None, parent=None, points=None):
    fields = {"System.Id": wid, "System.AreaPath": "Data\\Pipelines", "System.TeamProject": "Data",
              "System.IterationPath": "Data\\Sprint 5", "System.WorkItemType": kind, "System.State": state,
              "System.Reason": "Moved", "System.CreatedDate": created, "System.ChangedDate": changed,
              "System.Title": f"Item {wid}", "System.BoardColumn": state}
    if tags:
        fields["System.Tags"] = tags
    if points is not None:
        fields["Microsoft.VSTS.Scheduling.StoryPoints"] = points
    item = {"id": wid, "rev": rev, "fields": fields, "url": f"{WIT}/{wid}"}
    if parent is not None:
        item["relations"] = [{"rel": "System.LinkTypes.Related", "url": f"{WIT}/7", "attributes": {"name": "Related"}},
                             {"rel": "System.LinkTypes.Hierarchy-Reverse", "url": f"{WIT}/{parent}",
                              "attributes": {"isLocked": False, "name": "Parent"}}]
    return RawRecord(str(wid), item, None, "Data", changed)


def update(wid, rev, at, before=None, state=None, **more):
    fields = {"System.Rev": {"oldValue": rev - 1, "newValue": rev},
              "System.ChangedDate": {"oldValue": ts(1, 0), "newValue": at}}
    if state is not None:
        fields["System.State"] = {"oldValue": before, "newValue": state} if before else {"newValue": state}
        fields["System.BoardColumn"] = {"oldValue": before, "newValue": state} if before else {"newValue": state}
    fields.update(more)
    payload = {"id": rev, "workItemId": wid, "rev": rev, "revisedBy": who("ann"), "revisedDate": "9999-01-01T00:00:00Z",
               "fields": fields, "url": f"{WIT}/{wid}/updates/{rev}"}
    return RawRecord(f"{wid}:{rev}", payload, str(wid), "Data")


REPOSITORY = {"id": "r-guid", "name": "data-platform", "project": {"id": "p-guid", "name": "Data"}}
PULL_REQUEST = {"repository": REPOSITORY, "pullRequestId": 31, "codeReviewId": 31, "status": "completed",
                "createdBy": who("ann"), "creationDate": ts(2, 9), "closedDate": ts(2, 14), "title": "Read once",
                "sourceRefName": "refs/heads/feature/once", "targetRefName": "refs/heads/main",
                "mergeStatus": "succeeded", "isDraft": False, "lastMergeCommit": {"commitId": "m1"},
                "reviewers": [{**who("cy"), "vote": 10, "isRequired": True}]}


def thread(tid, name, at, kind="text", vote=None):
    payload = {"id": tid, "publishedDate": at, "lastUpdatedDate": at, "isDeleted": False, "properties": {},
               "comments": [{"id": 1, "parentCommentId": 0, "author": who(name), "content": "ok", "publishedDate": at,
                             "commentType": kind}], "status": "active", "threadContext": None, "identities": None}
    if vote is not None:
        payload["properties"] = {
            "CodeReviewThreadType": {"$type": "System.String", "$value": "VoteUpdate"},
            "CodeReviewVoteResult": {"$type": "System.String", "$value": str(vote)},
            "CodeReviewVotedByIdentity": {"$type": "System.String", "$value": "1"}}
        payload["identities"] = {"1": who(name)}
        payload["comments"][0].update(author=who("system"), commentType="system", content=f"{name} voted {vote}")
    return RawRecord(f"31:{tid}", payload, "31", "Data")


def commit(sha, at):
    person = {"name": "Ann", "email": "ann@acme.example", "date": at}
    return RawRecord(f"31:{sha}", {"commitId": sha, "author": person, "committer": person, "comment": sha},
                     "31", "Data")


def build(bid, sha, finished):
    return RawRecord(str(bid), {
        "id": bid, "buildNumber": f"20260302.{bid}", "status": "completed", "result": "succeeded",
        "queueTime": finished, "startTime": finished, "finishTime": finished, "sourceBranch": "refs/heads/main",
        "sourceVersion": sha, "definition": {"id": 12, "name": "data-platform-ci"},
        "project": {"id": "p-guid", "name": "Data"}, "reason": "individualCI",
        "repository": {"id": "r-guid", "name": "data-platform", "type": "TfsGit"}}, None, "Data", finished)


def record(env, rid, owner, result, start, end):
    return RawRecord(f"{env}:{rid}", {
        "id": rid, "environmentId": env, "planType": "Build", "stageName": "Deploy", "jobName": "Deploy",
        "stageAttempt": 1, "jobAttempt": 1, "definition": {"id": 12, "name": "data-platform-ci"},
        "owner": {"id": owner, "name": f"20260302.{owner}"}, "result": result, "queueTime": start,
        "startTime": start, "finishTime": end}, str(env), "Data")


RAW = [
    ("azure_devops__work_items", "ado", [
        work_item(100, "Feature", "Active", ts(1, 9), ts(1, 9), 1),
        work_item(101, "User Story", "Closed", ts(2, 9), ts(4, 12), 5, tags="tech-debt; Lake", parent=100, points=3),
        work_item(102, "Bug", "Removed", ts(2, 10), ts(3, 10), 2),
        work_item(103, "Bug", "Released", ts(2, 11), ts(2, 11), 1),
    ]),
    ("azure_devops__work_item_updates", "ado", [
        update(100, 1, ts(1, 9), state="Active"),
        update(101, 1, ts(2, 9), state="New", **{"System.WorkItemType": {"newValue": "User Story"}}),
        update(101, 2, ts(2, 12), "New", "Active"),
        update(101, 3, ts(2, 15), **{"System.Tags": {"oldValue": "Lake", "newValue": "tech-debt; Lake"}}),
        update(101, 4, ts(3, 12), "Active", "Resolved"),
        update(101, 5, ts(4, 12), "Resolved", "Closed"),
        update(102, 1, ts(2, 10), state="New"),
        update(102, 2, ts(3, 10), "New", "Removed"),
        update(103, 1, ts(2, 11), state="Released"),
    ]),
    ("azure_devops__pull_requests", "ado", [RawRecord("31", PULL_REQUEST, None, "Data", ts(2, 14))]),
    ("azure_devops__pull_request_threads", "ado", [
        thread(1, "ann", ts(2, 10)), thread(2, "bo", ts(2, 11)), thread(3, "cy", ts(2, 13, 30), vote=10),
        thread(4, "bo", ts(2, 15))]),
    ("azure_devops__pull_request_commits", "ado", [commit("b2", ts(2, 8)), commit("b1", ts(1, 15))]),
    ("azure_devops__builds", "ado", [build(500, "m0", ts(2, 11, 50)), build(501, "m1", ts(2, 14, 20)),
                                     build(502, "m2", ts(3, 9, 50))]),
    ("azure_devops__environments", "ado", [
        RawRecord("1", {"id": 1, "name": "staging", "createdOn": ts(1, 0)}, None, "Data"),
        RawRecord("2", {"id": 2, "name": "production", "createdOn": ts(1, 0)}, None, "Data")]),
    ("azure_devops__environment_deployment_records", "ado", [
        record(2, 1, 500, "succeeded", ts(2, 12), ts(2, 12, 10)),
        record(1, 2, 501, "succeeded", ts(2, 14, 30), ts(2, 14, 40)),
        record(2, 3, 501, "failed", ts(2, 15), ts(2, 15, 5)),
        record(2, 4, 501, "succeeded", ts(2, 16), ts(2, 16, 20)),
        record(2, 5, 502, "succeeded", ts(3, 10), ts(3, 10, 10)),
        record(2, 6, 502, None, ts(3, 11), None),
    ]),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp("azure_devops")
    warehouse = work_dir / "throughline.duckdb"
    load_raw(warehouse, RAW)
    run_dbt(["build", "--select", "+work_items", "+work_item_state_intervals", "+pull_request_cycle_times",
             "+deployments", "+dora_metrics_weekly", "staging.azure_devops", "--exclude", "test_type:unit",
             "--vars", json.dumps(dbt_vars(CONFIG))], warehouse, work_dir)
    return warehouse


def test_work_item_updates_become_state_intervals(warehouse):
    rows = query(warehouse, "SELECT issue_key, status_name, flow_state, started_at, duration_hours "
                 "FROM marts.work_item_state_intervals WHERE source_instance = 'ado' AND issue_key IN ('101', '102') "
                 "ORDER BY issue_key, state_interval_index")
    assert rows == [
        ("101", "New", "new", T("2026-03-02 09:00"), 3.0),
        ("101", "Active", "active", T("2026-03-02 12:00"), 24.0),
        ("101", "Resolved", "waiting", T("2026-03-03 12:00"), 24.0),
        ("101", "Closed", "done", T("2026-03-04 12:00"), None),
        ("102", "New", "new", T("2026-03-02 10:00"), 24.0),
        ("102", "Removed", "canceled", T("2026-03-03 10:00"), None),
    ]


def test_work_items_have_their_team_type_parent_and_flow_times(warehouse):
    rows = query_dicts(warehouse, "SELECT issue_key, project_key, issue_type, flow_item_type, team, value_stream, "
                       "epic_key, flow_state, first_active_at, completed_at, canceled_at, flow_time_hours, "
                       "lead_time_hours, active_time_hours, waiting_time_hours, flow_efficiency, story_points, "
                       "is_flow_item FROM marts.work_items WHERE source_instance = 'ado' AND issue_key <> '103' "
                       "ORDER BY issue_key")
    common = {"project_key": "Data", "team": "Data", "value_stream": "Platform services"}
    assert rows == [
        {**common, "issue_key": "100", "issue_type": "Feature", "flow_item_type": "feature", "epic_key": None,
         "flow_state": "active", "first_active_at": T("2026-03-01 09:00"), "completed_at": None, "canceled_at": None,
         "flow_time_hours": None, "lead_time_hours": None, "active_time_hours": None, "waiting_time_hours": None,
         "flow_efficiency": None, "story_points": None, "is_flow_item": False},
        {**common, "issue_key": "101", "issue_type": "User Story", "flow_item_type": "debt", "epic_key": "100",
         "flow_state": "done", "first_active_at": T("2026-03-02 12:00"), "completed_at": T("2026-03-04 12:00"),
         "canceled_at": None, "flow_time_hours": 48.0, "lead_time_hours": 51.0, "active_time_hours": 24.0,
         "waiting_time_hours": 24.0, "flow_efficiency": 0.5, "story_points": 3.0, "is_flow_item": True},
        {**common, "issue_key": "102", "issue_type": "Bug", "flow_item_type": "defect", "epic_key": None,
         "flow_state": "canceled", "first_active_at": None, "completed_at": None, "canceled_at": T("2026-03-03 10:00"),
         "flow_time_hours": None, "lead_time_hours": None, "active_time_hours": None, "waiting_time_hours": None,
         "flow_efficiency": None, "story_points": None, "is_flow_item": True},
    ]


def test_states_map_by_the_seed_else_by_their_names(warehouse):
    # 103 sits in "Released", a state of a customised process the seed does not name: the name rules make it done
    assert query(warehouse, "SELECT status_name, status_category_key, flow_state, is_mapped_by_seed "
                 "FROM intermediate.int_azure_devops__status_mapping ORDER BY status_name") == [
        ("Active", "indeterminate", "active", False), ("Closed", "done", "done", False), ("New", "new", "new", False),
        ("Released", "done", "done", False), ("Removed", "done", "canceled", False),
        ("Resolved", "indeterminate", "waiting", False)]


def test_deployment_records_follow_the_deployment_rules(warehouse):
    assert query(warehouse, """
        SELECT deployment_id, service, environment, is_production, status, sha, ref, started_at, finished_at
        FROM intermediate.int_azure_devops__deployments ORDER BY started_at""") == [
        ("2:1", "Data/data-platform", "production", True, "success", "m0", "main", T("2026-03-02 12:00"),
         T("2026-03-02 12:10")),
        ("1:2", "Data/data-platform", "staging", False, "success", "m1", "main", T("2026-03-02 14:30"),
         T("2026-03-02 14:40")),
        ("2:3", "Data/data-platform", "production", True, "failure", "m1", "main", T("2026-03-02 15:00"),
         T("2026-03-02 15:05")),
        ("2:4", "Data/data-platform", "production", True, "success", "m1", "main", T("2026-03-02 16:00"),
         T("2026-03-02 16:20")),
        ("2:5", "Data/data-platform", "production", True, "success", "m2", "main", T("2026-03-03 10:00"),
         T("2026-03-03 10:10")),
        ("2:6", "Data/data-platform", "production", True, "in_progress", "m2", "main", T("2026-03-03 11:00"), None),
    ]
    assert query(warehouse, """SELECT deployment_id, team, status FROM marts.deployments
                               WHERE source = 'azure_devops' AND status <> 'in_progress' ORDER BY started_at""") == [
        ("2:1", "Data", "success"), ("2:3", "Data", "failure"), ("2:4", "Data", "success"), ("2:5", "Data", "success")]


def test_the_pull_request_cycle_time_is_worked_by_hand(warehouse):
    (row,) = query(warehouse, """
        SELECT pull_request_key, code_host, team, first_commit_at, opened_at, first_response_at, approved_at,
               merged_at, first_deployment_key, first_deployed_at, coding_hours, pickup_hours, review_hours,
               round(deploy_hours, 4), round(lead_time_hours, 4)
        FROM marts.pull_request_cycle_times WHERE code_host = 'azure_devops'""")
    assert row == ("ado:Data/data-platform#31", "azure_devops", "Data", T("2026-03-01 15:00"), T("2026-03-02 09:00"),
                   T("2026-03-02 11:00"), T("2026-03-02 13:30"), T("2026-03-02 14:00"), "ado:2:4",
                   T("2026-03-02 16:20"), 18.0, 2.0, 3.0, round(7 / 3, 4), round(76 / 3, 4))
    # the change lead time reaches the DORA marts: one change in the week of 2026-03-02 for team Data
    assert query(warehouse, """
        SELECT period_start, lead_time_changes, round(lead_time_p50_hours, 4) FROM marts.dora_metrics_weekly
        WHERE grouping_level = 'team' AND team = 'Data' AND lead_time_changes > 0""") == [
        (T("2026-03-02").date(), 1, round(76 / 3, 4))]
