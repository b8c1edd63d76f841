"""What Bitbucket production deployments shipped, through dbt, from hand-made raw objects shaped as Bitbucket
Cloud's REST 2.0 reference documents them: each deployment's commit range (`commits/<hash>?exclude=<previous
hash>`) adds up along the chain into deployment_changes, and links the pull requests to the deployments that
shipped them; a deployment whose range could not be read falls back to "the first successful production
deployment after the merge".

Repository acme/app (source `bb`), environment `prod-eu` of type Production. The default branch, oldest first:
M0, M1 (pull request #7's merge), M2 (#8's merge), M3 (a direct push), M4 (#9's merge), M5. Bitbucket writes a
pull request's merge commit abbreviated to 12 digits; the commit list gives full hashes. Merges (the activity's
update to MERGED), 2026-03-0x UTC: #7 02 14:00, #8 02 15:30, #9 03 12:00. Deployments to prod-eu:
  d0 SUCCESSFUL 02 12:00-12:10 of M0   range: M0 (its environment's first: the history back to start_date)
  d2 FAILED     02 15:00-15:05 of M1   range: M1 (M1 less what M0 reaches)
  d3 SUCCESSFUL 02 16:00-16:20 of M1   no range (the same hash as d2: nothing new to ask)
  d4 SUCCESSFUL 03 10:00-10:10 of M3   range: M3, M2
  d5 SUCCESSFUL 04 10:00-10:10 of M5   range not readable (M5 force-pushed away: no rows)
So by the chain: d0 ships M0; d2 attempts M1, which d3 (the next forward success) ships; d4 ships M2 and M3.
#7 ships with d3 (16:20); #8 with d4 (03 10:10), where "the first success after the merge" would have said
d3, which did not hold M2; no range holds M4, so #9 falls back to the first success after its merge whose
range is missing: d5 (04 10:10).
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from connectors.core.options import DeploymentRules
from connectors.core.raw import RawRecord
from tests.dbt.test_azure_devops_sources import ts as ado_ts
from tests.dbt.test_azure_devops_sources import work_item
from tests.dbt.test_linear_work_items import RAW as LINEAR_RAW
from tests.dbt.test_linear_work_items import issue
from tests.dbt.warehouse import load_raw, query, run_dbt

T = datetime.fromisoformat
SCOPE = "acme/app"
M = [f"{i}" * 2 + "ab" * 19 for i in range(6)]  # M[i]: 40 hex digits


def ts(day, hour, minute=0):
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:00.000000+00:00"


def ts_linear(day):
    return f"2026-03-{day:02d}T09:00:00.000Z"


def user(nickname):
    return {"type": "user", "uuid": "{" + nickname + "}", "display_name": nickname.title(), "nickname": nickname}


def commit(i, message, day, hour):
    """A commit as the commit list gives it (`author.user` only when Bitbucket knows the email)."""
    return {"type": "commit", "hash": M[i], "date": ts(day, hour), "message": f"{message}\n\nDetails.",
            "author": {"type": "author", "raw": "Ann Lee <ann@acme.example>", "user": user("ann")},
            "parents": [{"type": "commit", "hash": M[i - 1]}] if i else []}


def pull_request(number, merge, merged_at, title=None, branch=None):
    link = {"type": "pullrequest", "id": number, "title": title or f"Change {number}"}
    body = {**link, "state": "MERGED", "author": user("ann"), "merge_commit": {"type": "commit", "hash": M[merge][:12]},
            "source": {"branch": {"name": branch or f"feature/{number}"}}, "destination": {"branch": {"name": "main"}},
            "created_on": ts(2, 9), "updated_on": merged_at}
    merged = {"update": {"state": "MERGED", "date": merged_at, "author": user("ann")}, "pull_request": link}
    return body, merged


def deployment(ident, status, start, end, i):
    return {"type": "deployment", "uuid": "{" + ident + "}",
            "state": {"type": "deployment_state_completed", "name": "COMPLETED",
                      "status": {"type": f"deployment_state_completed_status_{status.lower()}", "name": status},
                      "started_on": start, "completed_on": end},
            "environment": {"type": "deployment_environment", "uuid": "{prod}"},
            "release": {"type": "deployment_release", "uuid": "{r" + ident + "}", "name": f"#{ident[1:]}",
                        "commit": {"type": "commit", "hash": M[i]}, "created_on": start},
            "last_update_time": end}


PULL_REQUESTS = {7: pull_request(7, 1, ts(2, 14), title="Offline cart AB#42"),
                 8: pull_request(8, 2, ts(2, 15, 30), branch="ann/mob-3-cart-badge"),  # Linear's branch name
                 9: pull_request(9, 4, ts(3, 12))}
DEPLOYMENTS = [deployment("d0", "SUCCESSFUL", ts(2, 12), ts(2, 12, 10), 0),
               deployment("d2", "FAILED", ts(2, 15), ts(2, 15, 5), 1),
               deployment("d3", "SUCCESSFUL", ts(2, 16), ts(2, 16, 20), 1),
               deployment("d4", "SUCCESSFUL", ts(3, 10), ts(3, 10, 10), 3),
               deployment("d5", "SUCCESSFUL", ts(4, 10), ts(4, 10, 10), 5)]
RANGES = {"{d0}": [commit(0, "Initial commit", 1, 9)],
          "{d2}": [commit(1, "Offline cart (#7)", 2, 14)],
          "{d4}": [commit(3, "Fix typo for MOB-30", 2, 17), commit(2, "Cart badge (#8)", 2, 15)]}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("bitbucket-deployment-changes")
    path = work / "throughline.duckdb"
    environment = {"type": "deployment_environment", "uuid": "{prod}", "name": "prod-eu", "slug": "prod-eu",
                   "environment_type": {"type": "deployment_environment_type", "name": "Production", "rank": 2}}
    load_raw(path, [
        # keyed as the connector keys them: `<workspace>/<repo>:<number>`, children under it
        ("bitbucket__pull_requests", "bb", [RawRecord(f"{SCOPE}:{n}", body, None, SCOPE, body["updated_on"])
                                            for n, (body, _) in PULL_REQUESTS.items()]),
        ("bitbucket__pull_request_activity", "bb", [
            RawRecord(f"{SCOPE}:{n}:update@{merged['update']['date']}", merged, f"{SCOPE}:{n}", SCOPE)
            for n, (_, merged) in PULL_REQUESTS.items()]),
        ("bitbucket__environments", "bb", [RawRecord("{prod}", environment, None, SCOPE)]),
        ("bitbucket__deployments", "bb", [RawRecord(d["uuid"], d, None, SCOPE) for d in DEPLOYMENTS]),
        ("bitbucket__deployment_commits", "bb", [RawRecord(f"{d}:{c['hash']}", c, d, SCOPE)
                                                 for d, commits in RANGES.items() for c in commits]),
        # what the pull requests and commits name: Linear issues MOB-3 and MOB-30, Azure Boards items 42 and 4
        ("linear__issues", "lin", [issue(3, ts_linear(1), ts_linear(2), "In Progress", []),
                                   issue(30, ts_linear(1), ts_linear(2), "In Progress", [])]),
        *(table for table in LINEAR_RAW if table[0] == "linear__workflow_states"),
        ("azure_devops__work_items", "ado", [work_item(42, "User Story", "Active", ado_ts(1, 9), ado_ts(1, 9), 1),
                                             work_item(4, "User Story", "Active", ado_ts(1, 9), ado_ts(1, 9), 1)]),
    ])
    rules = {"bb": DeploymentRules(services={SCOPE: "acme/mobile-app"}).for_dbt()}
    run_dbt(["build", "--select", "+pull_request_cycle_times", "+deployment_changes", "+int_work_items_shipped",
             "--exclude", "test_type:unit",
             "--vars", json.dumps({"deployment_rules": rules})], path, work)
    return path


def test_the_ranges_add_up_along_the_chain(warehouse):
    assert query(warehouse, """
        SELECT deployment_key, deployment_status, commit_sha, author, authored_at, message_headline,
               pull_request_key, pull_request_match, is_first_production_deployment
        FROM marts.deployment_changes ORDER BY deployment_finished_at, authored_at""") == [
        ("bb:{d0}", "success", M[0], "ann", T("2026-03-01 09:00"), "Initial commit", None, None, True),
        ("bb:{d2}", "failure", M[1], "ann", T("2026-03-02 14:00"), "Offline cart (#7)", "bb:acme/app#7",
         "merge_commit", False),
        ("bb:{d3}", "success", M[1], "ann", T("2026-03-02 14:00"), "Offline cart (#7)", "bb:acme/app#7",
         "merge_commit", True),
        ("bb:{d4}", "success", M[2], "ann", T("2026-03-02 15:00"), "Cart badge (#8)", "bb:acme/app#8",
         "merge_commit", True),
        ("bb:{d4}", "success", M[3], "ann", T("2026-03-02 17:00"), "Fix typo for MOB-30", None, None, True),
    ]
    # d3 lists what d2's range held: the chain, not its own (unread) range
    assert query(warehouse, """SELECT compared_in_deployment_key FROM intermediate.int_deployment_changes
                               WHERE deployment_key = 'bb:{d3}'""") == [("bb:{d2}",)]


def test_pull_requests_ship_with_the_range_that_holds_them(warehouse):
    assert query(warehouse, """
        SELECT pull_request_key, first_deployment_key, first_deployed_at FROM marts.pull_request_cycle_times
        ORDER BY pull_request_key""") == [
        ("bb:acme/app#7", "bb:{d3}", T("2026-03-02 16:20")),
        ("bb:acme/app#8", "bb:{d4}", T("2026-03-03 10:10")),  # not d3: its range does not hold M2
        ("bb:acme/app#9", "bb:{d5}", T("2026-03-04 10:10")),  # d5's range is missing: the fallback
    ]


def test_work_items_ship_with_the_deployment_that_shipped_the_change_naming_them(warehouse):
    # #7 names AB#42 (an Azure Boards item) in its title: d2 failed, d3 shipped it; #8's Linear branch name names
    # MOB-3: d4; the commit "Fix typo for MOB-30" names MOB-30 (not MOB-3: keys match whole): d4. Item 4 is not
    # AB#42.
    assert query(warehouse, """
        SELECT work_item_id, issue_key, first_shipped_at, first_shipped_deployment_key, shipped_via
        FROM intermediate.int_work_items_shipped ORDER BY work_item_id""") == [
        ("ado:42", "42", T("2026-03-02 16:20"), "bb:{d3}", "pull_request"),
        ("lin:issue-3", "MOB-3", T("2026-03-03 10:10"), "bb:{d4}", "pull_request"),
        ("lin:issue-30", "MOB-30", T("2026-03-03 10:10"), "bb:{d4}", "commit"),
    ]
