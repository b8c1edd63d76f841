"""DORA marts on a hand-built history: raw API objects -> `dbt build` -> marts, every value worked out by hand.

Source `gh` (GitHub) with repositories acme/checkout-web and acme/payments-api (the shipped seed
service_teams maps them to teams Checkout and Payments); production environments of `gh` are
`production-eu` and `production-us` (passed as the dbt var deployment_rules, as the nightly run does).
`ghe` is a second GitHub instance (an Enterprise mirror) reporting one of the same deployments again.
All times UTC, January 2026 (Mon 01-05, Mon 01-12 and Mon 01-19 start the weeks).

Commits on main of acme/checkout-web, in order:
  base; m1 = squash of PR #1 (its own commits p1a, p1b never reach main); p2a then m2 = merge commit of
  PR #2; r3a, r3b = PR #3 rebased (same author, author date and message as p3a, p3b, new shas; GitHub's
  merge_commit_sha of a rebase is the last one, r3b); d1..d8 direct pushes; m4 = squash of hotfix PR #4.

Production deployments (id: environment, start-finish, outcome, sha; compare commits as the connector reads
them against the previous deployment of the environment, whatever its outcome):
  S1 2001 eu 01-05 10:00-10:10 success base   (first: no compare)
  S2 2002 eu 01-06 10:00-10:30 FAILURE m1     compare [m1]
  S3 2003 eu 01-06 11:45-12:00 success m2     compare [p2a, m2]
  S4 2004 eu 01-07 08:45-09:00 success d8     compare [r3a, r3b, d1..d8]           (10 commits)
  S5 2005 eu 01-07 16:00-16:05 success m2     "Rollback" to S3's sha; compare empty (m2 is behind d8)
  S6 2006 eu 01-08 09:45-10:00 success m4     "Hotfix: restore search", ref hotfix/search;
                                              compare [r3a, r3b, d1..d8, m4]       (11 commits)
  U1 2011 us 01-05 11:00-11:10 success base   (first in us)
  U2 2012 us 01-08 11:50-12:00 success m4     compare [m1, p2a, m2, r3a, r3b, d1..d8, m4] (14 commits)
  A1 3001 eu 01-12 10:00-10:30 success (payments-api, first)
  A2 3002 eu 01-13 09:45-10:00 success m5     compare [m5]; also reported by ghe as 9002 (PRODUCTION-EU,
                                              same sha, 09:50-10:01, no compare): the same deployment
  A3 3003 eu 01-14 09:45-10:00 success d9     compare [d9]
  plus a staging deployment 2020 (01-06, success): not production, in no mart.

Change set (docs/METRICS.md#deployment-changes): per repository and environment, a commit ships with the
first successful forward deployment (sha never successful before) at or after the deployment whose compare
set first held it; a failed deployment lists what it attempted; a rollback lists nothing:
  S2 {m1} = 1 (attempted); S3 = S2's + S3's = {m1, p2a, m2} = 3 (the failed deployment's commit ships with
  S3); S4 = 10; S5 = 0 (m2 succeeded at S3: a rollback); S6 = {m4} = 1: its compare set (against S5's m2)
  holds S4's 10 commits again, but they shipped with S4 and are not shipped twice; U2 = 14; A2 = 1; A3 = 1;
  S1, U1, A1 = 0 (no history rows loaded for first deployments here).

Pull requests (author; first commit; opened; first response by someone else; approved; merged):
  #1 checkout squash   alice  01-05 09:00  16:00  bob review COMMENTED 18:00 (alice's own comment 16:30 and
                       a bot's 16:45 do not count)  01-06 08:00  01-06 09:00
  #2 checkout merge    bob    01-06 08:00  08:30  alice comment (timeline) 09:30  10:00  11:00
  #3 checkout rebase   carol  01-06 13:00  14:30  alice approval 16:00  16:00  17:00
  #4 checkout squash   bob    01-08 08:00  08:15  alice approval 09:00  09:00  09:30
  #5 payments squash   dave   01-12 14:00  15:00  erin approval 01-13 08:00  08:00  01-13 09:00
First successful production deployment holding one of its commits (S2 failed, so #1 waits for S3):
  #1 S3 01-06 12:00: coding 7, pickup 2, review 15, deploy 3, lead time 01-05 09:00 -> 01-06 12:00 = 27 h
  #2 S3 01-06 12:00: coding 0.5, pickup 1, review 1.5, deploy 1, lead 4 h
  #3 S4 01-07 09:00: coding 1.5, pickup 1.5, review 1, deploy 16, lead 20 h
  #4 S6 01-08 10:00: coding 0.25, pickup 0.75, review 0.5, deploy 0.5, lead 2 h
  #5 A2 01-13 10:00: coding 1, pickup 17, review 1, deploy 1, lead 20 h
  #1-#4 reached both production-eu and production-us (U2): production_environment_count 2.

Incidents (attribution window 24 h, the default):
  I1 GitHub checkout #10 01-07 11:00-13:00, text "Caused by deployment 2004"   -> S4 explicit_deployment
  I2 GitHub checkout #11 01-07 10:00-12:00, no link: latest new work (success or failure, not a rollback) of
     checkout finished in [01-06 10:00, 01-07 10:00] is S4 (09:00; S3 12:00 is older) -> S4 window
  I3 Jira OPS-1 (type Incident, label service:acme/checkout-web) 01-07 14:00-20:00; S5 starts only at 16:00
                                                                                -> S4 window
  I5 Jira OPS-2 (service:acme/payments-api) 01-14 12:00-18:00, root-cause field = first 10 chars of m5:
     the window would pick A3 (01-14 10:00), the explicit commit wins            -> A2 root_cause_commit
  I6 Jira OPS-3 (service:acme/checkout-web) 01-09 09:00-11:00, linked "is caused by" SHOP-42, the key in
     PR #4's title: PR #4 first ran in production in S6. (The window would pick U2, 01-08 12:00.)
                                                                                -> S6 linked_issue
  I4 GitHub payments #3 01-20 09:00, open: latest payments success A3 is 47 h before -> unattributed

Change failures: S2 (failed), S4 (3 incidents, 10 commits, and followed by the rollback S5: still ONE),
S6 (I6), A2 (I5). S5 is a rollback followed by the hotfix S6: a rollback is not blamed for the fix-forward
after it. Recovery: S2 10:30 -> next success S3 12:00 = 1.5 h; S4 first incident 01-07 10:00 -> last
resolved 20:00 = 10 h; S6 01-09 09:00 -> 11:00 = 2 h; A2 12:00 -> 18:00 = 6 h. Rework (default: rollbacks
and hotfixes made because of an incident): S5 (during OPS-1, and after S4 that caused I1-I3) and S6 (the
new work before it, S5 being a rollback, is S4 with incidents); the same two as when every rollback and
hotfix counted.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

import pytest

from connectors.core.options import DeploymentRules
from connectors.core.raw import RawRecord

from .warehouse import WITHOUT_UNIT_TESTS, Batch, load_raw, only, query, query_dicts, run_dbt

GH, GHE, JIRA = "gh", "ghe", "jira-ops"
SHOP, PAY = "acme/checkout-web", "acme/payments-api"
SITE = "https://acme.atlassian.net"
ROOT_CAUSE_FIELD = "customfield_10100"


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def ts(text: str) -> str:
    return f"2026-{text}:00Z"  # "01-05T10:00" -> GitHub's format


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}")


# name -> (author login, author name, authored, message, parent count)
COMMITS = {
    "m1": ("alice", "Alice", "01-06T09:00", "Add cart (#1)", 1),
    "p1a": ("alice", "Alice", "01-05T09:00", "Cart skeleton", 1),
    "p1b": ("alice", "Alice", "01-05T15:00", "Cart totals", 1),
    "p2a": ("bob", "Bob", "01-06T08:00", "Fix tax rounding", 1),
    "m2": ("bob", "Bob", "01-06T11:00", "Merge pull request #2 from acme/tax", 2),
    "p3a": ("carol", "Carol", "01-06T13:00", "Speed up search", 1),
    "p3b": ("carol", "Carol", "01-06T14:00", "Cache search results", 1),
    "r3a": ("carol", "Carol", "01-06T13:00", "Speed up search", 1),
    "r3b": ("carol", "Carol", "01-06T14:00", "Cache search results", 1),
    **{f"d{n}": ("dave", "Dave", f"01-06T{17 + n // 3:02d}:{(n % 3) * 10:02d}", f"Direct change {n}", 1)
       for n in range(1, 10)},
    "p4a": ("bob", "Bob", "01-08T08:00", "Restore search index", 1),
    "m4": ("bob", "Bob", "01-08T09:30", "Restore search index (#4)", 1),
    "p5a": ("dave", "Dave", "01-12T14:00", "Retry card payments", 1),
    "m5": ("dave", "Dave", "01-13T09:00", "Retry card payments (#5)", 1),
}
S4_COMMITS = ["r3a", "r3b", *[f"d{n}" for n in range(1, 9)]]

# id -> (repo, environment, start, finish, final state, sha name, description, ref, compare commit names)
DEPLOYMENTS = {
    2001: (SHOP, "production-eu", "01-05T10:00", "01-05T10:10", "success", "base", "Deploy", "main", []),
    2002: (SHOP, "production-eu", "01-06T10:00", "01-06T10:30", "failure", "m1", "Deploy", "main", ["m1"]),
    2003: (SHOP, "production-eu", "01-06T11:45", "01-06T12:00", "success", "m2", "Deploy", "main", ["p2a", "m2"]),
    2004: (SHOP, "production-eu", "01-07T08:45", "01-07T09:00", "success", "d8", "Deploy", "main", S4_COMMITS),
    2005: (SHOP, "production-eu", "01-07T16:00", "01-07T16:05", "success", "m2", "Rollback", "main", []),
    2006: (SHOP, "production-eu", "01-08T09:45", "01-08T10:00", "success", "m4", "Hotfix: restore search",
           "hotfix/search", [*S4_COMMITS, "m4"]),
    2011: (SHOP, "production-us", "01-05T11:00", "01-05T11:10", "success", "base", "Deploy", "main", []),
    2012: (SHOP, "production-us", "01-08T11:50", "01-08T12:00", "success", "m4", "Deploy", "main",
           ["m1", "p2a", "m2", *S4_COMMITS, "m4"]),
    2020: (SHOP, "staging", "01-06T11:00", "01-06T11:05", "success", "m2", "Deploy", "main", []),
    3001: (PAY, "production-eu", "01-12T10:00", "01-12T10:30", "success", "apibase", "Deploy", "main", []),
    3002: (PAY, "production-eu", "01-13T09:45", "01-13T10:00", "success", "m5", "Deploy", "main", ["m5"]),
    3003: (PAY, "production-eu", "01-14T09:45", "01-14T10:00", "success", "d9", "Deploy", "main", ["d9"]),
}
MIRRORED = {9002: (PAY, "PRODUCTION-EU", "01-13T09:50", "01-13T10:01", "success", "m5", "Deploy", "main", [])}

# number -> (id, repo, author, opened, merged, merge commit, PR commits, reviews [(state, at, user)],
#            timeline comments [(at, user)])
PULLS = {
    1: (101, SHOP, "alice", "01-05T16:00", "01-06T09:00", "m1", ["p1a", "p1b"],
        [("COMMENTED", "01-05T18:00", "bob"), ("APPROVED", "01-06T08:00", "bob")],
        [("01-05T16:30", "alice"), ("01-05T16:45", "ci-bot[bot]")]),
    2: (102, SHOP, "bob", "01-06T08:30", "01-06T11:00", "m2", ["p2a"],
        [("APPROVED", "01-06T10:00", "alice")], [("01-06T09:30", "alice")]),
    3: (103, SHOP, "carol", "01-06T14:30", "01-06T17:00", "r3b", ["p3a", "p3b"],
        [("APPROVED", "01-06T16:00", "alice")], []),
    4: (104, SHOP, "bob", "01-08T08:15", "01-08T09:30", "m4", ["p4a"],
        [("APPROVED", "01-08T09:00", "alice")], []),
    5: (105, PAY, "dave", "01-12T15:00", "01-13T09:00", "m5", ["p5a"],
        [("PENDING", None, "erin"), ("APPROVED", "01-13T08:00", "erin")], []),
}

# (id, repo, number, opened, closed, body)
GITHUB_INCIDENTS = [
    (501, SHOP, 10, "01-07T11:00", "01-07T13:00", "Checkout 500s.\n\nCaused by deployment 2004"),
    (502, SHOP, 11, "01-07T10:00", "01-07T12:00", "Search is slow."),
    (503, PAY, 3, "01-20T09:00", None, "Card payments time out."),
]
# key -> (id, created, resolved, labels, root cause, "is caused by" issue)
JIRA_INCIDENTS = {
    "OPS-1": ("7001", "01-07T14:00", "01-07T20:00", ["service:acme/checkout-web"], None, None),
    "OPS-2": ("7002", "01-14T12:00", "01-14T18:00", ["service:acme/payments-api"], sha("m5")[:10], None),
    "OPS-3": ("7003", "01-09T09:00", "01-09T11:00", ["service:acme/checkout-web"], None, "SHOP-42"),
}
TITLES = {4: "SHOP-42 restore search index"}


def commit_object(repo: str, name: str) -> dict:
    login, author_name, authored, message, parents = COMMITS.get(name, ("dave", "Dave", "01-01T00:00", name, 1))
    return {
        "sha": sha(name),
        "url": f"https://api.github.com/repos/{repo}/commits/{sha(name)}",
        "commit": {
            "author": {"name": author_name, "email": f"{login}@acme.test", "date": ts(authored)},
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": ts(authored)},
            "message": f"{message}\n\nbody",
        },
        "author": {"login": login},
        "parents": [{"sha": sha(f"{name}-parent-{i}")} for i in range(parents)],
    }


def deployment_records(instance: str, deployments: dict) -> list[Batch]:
    rows, statuses, compares = [], [], []
    for ident, (repo, env, start, finish, state, sha_name, description, ref, compare) in deployments.items():
        api = f"https://api.github.com/repos/{repo}"
        rows.append(RawRecord(str(ident), {
            "id": ident, "url": f"{api}/deployments/{ident}", "sha": sha(sha_name), "ref": ref, "task": "deploy",
            "environment": env, "description": description, "creator": {"login": "deploy-bot"},
            "created_at": ts(start), "updated_at": ts(finish), "repository_url": api,
        }, scope=repo, cursor_value=ts(start)))
        for number, (status, when) in enumerate([("in_progress", start), (state, finish)], start=1):
            status_id = ident * 10 + number
            statuses.append(RawRecord(str(status_id), {
                "id": status_id, "state": status, "environment": env, "created_at": ts(when),
                "updated_at": ts(when), "repository_url": api,
            }, parent_key=str(ident), scope=repo, cursor_value=ts(when)))
        compares += [RawRecord(f"{ident}:{sha(name)}", commit_object(repo, name), parent_key=str(ident), scope=repo)
                     for name in compare]
    return [("github__deployments", instance, rows), ("github__deployment_statuses", instance, statuses),
            ("github__compare_commits", instance, compares)]


def pull_request_records() -> list[Batch]:
    pulls, commits, reviews, events = [], [], [], []
    for number, (ident, repo, author, opened, merged, merge_sha, own, review_list, comments) in PULLS.items():
        api = f"https://api.github.com/repos/{repo}"
        pulls.append(RawRecord(str(ident), {
            "id": ident, "number": number, "state": "closed", "title": TITLES.get(number, f"PR {number}"), "user": {"login": author},
            "created_at": ts(opened), "updated_at": ts(merged), "closed_at": ts(merged), "merged_at": ts(merged),
            "merge_commit_sha": sha(merge_sha), "head": {"sha": sha(own[-1]), "ref": f"feature-{number}"},
            "base": {"ref": "main", "repo": {"full_name": repo}}, "draft": False,
        }, scope=repo, cursor_value=ts(merged)))
        commits += [RawRecord(f"{ident}:{sha(name)}", commit_object(repo, name), parent_key=str(ident), scope=repo)
                    for name in own]
        for n, (state, when, user) in enumerate(review_list, start=1):
            review = {"id": ident * 100 + n, "user": {"login": user}, "state": state,
                      "pull_request_url": f"{api}/pulls/{number}", "commit_id": sha(own[-1])}
            if when:
                review["submitted_at"] = ts(when)
            reviews.append(RawRecord(str(ident * 100 + n), review, parent_key=str(ident), scope=repo))
        for n, (when, user) in enumerate(comments, start=1):
            event_id = ident * 1000 + n
            events.append(RawRecord(f"{ident}:{event_id}", {
                "id": event_id, "event": "commented", "actor": {"login": user}, "created_at": ts(when),
            }, parent_key=str(ident), scope=repo))
    return [("github__pull_requests", GH, pulls), ("github__pull_request_commits", GH, commits),
            ("github__pull_request_reviews", GH, reviews), ("github__pull_request_timeline_events", GH, events)]


def incident_records() -> list[Batch]:
    issues = [RawRecord(str(ident), {
        "id": ident, "number": number, "title": f"Incident {number}", "body": body, "state": "closed" if closed else "open",
        "user": {"login": "oncall"}, "labels": [{"name": "incident"}, {"name": "sev2"}],
        "created_at": ts(opened), "updated_at": ts(closed or opened), "closed_at": ts(closed) if closed else None,
        "html_url": f"https://github.com/{repo}/issues/{number}",
        "repository_url": f"https://api.github.com/repos/{repo}",
    }, scope=repo, cursor_value=ts(opened)) for ident, repo, number, opened, closed, body in GITHUB_INCIDENTS]
    jira = []
    for key, (ident, created, resolved, labels, root_cause, caused_by) in JIRA_INCIDENTS.items():
        links = [{"id": f"{ident}1", "type": {"id": "10003", "name": "Problem/Incident", "inward": "is caused by",
                                            "outward": "causes"},
                  "inwardIssue": {"id": "4242", "key": caused_by}}] if caused_by else []
        jira.append(RawRecord(ident, {
            "id": ident, "key": key, "self": f"{SITE}/rest/api/3/issue/{ident}",
            "fields": {
                "summary": f"{key} incident", "issuetype": {"name": "Incident"},
                "project": {"id": "10100", "key": "OPS"},
                "status": {"id": "10003", "name": "Done", "statusCategory": {"key": "done"}},
                "priority": {"name": "Highest"}, "labels": labels, "components": [],
                "created": f"2026-{created}:00.000+0000", "updated": f"2026-{resolved}:00.000+0000",
                "resolutiondate": f"2026-{resolved}:00.000+0000", ROOT_CAUSE_FIELD: root_cause,
                "issuelinks": links,
            },
        }, scope="OPS", cursor_value=f"2026-{resolved}:00.000+0000"))
    return [("github__issues", GH, issues), ("jira__issues", JIRA, jira)]


def production(*environments: str) -> dict:
    rules = DeploymentRules(production_environments=list(environments)).for_dbt()
    return rules


DBT_VARS = {
    "deployment_rules": {GH: production("production-eu", "production-us"),
                         GHE: production("production-eu", "production-us")},
    "jira_incident_fields": {"root_cause_sha": ROOT_CAUSE_FIELD},
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("dora")
    path = work_dir / "throughline.duckdb"
    load_raw(path, [*deployment_records(GH, DEPLOYMENTS), *deployment_records(GHE, MIRRORED),
                    *pull_request_records(), *incident_records()])
    # Only the relations the tests query (warehouse.only says why that is enough).
    marts = ("deployments", "deployment_changes", "pull_request_cycle_times", "incidents", "dora_metrics_weekly",
             "dora_metrics_monthly", "dora_performance")
    run_dbt(["build", *only(*marts), *WITHOUT_UNIT_TESTS, "--vars", json.dumps(DBT_VARS)], path, work_dir)
    return path


def key(ident: int, instance: str = GH) -> str:
    return f"{instance}:{ident}"


def deployments(path) -> dict[str, dict]:
    return {row["deployment_key"]: row for row in query_dicts(path, "SELECT * FROM marts.deployments")}


def test_every_production_deployment_once_with_its_previous_success(warehouse):
    rows = deployments(warehouse)
    # 11 production deployments of gh; the staging one is not production; ghe:9002 is gh:3002 again
    assert sorted(rows) == sorted(key(i) for i, d in DEPLOYMENTS.items() if d[1] != "staging")
    assert rows[key(3002)]["also_reported_as"] == "ghe:9002"
    previous = {k: r["previous_deployment_key"] for k, r in rows.items()}
    assert previous[key(2001)] is None and previous[key(2011)] is None
    assert previous[key(2003)] == key(2001)  # S2 failed: the previous success is S1
    assert previous[key(2004)] == key(2003)
    assert previous[key(2012)] == key(2011)  # per environment
    assert rows[key(2002)]["status"] == "failure"
    assert rows[key(2002)]["duration_hours"] == 0.5
    assert (rows[key(2001)]["team"], rows[key(3001)]["team"]) == ("Checkout", "Payments")


def test_rollback_and_hotfix_flags(warehouse):
    rows = deployments(warehouse)
    flags = {k: (r["is_rollback"], r["is_hotfix"], r["is_rework"]) for k, r in rows.items()}
    assert flags[key(2005)] == (True, False, True)
    assert flags[key(2006)] == (False, True, True)
    assert sorted(k for k, f in flags.items() if any(f)) == [key(2005), key(2006)]


def test_change_sets_overlap_after_a_failed_deployment(warehouse):
    rows = deployments(warehouse)
    counts = {k: (r["change_count"], r["pull_request_count"]) for k, r in rows.items()}
    assert counts == {
        # S6 was 11 commits / 2 PRs (#3 and #4) when every compare set counted: S4's 10 commits came back
        # after the rollback S5, but they shipped with S4; S6 ships m4 alone (PR #4)
        key(2001): (0, 0), key(2002): (1, 1), key(2003): (3, 2), key(2004): (10, 1), key(2005): (0, 0),
        key(2006): (1, 1), key(2011): (0, 0), key(2012): (14, 4), key(3001): (0, 0), key(3002): (1, 1),
        key(3003): (1, 0),
    }
    shipped = query(warehouse, "SELECT commit_sha FROM marts.deployment_changes WHERE deployment_key = ? ORDER BY 1",
                    [key(2003)])
    assert shipped == sorted([(sha("m1"),), (sha("p2a"),), (sha("m2"),)])


def test_commits_find_their_pull_request_whatever_the_merge_method(warehouse):
    rows = query(warehouse, """
        SELECT commit_sha, pull_request_number, pull_request_match FROM marts.deployment_changes
        WHERE deployment_key = ? ORDER BY commit_sha""", [key(2012)])
    matched = {commit: (number, match) for commit, number, match in rows}
    assert matched[sha("m1")] == (1, "merge_commit")          # squash
    assert matched[sha("p2a")] == (2, "pull_request_commit")  # merge commit keeps the PR's commit
    assert matched[sha("m2")] == (2, "merge_commit")
    assert matched[sha("r3a")] == (3, "rebased_commit")       # rebase: new sha, same author date and message
    assert matched[sha("r3b")] == (3, "merge_commit")
    assert matched[sha("d1")] == (None, None)                 # a direct push has no PR
    assert matched[sha("m4")] == (4, "merge_commit")
    first = query(warehouse, """
        SELECT deployment_key FROM marts.deployment_changes WHERE commit_sha = ? AND is_first_production_deployment""",
        [sha("m1")])
    assert first == [(key(2003),)]  # not S2 (failed), not U2 (later)


def test_pull_request_cycle_times(warehouse):
    rows = {r["pull_request_number"]: r for r in query_dicts(warehouse, "SELECT * FROM marts.pull_request_cycle_times")}
    expected = {  # coding, pickup, review, deploy, lead time, first deployment, environments reached
        1: (7.0, 2.0, 15.0, 3.0, 27.0, 2003, 2),
        2: (0.5, 1.0, 1.5, 1.0, 4.0, 2003, 2),
        3: (1.5, 1.5, 1.0, 16.0, 20.0, 2004, 2),
        4: (0.25, 0.75, 0.5, 0.5, 2.0, 2006, 2),
        5: (1.0, 17.0, 1.0, 1.0, 20.0, 3002, 1),
    }
    for number, (coding, pickup, review, deploy, lead, first, environments) in expected.items():
        row = rows[number]
        assert (row["coding_hours"], row["pickup_hours"], row["review_hours"], row["deploy_hours"],
                row["lead_time_hours"]) == pytest.approx((coding, pickup, review, deploy, lead)), number
        assert row["first_deployment_key"] == key(first), number
        assert row["production_environment_count"] == environments, number
    assert rows[1]["first_response_at"] == at("01-05T18:00")  # not alice's own comment, not the bot's
    assert rows[1]["approved_at"] == at("01-06T08:00")
    assert rows[2]["first_response_at"] == at("01-06T09:30")  # a timeline comment is a response
    assert rows[4]["first_deployment_environment"] == "production-eu"
    assert rows[5]["team"] == "Payments"


def test_incidents_explicit_link_first_then_window_and_unattributed_kept(warehouse):
    rows = {r["display_key"]: r for r in query_dicts(warehouse, "SELECT * FROM marts.incidents")}
    attributed = {k: (r["caused_by_deployment_key"], r["attribution"]) for k, r in rows.items()}
    assert attributed == {
        f"{SHOP}#10": (key(2004), "explicit_deployment"),
        f"{SHOP}#11": (key(2004), "window"),
        "OPS-1": (key(2004), "window"),
        "OPS-2": (key(3002), "root_cause_commit"),
        "OPS-3": (key(2006), "linked_issue"),
        f"{PAY}#3": (None, "unattributed"),
    }
    assert rows["OPS-1"]["service"] == SHOP and rows["OPS-1"]["team"] == "Checkout"
    assert rows["OPS-1"]["restore_hours"] == 6.0
    assert rows[f"{PAY}#3"]["resolved_at"] is None
    assert rows[f"{SHOP}#10"]["severity"] == "sev2"


def test_one_deployment_with_three_incidents_and_ten_commits_is_one_change_failure(warehouse):
    s4 = deployments(warehouse)[key(2004)]
    assert (s4["incident_count"], s4["change_count"], s4["is_followed_by_remediation"]) == (3, 10, True)
    assert s4["is_change_failure"]
    week = query_dicts(warehouse, """
        SELECT * FROM marts.dora_metrics_weekly
        WHERE period_start = DATE '2026-01-05' AND grouping_level = 'service' AND service = ?""", [SHOP])[0]
    # attempts S1..S6 + U1, U2 = 8; change failures S2, S4, S6 = 3 (S4 once, not 3 incidents x 10 commits)
    assert (week["deployment_attempts"], week["change_failures"], week["change_failure_rate"]) == (8, 3, 0.375)


def test_change_failures_and_recovery(warehouse):
    rows = deployments(warehouse)
    failures = {k: (r["failure_started_at"], r["recovered_at"], r["recovery_hours"])
                for k, r in rows.items() if r["is_change_failure"]}
    assert failures == {
        key(2002): (at("01-06T10:30"), at("01-06T12:00"), 1.5),
        key(2004): (at("01-07T10:00"), at("01-07T20:00"), 10.0),
        key(2006): (at("01-09T09:00"), at("01-09T11:00"), 2.0),
        key(3002): (at("01-14T12:00"), at("01-14T18:00"), 6.0),
    }
    # the rollback S5 is followed by the hotfix S6 but is not blamed for it
    assert not rows[key(2005)]["is_change_failure"]


def test_dora_metrics_weekly(warehouse):
    rows = query(warehouse, """
        SELECT period_start, grouping_level, team, service, deployments, deployment_days, deployments_per_day,
               deployment_days_per_week, lead_time_changes, lead_time_p50_hours, lead_time_p85_hours,
               deployment_attempts, change_failures, change_failure_rate, recoveries, recovery_time_p50_hours,
               rework_deployments, rework_rate, incidents, unattributed_incidents
        FROM marts.dora_metrics_weekly ORDER BY period_start, grouping_level, team, service""")
    w1, w2, w3 = date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)
    # week 01-05, checkout: 7 successes on 4 days (01-05..01-08); lead times 27, 4, 20, 2 -> sorted 2, 4, 20, 27:
    # p50 = (4 + 20) / 2 = 12, p85 at position 0.85 * 3 = 2.55 -> 20 + 0.55 * (27 - 20) = 23.85;
    # change failures S2, S4, S6 = 3 / 8; recoveries 1.5, 10, 2 -> p50 2; rework S5, S6 = 2 / 8;
    # incidents I1, I2, OPS-1, OPS-3
    shop_w1 = (7, 4, 1.0, 4.0, 4, 12.0, 23.85, 8, 3, 0.375, 3, 2.0, 2, 0.25, 4, 0)
    # week 01-12, payments: A1, A2, A3 on 3 days, 3/7 a day; lead 20; A2 failed (I5): 1/3; recovery 6
    pay_w2 = (3, 3, 3 / 7, 3.0, 1, 20.0, 20.0, 3, 1, 1 / 3, 1, 6.0, 0, 0.0, 1, 0)
    quiet = (0, 0, 0.0, 0.0, 0, None, None, 0, 0, None, 0, None, 0, None, 0, 0)
    pay_w3 = (0, 0, 0.0, 0.0, 0, None, None, 0, 0, None, 0, None, 0, None, 1, 1)  # I4, unattributed
    expected = [
        (w1, "overall", "all", "all", *shop_w1),
        (w1, "service", "Checkout", SHOP, *shop_w1),
        (w1, "team", "Checkout", "all", *shop_w1),
        (w2, "overall", "all", "all", *pay_w2),
        (w2, "service", "Checkout", SHOP, *quiet),
        (w2, "service", "Payments", PAY, *pay_w2),
        (w2, "team", "Checkout", "all", *quiet),
        (w2, "team", "Payments", "all", *pay_w2),
        (w3, "overall", "all", "all", *pay_w3),
        (w3, "service", "Checkout", SHOP, *quiet),
        (w3, "service", "Payments", PAY, *pay_w3),
        (w3, "team", "Checkout", "all", *quiet),
        (w3, "team", "Payments", "all", *pay_w3),
    ]
    assert [r[:4] for r in rows] == [e[:4] for e in expected]
    for row, want in zip(rows, expected):
        assert row == pytest.approx(want), row[:4]


def test_dora_metrics_monthly_overall(warehouse):
    row = query_dicts(warehouse, """
        SELECT * FROM marts.dora_metrics_monthly WHERE grouping_level = 'overall'""")
    assert len(row) == 1
    month = row[0]
    # January: 10 successes on 7 days (01-05..08, 12..14) of 31; lead times 2, 4, 20, 20, 27: p50 20,
    # p85 at 0.85 * 4 = 3.4 -> 20 + 0.4 * 7 = 22.8; 4 change failures of 11 attempts; recoveries 1.5, 2, 6, 10
    # -> p50 (2 + 6) / 2 = 4
    assert (month["period_start"], month["days_in_period"], month["deployments"], month["deployment_days"]) == (
        date(2026, 1, 1), 31, 10, 7)
    assert month["deployments_per_day"] == pytest.approx(10 / 31)
    assert month["deployment_days_per_week"] == pytest.approx(7 * 7 / 31)
    assert (month["lead_time_p50_hours"], month["lead_time_p85_hours"]) == pytest.approx((20.0, 22.8))
    assert (month["change_failures"], month["deployment_attempts"]) == (4, 11)
    assert month["recovery_time_p50_hours"] == 4.0
    assert month["rework_rate"] == pytest.approx(2 / 11)
    assert (month["incidents"], month["unattributed_incidents"]) == (6, 1)


def test_dora_performance_tiers_per_report_year(warehouse):
    rows = query(warehouse, """
        SELECT report_year, metric, tier, is_within_range FROM marts.dora_performance
        WHERE grouping_level = 'overall' AND report_year IN (2021, 2024) ORDER BY report_year, metric""")
    assert rows == [
        # 36.4% (4/11) is 6.4 points above 2021's 16-30%, which high, medium and low share: the better tier
        (2021, "change_failure_rate", "high", False),
        # 20 h falls between "less than one hour" and "one day to one week": nearer to a day (ratio 1.2 vs 20)
        (2021, "change_lead_time", "high", False),
        # 0.32 a day is above "once per week to once per month", below elite's once a day: ratio 2.26 vs 3.1
        (2021, "deployment_frequency", "high", False),
        (2021, "failed_deployment_recovery_time", "high", True),
        # 36.4% is nearest the 2024 low cluster's 40% (high 20%, medium 10%)
        (2024, "change_failure_rate", "low", False),
        (2024, "change_lead_time", "elite", True),     # 20 h: less than one day
        (2024, "deployment_frequency", "high", True),  # between once a week and once a day
        # 4 h: "less than one day" is both high and medium in 2024: the better tier
        (2024, "failed_deployment_recovery_time", "high", True),
    ]
    sources = query(warehouse, "SELECT DISTINCT benchmark_source FROM marts.dora_performance WHERE report_year = 2024")
    assert all("dora.dev/research/2024" in s for (s,) in sources)


def test_rework_rule_is_configuration(warehouse, tmp_path):
    """With rework_deployment_kinds = [during_incident] only S5 is rework: it started 01-07 16:00 while OPS-1
    (14:00-20:00) was open. S6 (01-08 09:45), U2 (11:50) and A3 (01-14 09:45, before I5 at 12:00) were
    deployed with no incident of their service open. Rebuilt on a copy, so the other tests keep the default."""
    import shutil

    copy = tmp_path / "rework.duckdb"
    shutil.copy(warehouse, copy)
    variables = {**DBT_VARS, "rework_deployment_kinds": ["during_incident"]}
    run_dbt(["run", "--select", "int_deployment_outcomes", "deployments", "--vars", json.dumps(variables)],
            copy, tmp_path)
    assert query(copy, "SELECT deployment_key FROM marts.deployments WHERE is_rework") == [(key(2005),)]
    with pytest.raises(AssertionError, match="'redeploy' is not one of rollback, hotfix, during_incident"):
        run_dbt(["run", "--select", "int_deployment_outcomes", "--vars",
                 json.dumps({**DBT_VARS, "rework_deployment_kinds": ["redeploy"]})], copy, tmp_path)
