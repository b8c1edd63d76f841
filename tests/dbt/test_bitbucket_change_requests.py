"""A Bitbucket pull request and its deployments through dbt, from hand-made raw objects shaped as Bitbucket
Cloud's REST 2.0 reference documents them: cycle time, change lead time and deployments, worked by hand.

Repository acme/app (source `bb`, mapped to the service acme/mobile-app, which the service_teams seed gives
to the team Mobile). Pull request #7, all times 2026-03-0x UTC:
  commits authored 03-01 15:00 and 03-02 08:00; opened 03-02 09:00; the author comments at 10:00 (not a
  response); bo comments at 11:00 (first response); cy approves at 13:30; merged at 14:00 (the activity's
  update to MERGED: a Bitbucket pull request has no merge time); bo comments at 15:00 (after the merge).
Environments: `prod-eu` of type Production (not a production name by the default rules: its type makes it
production), `staging` of type Staging. Deployments of acme/app:
  d0 prod-eu SUCCESSFUL 03-02 12:00-12:10   (before the merge: does not ship #7)
  d1 staging SUCCESSFUL 03-02 14:30-14:40   (not production)
  d2 prod-eu FAILED     03-02 15:00-15:05   (not a success)
  d3 prod-eu SUCCESSFUL 03-02 16:00-16:20   (ships #7)
  d4 prod-eu SUCCESSFUL 03-03 10:00-10:10   (later)
So: coding 03-01 15:00 -> 03-02 09:00 = 18 h; pickup 09:00 -> 11:00 = 2 h; review 11:00 -> 14:00 = 3 h;
deploy 14:00 -> 16:20 = 2 h 20 min = 7/3 h; lead time 03-01 15:00 -> 03-02 16:20 = 25 h 20 min = 76/3 h.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from connectors.core.options import DeploymentRules
from connectors.core.raw import RawRecord
from tests.dbt.warehouse import load_raw, query, run_dbt

T = datetime.fromisoformat
SCOPE = "acme/app"
PR = f"{SCOPE}:7"


def ts(day, hour, minute=0):
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00.000000+00:00"


def user(nickname):
    return {"type": "user", "uuid": "{" + nickname + "}", "display_name": nickname.title(), "nickname": nickname}


LINK = {"type": "pullrequest", "id": 7, "title": "Offline cart"}
PULL_REQUEST = {
    "type": "pullrequest", "id": 7, "title": "Offline cart", "state": "MERGED", "author": user("ann"),
    "source": {"branch": {"name": "feature/offline"}, "commit": {"hash": "b2"}},
    "destination": {"branch": {"name": "main"}, "commit": {"hash": "m0"}},
    "merge_commit": {"type": "commit", "hash": "m1"}, "created_on": ts(2, 9), "updated_on": ts(2, 15),
    "links": {"html": {"href": "https://bitbucket.org/acme/app/pull-requests/7"}},
}


def comment(ident, who, at):
    return {"comment": {"type": "pullrequest_comment", "id": ident, "created_on": at, "updated_on": at,
                        "user": user(who), "deleted": False, "content": {"raw": "ok"}}, "pull_request": LINK}


ACTIVITY = [  # newest first, as Bitbucket lists it
    comment(903, "bo", ts(2, 15)),
    {"update": {"state": "MERGED", "date": ts(2, 14), "author": user("ann")}, "pull_request": LINK},
    {"approval": {"date": ts(2, 13, 30), "user": user("cy"), "pullrequest": LINK}, "pull_request": LINK},
    comment(902, "bo", ts(2, 11)),
    comment(901, "ann", ts(2, 10)),
    {"update": {"state": "OPEN", "date": ts(2, 9), "author": user("ann")}, "pull_request": LINK},
]
COMMITS = [{"type": "commit", "hash": "b2", "date": ts(2, 8), "author": {"raw": "Ann <ann@acme.example>"}},
           {"type": "commit", "hash": "b1", "date": ts(1, 15), "author": {"raw": "Ann <ann@acme.example>"}}]
ENVIRONMENTS = [
    {"type": "deployment_environment", "uuid": "{prod}", "name": "prod-eu", "slug": "prod-eu",
     "environment_type": {"type": "deployment_environment_type", "name": "Production", "rank": 2}},
    {"type": "deployment_environment", "uuid": "{stg}", "name": "staging", "slug": "staging",
     "environment_type": {"type": "deployment_environment_type", "name": "Staging", "rank": 1}},
]


def deployment(ident, env, status, start, end, sha):
    return {"type": "deployment", "uuid": "{" + ident + "}",
            "state": {"type": "deployment_state_completed", "name": "COMPLETED",
                      "status": {"type": f"deployment_state_completed_status_{status.lower()}", "name": status},
                      "started_on": start, "completed_on": end},
            "environment": {"type": "deployment_environment", "uuid": "{" + env + "}"},
            "release": {"type": "deployment_release", "uuid": "{r" + ident + "}", "name": f"#{ident[1:]}",
                        "commit": {"type": "commit", "hash": sha}, "created_on": start},
            "deployable": {"pipeline": {"type": "pipeline", "uuid": "{p" + ident + "}"}}, "last_update_time": end}


DEPLOYMENTS = [
    deployment("d0", "prod", "SUCCESSFUL", ts(2, 12), ts(2, 12, 10), "m0"),
    deployment("d1", "stg", "SUCCESSFUL", ts(2, 14, 30), ts(2, 14, 40), "m1"),
    deployment("d2", "prod", "FAILED", ts(2, 15), ts(2, 15, 5), "m1"),
    deployment("d3", "prod", "SUCCESSFUL", ts(2, 16), ts(2, 16, 20), "m1"),
    deployment("d4", "prod", "SUCCESSFUL", ts(3, 10), ts(3, 10, 10), "m2"),
]


def key(activity):
    from connectors.bitbucket import PULL_REQUEST_ACTIVITY

    return PULL_REQUEST_ACTIVITY.key_of(activity)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("bitbucket-dbt")
    path = work / "throughline.duckdb"
    load_raw(path, [
        # keyed as the connector keys them: `<workspace>/<repo>:<number>`, children under it
        ("bitbucket__pull_requests", "bb", [RawRecord(PR, PULL_REQUEST, None, SCOPE, PULL_REQUEST["updated_on"])]),
        ("bitbucket__pull_request_activity", "bb", [RawRecord(f"{PR}:{key(a)}", a, PR, SCOPE) for a in ACTIVITY]),
        ("bitbucket__pull_request_commits", "bb", [RawRecord(f"{PR}:{c['hash']}", c, PR, SCOPE) for c in COMMITS]),
        ("bitbucket__environments", "bb", [RawRecord(e["uuid"], e, None, SCOPE) for e in ENVIRONMENTS]),
        ("bitbucket__deployments", "bb", [RawRecord(d["uuid"], d, None, SCOPE) for d in DEPLOYMENTS]),
    ])
    rules = {"bb": DeploymentRules(services={SCOPE: "acme/mobile-app"}).for_dbt()}
    run_dbt(["build", "--select", "+pull_request_cycle_times", "+deployments", "+dora_metrics_weekly",
             "--exclude", "test_type:unit", "--vars", json.dumps({"deployment_rules": rules})], path, work)
    return path


def test_deployments_follow_the_bitbucket_rules(warehouse):
    assert query(warehouse, """
        SELECT deployment_id, service, environment, is_production, status, sha, started_at, finished_at
        FROM intermediate.int_bitbucket__deployments ORDER BY started_at""") == [
        ("{d0}", "acme/mobile-app", "prod-eu", True, "success", "m0", T("2026-03-02 12:00"), T("2026-03-02 12:10")),
        ("{d1}", "acme/mobile-app", "staging", False, "success", "m1", T("2026-03-02 14:30"), T("2026-03-02 14:40")),
        ("{d2}", "acme/mobile-app", "prod-eu", True, "failure", "m1", T("2026-03-02 15:00"), T("2026-03-02 15:05")),
        ("{d3}", "acme/mobile-app", "prod-eu", True, "success", "m1", T("2026-03-02 16:00"), T("2026-03-02 16:20")),
        ("{d4}", "acme/mobile-app", "prod-eu", True, "success", "m2", T("2026-03-03 10:00"), T("2026-03-03 10:10")),
    ]
    # the production ones reach the mart, owned by the team the seed names
    assert query(warehouse, """SELECT deployment_id, team, status FROM marts.deployments
                               WHERE source = 'bitbucket' ORDER BY started_at""") == [
        ("{d0}", "Mobile", "success"), ("{d2}", "Mobile", "failure"), ("{d3}", "Mobile", "success"),
        ("{d4}", "Mobile", "success")]


def test_the_pull_request_cycle_time_is_worked_by_hand(warehouse):
    (row,) = query(warehouse, """
        SELECT pull_request_key, code_host, team, first_commit_at, opened_at, first_response_at, approved_at,
               merged_at, first_deployment_key, first_deployed_at, coding_hours, pickup_hours, review_hours,
               round(deploy_hours, 4), round(lead_time_hours, 4)
        FROM marts.pull_request_cycle_times""")
    assert row == ("bb:acme/app#7", "bitbucket", "Mobile", T("2026-03-01 15:00"), T("2026-03-02 09:00"),
                   T("2026-03-02 11:00"), T("2026-03-02 13:30"), T("2026-03-02 14:00"), "bb:{d3}",
                   T("2026-03-02 16:20"), 18.0, 2.0, 3.0, round(7 / 3, 4), round(76 / 3, 4))


def test_the_change_lead_time_reaches_the_dora_marts(warehouse):
    # one change in the ISO week of 2026-03-02 for team Mobile, its lead time 76/3 h
    assert query(warehouse, """
        SELECT period_start, lead_time_changes, round(lead_time_p50_hours, 4) FROM marts.dora_metrics_weekly
        WHERE grouping_level = 'team' AND team = 'Mobile' AND lead_time_changes > 0""") == [
        (T("2026-03-02").date(), 1, round(76 / 3, 4))]
