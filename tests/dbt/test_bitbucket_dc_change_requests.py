"""A Bitbucket Data Center pull request through dbt, from hand-made raw objects shaped as Data Center's REST
1.0 reference documents them (RestPullRequest, RestPullRequestActivity, RestCommit; times in epoch
milliseconds), in the same raw tables as Cloud's: staging reads both shapes, and the cycle time is worked by
hand.

Repository MOB/app (source `bbdc`), pull request #7 of a server too old to carry `properties.mergeCommit`,
all times 2026-03-0x UTC:
  commits authored 03-01 15:00 and 03-02 08:00; OPENED by ann 03-02 09:00; ann comments at 10:00 (her own:
  not a response); dee marks it "needs work" (REVIEWED) at 10:30 (first response); ann pushes (RESCOPED) at
  10:45; bo comments at 11:00; cy approves at 13:30, dee withdraws nothing (UNAPPROVED by cy at 13:40, then
  APPROVED again at 13:50); MERGED by ann at 14:00 with merge commit m1...; bo comments at 15:00 (after the
  merge).
Data Center has no deployments API: its deployments come from an events source (`argo`, service mobile-api,
which its deployment rules map to acme/mobile-app, the team Mobile's in the service_teams seed), rows naming
the repository MOB/app:
  e0 production succeeded 03-02 12:00-12:10   (before the merge: does not ship #7)
  e1 staging    succeeded 03-02 14:30-14:40   (not production)
  e2 production failed    03-02 15:00-15:05   (not a success)
  e3 production succeeded 03-02 16:00-16:20   (ships #7)
  e4 production succeeded 03-03 10:00-10:10   (later)
  e5 production succeeded 03-02 15:30-15:40 of another repository, MOB/web (not #7's)
So: coding 03-01 15:00 -> 03-02 09:00 = 18 h; pickup 09:00 -> 10:30 = 1.5 h; review 10:30 -> 14:00 = 3.5 h;
approved at 13:30 (the first approval); deploy 14:00 -> 16:20 = 7/3 h; lead time 03-01 15:00 -> 03-02 16:20
= 76/3 h.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors import events
from connectors.config import parse_config
from connectors.core.options import DeploymentRules
from connectors.core.raw import RawRecord, RawStore
from tests.dbt.warehouse import load_raw, query, run_dbt

T = datetime.fromisoformat
SCOPE = "MOB/app"
PR = f"{SCOPE}:7"
MERGE = "1f" * 20


def ms(day, hour, minute=0):
    return int(datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def user(name, ident):
    return {"name": name, "emailAddress": f"{name}@acme.example", "id": ident, "displayName": name.title(),
            "active": True, "slug": name, "type": "NORMAL"}


ANN, BO, CY, DEE = user("ann", 1), user("bo", 2), user("cy", 3), user("dee", 4)
PULL_REQUEST = {
    "id": 7, "version": 9, "title": "Offline cart", "state": "MERGED", "open": False, "closed": True,
    "createdDate": ms(2, 9), "updatedDate": ms(2, 15), "closedDate": ms(2, 14),
    "fromRef": {"id": "refs/heads/feature/offline", "displayId": "feature/offline", "latestCommit": "b2" * 20},
    "toRef": {"id": "refs/heads/main", "displayId": "main", "latestCommit": "m0" * 20},
    "locked": False, "author": {"user": ANN, "role": "AUTHOR", "approved": False, "status": "UNAPPROVED"},
    "reviewers": [], "participants": [],
    "links": {"self": [{"href": "https://bitbucket.acme.example/projects/MOB/repos/app/pull-requests/7"}]},
}


def activity(ident, action, who, at, **extra):
    return {"id": ident, "createdDate": at, "user": who, "action": action, **extra}


def comment(ident, who, at):
    return {"id": ident, "version": 0, "text": "ok", "author": who, "createdDate": at, "updatedDate": at,
            "comments": [], "tasks": []}


def commit(sha, at):
    person = {"name": "Ann", "emailAddress": "ann@acme.example"}
    return {"id": sha, "displayId": sha[:11], "author": person, "authorTimestamp": at, "committer": person,
            "committerTimestamp": at, "message": "Offline cart\n\nwith tests", "parents": []}


ACTIVITY = [  # newest first, as Data Center lists them
    activity(11, "COMMENTED", BO, ms(2, 15), commentAction="ADDED", comment=comment(903, BO, ms(2, 15))),
    activity(10, "MERGED", ANN, ms(2, 14), commit=commit(MERGE, ms(2, 14))),
    activity(9, "APPROVED", CY, ms(2, 13, 50)),
    activity(8, "UNAPPROVED", CY, ms(2, 13, 40)),
    activity(7, "APPROVED", CY, ms(2, 13, 30)),
    activity(6, "COMMENTED", BO, ms(2, 11), commentAction="ADDED", comment=comment(902, BO, ms(2, 11))),
    activity(5, "RESCOPED", ANN, ms(2, 10, 45), fromHash="b2" * 20, previousFromHash="b1" * 20),
    activity(4, "REVIEWED", DEE, ms(2, 10, 30)),
    activity(3, "COMMENTED", ANN, ms(2, 10), commentAction="ADDED", comment=comment(901, ANN, ms(2, 10))),
    activity(1, "OPENED", ANN, ms(2, 9)),
]
COMMITS = [commit("b2" * 20, ms(2, 8)), commit("b1" * 20, ms(1, 15))]
DEPLOYMENTS_CSV = """\
id,service,environment,status,started_at,finished_at,sha,repo
e0,mobile-api,production,succeeded,2026-03-02T12:00:00Z,2026-03-02T12:10:00Z,{m0},MOB/app
e1,mobile-api,staging,succeeded,2026-03-02T14:30:00Z,2026-03-02T14:40:00Z,{m1},MOB/app
e2,mobile-api,production,failed,2026-03-02T15:00:00Z,2026-03-02T15:05:00Z,{m1},MOB/app
e3,mobile-api,production,succeeded,2026-03-02T16:00:00Z,2026-03-02T16:20:00Z,{m1},MOB/app
e4,mobile-api,production,succeeded,2026-03-03T10:00:00Z,2026-03-03T10:10:00Z,{m2},MOB/app
e5,mobile-web,production,succeeded,2026-03-02T15:30:00Z,2026-03-02T15:40:00Z,{w1},MOB/web
""".format(m0="0a" * 20, m1=MERGE, m2="2b" * 20, w1="3c" * 20)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("bitbucket-dc-dbt")
    path = work / "throughline.duckdb"
    load_raw(path, [
        # keyed as the connector keys them: `<project>/<repo>:<number>`, children under it
        ("bitbucket__pull_requests", "bbdc", [RawRecord(PR, PULL_REQUEST, None, SCOPE, "2026-03-02T15:00:00.000000Z")]),
        ("bitbucket__pull_request_activity", "bbdc",
         [RawRecord(f"{PR}:{a['id']}", a, PR, SCOPE) for a in ACTIVITY]),
        ("bitbucket__pull_request_commits", "bbdc", [RawRecord(f"{PR}:{c['id']}", c, PR, SCOPE) for c in COMMITS]),
    ])
    (work / "deployments").mkdir()
    (work / "deployments" / "argo.csv").write_text(DEPLOYMENTS_CSV)
    argo = parse_config({"sources": [{"type": "events", "name": "argo",
                                      "deployments": {"path": str(work / "deployments")}}]}).sources[0]
    with RawStore(path) as store:
        events.extract("events", argo, store)
    rules = {"argo": DeploymentRules(services={"mobile-api": "acme/mobile-app"}).for_dbt()}
    run_dbt(["build", "--select", "+pull_request_cycle_times", "--exclude", "test_type:unit",
             "--vars", json.dumps({"deployment_rules": rules})], path, work)
    return path


def test_staging_reads_the_data_center_shapes(warehouse):
    assert query(warehouse, """
        SELECT pull_request_id, repo, pull_request_number, state, author, source_branch, destination_branch,
               merge_commit_hash, url, created_at, updated_at, closed_at
        FROM staging.stg_bitbucket__pull_requests""") == [
        (PR, SCOPE, 7, "MERGED", "ann", "feature/offline", "main", None,
         "https://bitbucket.acme.example/projects/MOB/repos/app/pull-requests/7", T("2026-03-02 09:00"),
         T("2026-03-02 15:00"), T("2026-03-02 14:00"))]
    assert query(warehouse, """
        SELECT activity_id, activity_kind, actor, occurred_at, update_state, merge_commit_sha
        FROM staging.stg_bitbucket__pull_request_activity ORDER BY occurred_at""") == [
        (f"{PR}:1", "update", "ann", T("2026-03-02 09:00"), "OPEN", None),
        (f"{PR}:3", "comment", "ann", T("2026-03-02 10:00"), None, None),
        (f"{PR}:4", "changes_requested", "dee", T("2026-03-02 10:30"), None, None),
        (f"{PR}:5", "update", "ann", T("2026-03-02 10:45"), None, None),
        (f"{PR}:6", "comment", "bo", T("2026-03-02 11:00"), None, None),
        (f"{PR}:7", "approval", "cy", T("2026-03-02 13:30"), None, None),
        (f"{PR}:8", None, "cy", T("2026-03-02 13:40"), None, None),
        (f"{PR}:9", "approval", "cy", T("2026-03-02 13:50"), None, None),
        (f"{PR}:10", "update", "ann", T("2026-03-02 14:00"), "MERGED", MERGE),
        (f"{PR}:11", "comment", "bo", T("2026-03-02 15:00"), None, None)]
    assert query(warehouse, """
        SELECT sha, author_raw, authored_at, split_part(message, chr(10), 1)
        FROM staging.stg_bitbucket__pull_request_commits ORDER BY authored_at""") == [
        ("b1" * 20, "Ann <ann@acme.example>", T("2026-03-01 15:00"), "Offline cart"),
        ("b2" * 20, "Ann <ann@acme.example>", T("2026-03-02 08:00"), "Offline cart")]


def test_the_merge_and_its_commit_come_from_the_merged_activity(warehouse):
    assert query(warehouse, """SELECT pull_request_key, merged_at, merge_commit_hash
                               FROM intermediate.int_bitbucket__merged_pull_requests""") == [
        ("bbdc:MOB/app#7", T("2026-03-02 14:00"), MERGE)]


def test_the_pull_request_cycle_time_is_worked_by_hand(warehouse):
    (row,) = query(warehouse, """
        SELECT pull_request_key, code_host, repo, team, first_commit_at, opened_at, first_response_at, approved_at,
               merged_at, first_deployment_key, first_deployed_at, coding_hours, pickup_hours, review_hours,
               round(deploy_hours, 4), round(lead_time_hours, 4)
        FROM marts.pull_request_cycle_times""")
    assert row == ("bbdc:MOB/app#7", "bitbucket", SCOPE, "Mobile", T("2026-03-01 15:00"), T("2026-03-02 09:00"),
                   T("2026-03-02 10:30"), T("2026-03-02 13:30"), T("2026-03-02 14:00"), "argo:e3",
                   T("2026-03-02 16:20"), 18.0, 1.5, 3.5, round(7 / 3, 4), round(76 / 3, 4))
