"""Contract between Microsoft's documented Azure DevOps REST 7.1 shapes, the simulator (simulator/azure_devops_api.py),
the connector and the staging views: the documented objects below (abridged from the reference's sample responses:
WorkItem, WorkItemUpdate, WIQL WorkItemQueryResult, GitPullRequest, GitPullRequestCommentThread with a vote,
Build, EnvironmentDeploymentExecutionRecord) carry the keys the connector reads (key, cursor, ids for the
children) and every JSON path the staging views read; the simulator's objects carry the same keys as the
documented ones; the simulator keeps the wire rules the connector relies on.

There are no recorded Azure DevOps answers in ../shared/fixtures (DevLake's e2e data has none).
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import pytest
import requests

from connectors import azure_devops
from connectors.config import DBT_PROJECT_DIR
from connectors.core.raw import RawStore
from connectors.kit import source_config
from simulator.model import Org
from simulator.server import SimulatorServer
from tests.contract.test_pagerduty_shapes import has_path, payload_paths, payloads

STAGING = DBT_PROJECT_DIR / "models" / "staging" / "azure_devops"
AUTH = {"Authorization": "Basic " + base64.b64encode(b":pat").decode()}
IDENTITY = {"displayName": "Jamal Hartnett", "url": "https://vssps.dev.azure.com/fabrikam/_apis/Identities/d291b0c4",
            "id": "d291b0c4-a05c-4ea6-8df1-4b41d5f39eff", "uniqueName": "fabrikamfiber4@hotmail.com",
            "imageUrl": "https://dev.azure.com/fabrikam/_api/_common/identityImage?id=d291b0c4"}
DOCUMENTED = {
    "work_items": {
        "id": 297, "rev": 1, "url": "https://dev.azure.com/fabrikam/_apis/wit/workItems/297",
        "fields": {"System.Id": 297, "System.AreaPath": "Fabrikam-Fiber-Git",
                   "System.TeamProject": "Fabrikam-Fiber-Git",
                   "System.IterationPath": "Fabrikam-Fiber-Git", "System.WorkItemType": "Product Backlog Item",
                   "System.State": "New", "System.Reason": "New backlog item",
                   "System.CreatedDate": "2014-12-29T20:49:20.77Z",
                   "System.ChangedDate": "2014-12-29T20:49:20.77Z",
                   "System.Title": "Customer can sign in using their Microsoft Account",
                   "Microsoft.VSTS.Scheduling.Effort": 8},
        "relations": [{"rel": "System.LinkTypes.Hierarchy-Reverse",
                       "url": "https://dev.azure.com/fabrikam/_apis/wit/workItems/298",
                       "attributes": {"isLocked": False}}],
        "_links": {"html": {"href": "https://dev.azure.com/fabrikam/web/wi.aspx?pcguid=d81542e4&id=297"}},
    },
    "work_item_updates": {
        "id": 1, "workItemId": 1, "rev": 1, "revisedBy": IDENTITY, "revisedDate": "2017-09-04T02:08:16.6Z",
        "fields": {"System.Rev": {"newValue": 1}, "System.State": {"newValue": "New"},
                   "System.ChangedDate": {"newValue": "2017-09-04T02:08:16.6Z"}},
        "url": "https://dev.azure.com/fabrikam/_apis/wit/workItems/1/updates/1",
    },
    "pull_requests": {
        "repository": {"id": "3411ebc1-d5aa-464f-9615-0b527bc66719", "name": "2016_10_31",
                       "url": "https://dev.azure.com/fabrikam/_apis/git/repositories/3411ebc1",
                       "project": {"id": "a7573007-bbb3-4341-b726-0c4148a07853", "name": "2016_10_31",
                                   "state": "unchanged"}},
        "pullRequestId": 22, "codeReviewId": 22, "status": "completed", "createdBy": IDENTITY,
        "creationDate": "2016-11-01T16:30:31.6655471Z", "closedDate": "2016-11-01T17:02:43.28Z",
        "title": "A new feature",
        "description": "Adding a new feature", "sourceRefName": "refs/heads/npaulk/my_work",
        "targetRefName": "refs/heads/new_feature", "mergeStatus": "succeeded", "isDraft": False,
        "mergeId": "f5fc8381-3fb2-49fe-8a0d-27dcc2d6ef82",
        "lastMergeSourceCommit": {"commitId": "b60280bc6e62e2f880f1b63c1e24987664d3bda3"},
        "lastMergeCommit": {"commitId": "a9c0ab6e95fa84d2b63c3ea4c0fa6ad2a6a7c5c1"},
        "reviewers": [{**IDENTITY, "reviewerUrl": IDENTITY["url"], "vote": 10}],
        "url": "https://dev.azure.com/fabrikam/_apis/git/repositories/3411ebc1/pullRequests/22",
    },
    "pull_request_threads": {
        "id": 148, "publishedDate": "2016-11-01T16:30:50.083Z", "lastUpdatedDate": "2016-11-01T16:30:50.083Z",
        "comments": [{"id": 1, "parentCommentId": 0, "author": IDENTITY, "content": "Jamal Hartnett voted 10",
                      "publishedDate": "2016-11-01T16:30:50.083Z", "lastUpdatedDate": "2016-11-01T16:30:50.083Z",
                      "lastContentUpdatedDate": "2016-11-01T16:30:50.083Z", "commentType": "system", "usersLiked": []}],
        "status": "unknown", "threadContext": None, "isDeleted": False, "_links": {},
        "properties": {"CodeReviewThreadType": {"$type": "System.String", "$value": "VoteUpdate"},
                       "CodeReviewVoteResult": {"$type": "System.String", "$value": "10"},
                       "CodeReviewVotedByIdentity": {"$type": "System.String", "$value": "1"}},
        "identities": {"1": IDENTITY},
    },
    "pull_request_commits": {
        "commitId": "b60280bc6e62e2f880f1b63c1e24987664d3bda3",
        "author": {"name": "Norman Paulk", "email": "Fabrikamfiber16@hotmail.com", "date": "2016-11-01T16:29:52Z"},
        "committer": {"name": "Norman Paulk", "email": "Fabrikamfiber16@hotmail.com", "date": "2016-11-01T16:29:52Z"},
        "comment": "Updated the readme",
        "url": "https://dev.azure.com/fabrikam/_apis/git/repositories/3411ebc1/commits/b6"},
    "builds": {
        "_links": {"web": {"href": "https://dev.azure.com/fabrikam/Fabrikam-Fiber/_build/results?buildId=360"}},
        "id": 360, "buildNumber": "20160127.1", "status": "completed", "result": "succeeded",
        "queueTime": "2016-01-27T17:15:30.503Z", "startTime": "2016-01-27T17:15:33.94Z",
        "finishTime": "2016-01-27T17:16:13.457Z", "url": "https://dev.azure.com/fabrikam/_apis/build/Builds/360",
        "definition": {"id": 29, "name": "myFavoriteDefinition", "type": "build"},
        "project": {"id": "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c", "name": "Fabrikam-Fiber"},
        "sourceBranch": "refs/heads/master", "sourceVersion": "b57cc46c95f5a88ff96bc7e4db9e2e45e1f5e7ae",
        "priority": "normal", "reason": "manual", "requestedFor": IDENTITY,
        "repository": {"id": "2b39d5e7-1d67-4b8d-8d2d-2a2c3c2f47d1", "type": "TfsGit", "name": "Fabrikam-Fiber"},
    },
    "teams": {"id": "564e8204-a90b-4432-883b-d4363c6125ca", "name": "Quality assurance",
              "url": "https://dev.azure.com/fabrikam/_apis/projects/eb6e4656/teams/564e8204",
              "description": "Testing staff", "identityUrl": "https://vssps.dev.azure.com/fabrikam/_apis/Identities/564e8204"},
    "iterations": {"id": "a589a806-bf11-4d4f-a031-c19813331553", "name": "Sprint 2",
                   "path": "Fabrikam-Fiber\\Release 1\\Sprint 2",
                   "attributes": {"startDate": "2015-12-07T00:00:00Z", "finishDate": "2015-12-18T00:00:00Z",
                                  "timeFrame": "current"},
                   "url": "https://dev.azure.com/fabrikam/_apis/work/teamsettings/iterations/a589a806"},
    "environments": {"id": 1, "name": "production", "description": "", "createdBy": IDENTITY,
                     "createdOn": "2019-11-14T09:00:00.00Z", "lastModifiedBy": IDENTITY,
                     "lastModifiedOn": "2019-11-14T09:00:00.00Z", "project": {"id": "6ce954b1",
                                                                              "name": "Fabrikam-Fiber"}},
    "environment_deployment_records": {
        "id": 7, "requestIdentifier": "abc", "environmentId": 1, "serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7",
        "scopeId": "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c", "resourceId": 0, "planType": "Build",
        "planId": "2c2b3bbd-5b0c-4c16-b2a7-1b3c76e3a0f1", "stageName": "Deploy", "jobName": "Deploy",
        "stageAttempt": 1, "jobAttempt": 1, "definition": {"id": 29, "name": "myFavoriteDefinition"},
        "owner": {"id": 360, "name": "20160127.1"}, "result": "succeeded", "queueTime": "2016-01-27T17:16:20.1Z",
        "startTime": "2016-01-27T17:16:21.2Z", "finishTime": "2016-01-27T17:17:00.3Z"},
}
# what staging reads by a field's reference name (macros/azure_devops.sql) rather than a JSON path
FIELDS = re.compile(r"ado_(?:field|change)\('([\w.]+)'")


def staging_paths(stream: str) -> tuple[set[str], set[str]]:
    sql = (STAGING / f"stg_azure_devops__{stream}.sql").read_text()
    return payload_paths(STAGING / f"stg_azure_devops__{stream}.sql"), set(FIELDS.findall(sql))


@pytest.fixture(scope="module")
def sim():
    org = Org()
    org.history_window_ms = (int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1000),
                             int(datetime(2026, 11, 30, tzinfo=UTC).timestamp() * 1000))
    with SimulatorServer(org, mount_options={"azure_devops": {"tokens": {"pat"}}}) as server:
        yield server


@pytest.fixture(scope="module")
def stored(sim, tmp_path_factory):
    source = source_config({"type": "azure_devops", "name": "ado", "base_url": f"{sim.url}/azure_devops",
                            "auth": {"token": "${PAT}"}, "scope": {"organization": "acme", "projects": ["Data"]},
                            "options": {"backoff_seconds": 0}}, env={"PAT": "pat"})
    with RawStore(tmp_path_factory.mktemp("ado-contract") / "w.duckdb") as store:
        for group in azure_devops.SOURCE.groups:
            azure_devops.extract(group, source, store)
        yield {stream: payloads(store, f"azure_devops__{stream}") for stream in DOCUMENTED}


@pytest.mark.parametrize("stream", sorted(DOCUMENTED))
def test_the_documented_objects_have_every_path_staging_reads(stream):
    paths, fields = staging_paths(stream)
    documented = DOCUMENTED[stream]
    # the documented samples show a newer field set than each object carries; what they leave out is optional
    optional = {"work_items": {"_links.html.href"}, "pull_requests": set(), "builds": set()}.get(stream, set())
    assert not [p for p in sorted(paths - optional) if not has_path(documented, p)], stream
    if stream == "work_items":
        assert {"System.State", "System.WorkItemType", "System.ChangedDate", "System.CreatedDate"} <= fields
        assert all(f in documented["fields"] for f in ("System.State", "System.WorkItemType", "System.ChangedDate"))


def test_the_connector_reads_keys_and_cursors_of_the_documented_objects():
    item = DOCUMENTED["work_items"]
    assert (azure_devops.WORK_ITEMS.key_of(item), azure_devops.WORK_ITEMS.cursor_of(item)) == (
        "297", "2014-12-29T20:49:20.77Z")
    assert azure_devops.PULL_REQUEST_COMMITS.key_of(DOCUMENTED["pull_request_commits"]).startswith("b60280bc")
    assert azure_devops.ACTIVE_PULL_REQUESTS.key_of(DOCUMENTED["pull_requests"]) == "22"
    assert azure_devops.CLOSED_PULL_REQUESTS.cursor_of(DOCUMENTED["pull_requests"]) == "2016-11-01T17:02:43.28Z"
    assert azure_devops.BUILDS.cursor_of(DOCUMENTED["builds"]) == "2016-01-27T17:16:13.457Z"
    children = azure_devops.pull_request_children(azure_devops_source(), "P", frozenset())
    assert children[0].path_vars(DOCUMENTED["pull_requests"]) == {
        "organization": "acme", "project": "P", "repo": "3411ebc1-d5aa-464f-9615-0b527bc66719", "id": 22}


def azure_devops_source():
    return source_config({"type": "azure_devops", "name": "ado", "auth": {"token": "${PAT}"},
                          "scope": {"organization": "acme", "projects": ["P"]}}, env={"PAT": "x"})


@pytest.mark.parametrize("stream", sorted(DOCUMENTED))
def test_the_simulator_answers_the_documented_shapes(stored, stream):
    records = stored[stream]
    assert records, stream
    documented = DOCUMENTED[stream]
    # every key of the documented object that the simulator's object could have in its state (a work item
    # without links has no `relations`, even with $expand=relations)
    later = {"closedDate", "lastMergeCommit", "finishTime", "result", "relations"}
    for record in records:
        missing = [k for k in documented if k not in record and k not in later | {"_links"}]
        assert not missing, f"{stream}: {missing}"
        paths, _ = staging_paths(stream)
        open_or_abandoned = stream == "pull_requests" and record.get("status") != "completed"
        wanted = {p for p in paths if not (open_or_abandoned and p.split(".")[0] in later)
                  and not (p == "relations" and "relations" not in record)}
        assert not [p for p in sorted(wanted) if not has_path(record, p)], stream


def test_the_simulator_keeps_the_wire_rules(sim):
    base = f"{sim.url}/azure_devops/acme/Data/_apis"
    assert requests.get(f"{base}/build/builds", headers=AUTH, timeout=10).status_code == 400  # api-version
    too_many = requests.post(f"{base}/wit/workitemsbatch", params={"api-version": "7.1"}, headers=AUTH, timeout=10,
                             json={"ids": list(range(1, 202))})
    assert too_many.status_code == 400 and "VS403474" in too_many.json()["message"]
    wiql = requests.post(f"{base}/wit/wiql", params={"api-version": "7.1", "$top": 3}, headers=AUTH, timeout=10,
                         json={"query": "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'Data'"}).json()
    assert set(wiql) >= {"queryType", "queryResultType", "asOf", "columns", "workItems"} and len(wiql["workItems"]) == 3
    assert set(wiql["workItems"][0]) == {"id", "url"}
    paged = requests.get(f"{base}/build/builds", params={"api-version": "7.1", "$top": 2}, headers=AUTH, timeout=10)
    assert len(paged.json()["value"]) == 2 and paged.headers["x-ms-continuationtoken"]
    sim.faults.add(r"/build/builds", "rate_limit", times=1, retry_after=5)
    limited = requests.get(f"{base}/build/builds", params={"api-version": "7.1"}, headers=AUTH, timeout=10)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "5"
    assert limited.headers["X-RateLimit-Resource"] == "Core" and limited.headers["X-RateLimit-Remaining"] == "0"
    assert requests.get(f"{base}/build/builds", params={"api-version": "7.1"}, timeout=10).status_code == 401
