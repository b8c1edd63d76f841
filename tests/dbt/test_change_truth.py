"""Change sets and change requests on histories the demo organisation did not produce (issue 18): raw API
objects -> `dbt build` -> marts, every expected value worked out by hand below.

GitHub source `gh`, production environment `production`; the services glob `acme/shop-*` maps both
repositories acme/shop-web (W) and acme/shop-api (A) to the one service `shop`. GitLab source `gl`, project
acme/infra (G), production environment `production`. All times UTC, February 2026.

Deployments of acme/shop-web (id: start-finish, outcome, sha; compare commits as the connector reads them
against the previous deployment of the repository and environment whatever its outcome; a first deployment
gets the deployed sha's history back to start_date, in the same row shape):
  W1 4001 02-02 10:00-10:10 success  w0  first: history [w0, wa]
  W2 4002 02-03 10:00-10:20 FAILURE  w1  compare [w1]
  W3 4003 02-03 11:00-11:05 success  w0  named "Deploy", but w0 succeeded at W1: a rollback; compare (w1...w0) empty
  W4 4004 02-04 10:00-10:15 success  w2  compare (w0...w2) [w1, w2]
  W5 4005 02-05 10:00-10:05 success  w0  "Rollback" past W4 to w0; compare (w2...w0) empty
  W6 4006 02-05 12:00-12:10 success  w3  compare (w0...w3) [w1, w2, w3]
Deployments of acme/shop-api:
  A0 5000 02-02 11:00-11:10 success  a0  first: history [a0]
  A1 5001 02-03 10:30-10:40 FAILURE  a1  compare [a1]
  A2 5002 02-04 11:00-11:10 success  a2  compare [a1, p5a, a2] (p5a: PR #5's own commit, deployed from its
                                         branch before the merge)

Change sets (rule: per repository and environment, a commit ships with the first forward success, a success
whose sha never succeeded before there, at or after the deployment whose compare set first held it):
  W1 {w0, wa} = 2 (first deployment)        W2 {w1} = 1 (attempted, failed)
  W3 {} (rollback: it does NOT get W2's w1)  W4 {w1, w2} = 2 (w1 carried over from W2)
  W5 {} (rollback)                           W6 {w3} = 1: w1 and w2 came back in its compare set after the
                                             rollback past W4, but shipped with W4 and are not shipped twice
  A0 {a0} = 1                                A1 {a1} = 1 (attempted)
  A2 {a1, p5a, a2} = 3                      (per service, the old rule chained W3 after A1, so the rollback W3
                                             took a1 from the other repository)

Pull requests (number, repo: author; own commits authored; opened; responses; merged; merge commit):
  #1 W ada: p1a 02-01 08:00; opened 02-01 09:00; bob COMMENTED 02-01 10:00; merged 02-02 09:00; squash w0
     -> first deployment W1 (its sha is the merge commit): coding 1, pickup 1, review 23,
        deploy 09:00 -> 10:10 = 1.1667, lead 02-01 08:00 -> 02-02 10:10 = 26.1667
  #2 W ada: p2a 02-02 12:00; opened 02-02 13:00; bob comment 02-02 14:00, bob APPROVED 02-03 10:00 (after the
     merge: not the approval); merged 02-03 09:00; squash w1
     -> W2 failed, W3 is a rollback: first deployment W4 02-04 10:15: coding 1, pickup 1, review 19,
        deploy 02-03 09:00 -> 02-04 10:15 = 25.25, lead 02-02 12:00 -> 02-04 10:15 = 46.25 (the old rule
        gave W3, 02-03 11:05: lead 23.0833)
  #3 W cy: p3a 02-03 11:30; opened 02-03 12:00; only response bob COMMENTED 02-04 13:00, a day after the
     merge; merged 02-03 13:00; squash w2
     -> no response before the merge: first_response_at, pickup, review NULL (the old rule: pickup 25,
        review -24); W4: coding 0.5, deploy 21.25, lead 02-03 11:30 -> 02-04 10:15 = 22.75
  #4 A dee: p4a 02-03 08:00; opened 02-03 08:30; erin APPROVED 02-03 09:00; merged 02-03 10:00; squash a1
     -> A1 failed: A2 02-04 11:10: coding 0.5, pickup 0.5, review 1, deploy 25.1667, lead 27.1667
  #5 A dee: p5a 02-04 08:00; opened 02-04 08:30; no response; merged 02-04 12:00, merge commit m5 (never
     deployed); A2 (11:10) held p5a, deployed from the branch before the merge
     -> deploy_hours NULL (deployment recorded before the merge), lead 02-04 08:00 -> 11:10 = 3.1667
  #6 A dee: no commits loaded; opened 02-04 07:00; merged 02-04 09:00; squash a2
     -> first_commit_at, coding_hours, lead_time_hours NULL (the old rule: coding 0... lead from the merge);
        A2: deploy 02-04 09:00 -> 11:10 = 2.1667

GitLab acme/infra deployments (iid: start-finish, outcome, sha) and the merge requests GitLab linked to them
(`/deployments/:id/merge_requests`: on success, those merged since the previous successful deployment of the
environment up to the sha):
  G1 7001 02-02 10:00-10:10 success  g0   linked: none (MR !1 not merged yet)
  G2 7002 02-03 10:00-10:20 failed   g1   (GitLab links nothing to a failed deployment)
  G3 7003 02-03 11:00-11:05 success  g0   rollback: range g0..g0 holds nothing
  G4 7004 02-04 10:00-10:15 success  g2   linked: !1
MR !1 ada: commit authored 02-02 11:00; opened 02-02 12:00; bob note 02-02 13:00, bob "approved this merge
request" (system) 02-02 14:00, carol note 02-03 12:00 (after the merge); merged 02-03 09:00
  -> G4 02-04 10:15: coding 1, pickup 1, review 20, deploy 25.25, lead 02-02 11:00 -> 02-04 10:15 = 47.25
"""

from __future__ import annotations

import json

import pytest

from connectors.core.options import DeploymentRules
from connectors.core.raw import RawRecord

from .test_dora_marts import at, deployment_records, sha, ts
from .warehouse import WITHOUT_UNIT_TESTS, Batch, load_raw, only, query, query_dicts, run_dbt

GH, GL = "gh", "gl"
WEB, API, INFRA = "acme/shop-web", "acme/shop-api", "acme/infra"
PROD = "production"

# id -> (repo, environment, start, finish, final state, sha name, description, ref, compare commit names)
DEPLOYMENTS = {
    4001: (WEB, PROD, "02-02T10:00", "02-02T10:10", "success", "w0", "Deploy", "main", ["w0", "wa"]),
    4002: (WEB, PROD, "02-03T10:00", "02-03T10:20", "failure", "w1", "Deploy", "main", ["w1"]),
    4003: (WEB, PROD, "02-03T11:00", "02-03T11:05", "success", "w0", "Deploy", "main", []),
    4004: (WEB, PROD, "02-04T10:00", "02-04T10:15", "success", "w2", "Deploy", "main", ["w1", "w2"]),
    4005: (WEB, PROD, "02-05T10:00", "02-05T10:05", "success", "w0", "Rollback", "main", []),
    4006: (WEB, PROD, "02-05T12:00", "02-05T12:10", "success", "w3", "Deploy", "main", ["w1", "w2", "w3"]),
    5000: (API, PROD, "02-02T11:00", "02-02T11:10", "success", "a0", "Deploy", "main", ["a0"]),
    5001: (API, PROD, "02-03T10:30", "02-03T10:40", "failure", "a1", "Deploy", "main", ["a1"]),
    5002: (API, PROD, "02-04T11:00", "02-04T11:10", "success", "a2", "Deploy", "main", ["a1", "p5a", "a2"]),
}

# number -> (id, repo, author, opened, merged, merge commit, own commits [(name, authored)],
#            reviews [(state, at, user)], timeline comments [(at, user)])
PULLS = {
    1: (601, WEB, "ada", "02-01T09:00", "02-02T09:00", "w0", [("p1a", "02-01T08:00")],
        [("COMMENTED", "02-01T10:00", "bob")], []),
    2: (602, WEB, "ada", "02-02T13:00", "02-03T09:00", "w1", [("p2a", "02-02T12:00")],
        [("APPROVED", "02-03T10:00", "bob")], [("02-02T14:00", "bob")]),
    3: (603, WEB, "cy", "02-03T12:00", "02-03T13:00", "w2", [("p3a", "02-03T11:30")],
        [("COMMENTED", "02-04T13:00", "bob")], []),
    4: (604, API, "dee", "02-03T08:30", "02-03T10:00", "a1", [("p4a", "02-03T08:00")],
        [("APPROVED", "02-03T09:00", "erin")], []),
    5: (605, API, "dee", "02-04T08:30", "02-04T12:00", "m5", [("p5a", "02-04T08:00")], [], []),
    6: (606, API, "dee", "02-04T07:00", "02-04T09:00", "a2", [], [], []),
}


def commit(repo: str, name: str, login: str, authored: str) -> dict:
    return {"sha": sha(name), "url": f"https://api.github.com/repos/{repo}/commits/{sha(name)}",
            "commit": {"author": {"name": login.title(), "email": f"{login}@acme.test", "date": ts(authored)},
                       "committer": {"name": "GitHub", "email": "noreply@github.com", "date": ts(authored)},
                       "message": f"Change {name}\n\nbody"},
            "author": {"login": login}, "parents": [{"sha": sha(f"{name}-parent")}]}


def pull_request_records(pull_requests: dict | None = None) -> list[Batch]:
    """The raw rows of `pull_requests` (number -> PULLS' tuple; PULLS when None)."""
    pulls, commits, reviews, events = [], [], [], []
    for number, (ident, repo, author, opened, merged, merge_sha, own, review_list, comments) in (
            PULLS if pull_requests is None else pull_requests).items():
        pulls.append(RawRecord(str(ident), {
            "id": ident, "number": number, "state": "closed", "title": f"PR {number}", "user": {"login": author},
            "created_at": ts(opened), "updated_at": ts(merged), "closed_at": ts(merged), "merged_at": ts(merged),
            "merge_commit_sha": sha(merge_sha), "head": {"sha": sha(f"head-{number}"), "ref": f"feature-{number}"},
            "base": {"ref": "main", "repo": {"full_name": repo}}, "draft": False,
        }, scope=repo, cursor_value=ts(merged)))
        commits += [RawRecord(f"{ident}:{sha(name)}", commit(repo, name, author, authored), parent_key=str(ident),
                              scope=repo) for name, authored in own]
        for n, (state, when, user) in enumerate(review_list, start=1):
            reviews.append(RawRecord(str(ident * 100 + n), {
                "id": ident * 100 + n, "user": {"login": user}, "state": state, "submitted_at": ts(when),
                "pull_request_url": f"https://api.github.com/repos/{repo}/pulls/{number}",
            }, parent_key=str(ident), scope=repo))
        for n, (when, user) in enumerate(comments, start=1):
            events.append(RawRecord(f"{ident}:{ident * 1000 + n}", {
                "id": ident * 1000 + n, "event": "commented", "actor": {"login": user}, "created_at": ts(when),
            }, parent_key=str(ident), scope=repo))
    return [("github__pull_requests", GH, pulls), ("github__pull_request_commits", GH, commits),
            ("github__pull_request_reviews", GH, reviews), ("github__pull_request_timeline_events", GH, events)]


# GitLab: id -> (iid, start, finish, status, sha name, job name); linked MR ids per deployment id
GITLAB_DEPLOYMENTS = {
    7001: (1, "02-02T10:00", "02-02T10:10", "success", "g0", "deploy-production"),
    7002: (2, "02-03T10:00", "02-03T10:20", "failed", "g1", "deploy-production"),
    7003: (3, "02-03T11:00", "02-03T11:05", "success", "g0", "deploy-production"),
    7004: (4, "02-04T10:00", "02-04T10:15", "success", "g2", "deploy-production"),
}
MR_ID = 9001


def gitlab_records() -> list[Batch]:
    environment = {"id": 55, "name": PROD, "slug": PROD, "tier": "production"}
    deployments = [RawRecord(str(ident), {
        "id": ident, "iid": iid, "ref": "main", "sha": sha(sha_name), "status": status,
        "created_at": ts(start), "updated_at": ts(finish), "finished_at": ts(finish),
        "environment": {"id": 55, "name": PROD}, "user": {"username": "deploy-bot"},
        "deployable": {"id": ident * 10, "name": job, "stage": "deploy", "status": status,
                       "started_at": ts(start), "finished_at": ts(finish), "web_url": f"https://gl/{ident}"},
    }, scope=INFRA, cursor_value=ts(finish)) for ident, (iid, start, finish, status, sha_name, job)
        in GITLAB_DEPLOYMENTS.items()]
    mr = {"id": MR_ID, "iid": 1, "project_id": 77, "title": "Bigger runners", "state": "merged",
          "author": {"username": "ada"}, "created_at": ts("02-02T12:00"), "updated_at": ts("02-03T12:00"),
          "merged_at": ts("02-03T09:00"), "merge_commit_sha": sha("g-merge-1"), "target_branch": "main"}
    mr_commit = {"id": sha("g-1a"), "title": "Bigger runners", "author_name": "Ada", "author_email": "ada@acme.test",
                 "authored_date": ts("02-02T11:00"), "committed_date": ts("02-02T11:00")}
    notes = [(1, "bob", False, "Why 4 cores?", "02-02T13:00"),
             (2, "bob", True, "approved this merge request", "02-02T14:00"),
             (3, "carol", False, "Late thought", "02-03T12:00")]
    return [
        ("gitlab__environments", GL, [RawRecord("55", environment, scope=INFRA)]),
        ("gitlab__deployments", GL, deployments),
        ("gitlab__merge_requests", GL, [RawRecord(str(MR_ID), mr, scope=INFRA, cursor_value=mr["updated_at"])]),
        ("gitlab__merge_request_commits", GL, [RawRecord(f"{MR_ID}:{mr_commit['id']}", mr_commit,
                                                         parent_key=str(MR_ID), scope=INFRA)]),
        ("gitlab__merge_request_notes", GL, [RawRecord(str(n), {
            "id": n, "author": {"username": user}, "system": system, "body": body, "created_at": ts(when),
            "updated_at": ts(when), "noteable_id": MR_ID, "noteable_type": "MergeRequest",
        }, parent_key=str(MR_ID), scope=INFRA) for n, user, system, body, when in notes]),
        # GitLab linked !1 to G4 only: G2 failed, G3's range (g0..g0) is empty
        ("gitlab__deployment_merge_requests", GL, [RawRecord(f"7004:{MR_ID}", mr, parent_key="7004", scope=INFRA)]),
    ]


DBT_VARS = {"deployment_rules": {
    GH: DeploymentRules(production_environments=[PROD], services={"acme/shop-*": "shop"}).for_dbt(),
    GL: DeploymentRules(production_environments=[PROD]).for_dbt(),
}}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("change-truth")
    path = work_dir / "throughline.duckdb"
    load_raw(path, [*deployment_records(GH, DEPLOYMENTS), *pull_request_records(), *gitlab_records()])
    # Only the relations the tests query (warehouse.only says why that is enough).
    marts = ("deployments", "deployment_changes", "int_deployment_changes", "pull_request_cycle_times",
             "dora_metrics_weekly")
    run_dbt(["build", *only(*marts), *WITHOUT_UNIT_TESTS, "--vars", json.dumps(DBT_VARS)], path, work_dir)
    return path


def shipped(path, ident: int, instance: str = GH) -> list[str]:
    rows = query(path, "SELECT commit_sha FROM marts.deployment_changes WHERE deployment_key = ?",
                 [f"{instance}:{ident}"])
    names = {sha(n): n for n in ("w0", "wa", "w1", "w2", "w3", "a0", "a1", "a2", "p5a")}
    return sorted(names[commit_sha] for (commit_sha,) in rows)


def cycle_times(path) -> dict[tuple[str, int], dict]:
    return {(r["code_host"], r["pull_request_number"]): r
            for r in query_dicts(path, "SELECT * FROM marts.pull_request_cycle_times")}


def test_rollback_after_a_failure_ships_nothing_and_the_next_forward_deployment_ships_the_failed_commits(warehouse):
    assert shipped(warehouse, 4002) == ["w1"]          # attempted by the failed W2
    assert shipped(warehouse, 4003) == []              # W3 redeploys W1's w0: a rollback
    assert shipped(warehouse, 4004) == ["w1", "w2"]    # W2's w1 ships with the next forward success
    assert shipped(warehouse, 4005) == []              # rollback past W4
    assert shipped(warehouse, 4006) == ["w3"]          # w1, w2 are back in its compare set, shipped already
    compared_in = query(warehouse, """SELECT compared_in_deployment_key FROM intermediate.int_deployment_changes
                                      WHERE deployment_key = 'gh:4004' AND commit_sha = ?""", [sha("w1")])
    assert compared_in == [("gh:4002",)]
    first = query(warehouse, """SELECT deployment_key FROM marts.deployment_changes
                                WHERE commit_sha = ? AND is_first_production_deployment""", [sha("w1")])
    assert first == [("gh:4004",)]
    counts = {k: (r["change_count"], r["is_rollback"]) for k, r in
              ((r["deployment_key"], r) for r in query_dicts(warehouse, "SELECT * FROM marts.deployments"))}
    assert counts["gh:4003"] == (0, True) and counts["gh:4005"] == (0, True)
    assert counts["gh:4004"] == (2, False) and counts["gh:4006"] == (1, False)


def test_pull_request_lead_time_runs_to_the_forward_deployment(warehouse):
    row = cycle_times(warehouse)[("github", 2)]
    assert row["first_deployment_key"] == "gh:4004"   # not the rollback W3 (02-03 11:05, lead 23.0833 h)
    # 02-02 12:00 -> 02-04 10:15 = 46.25 h; merge 02-03 09:00 -> 02-04 10:15 = 25.25 h
    assert (row["lead_time_hours"], row["deploy_hours"]) == pytest.approx((46.25, 25.25))
    # bob's comment 02-02 14:00 is the response (pickup 1 h, review 19 h); his approval came after the merge
    assert (row["pickup_hours"], row["review_hours"], row["approved_at"]) == (pytest.approx(1.0), pytest.approx(19.0), None)


def test_a_service_over_two_repositories_chains_each_repository(warehouse):
    assert shipped(warehouse, 5000) == ["a0"]
    assert shipped(warehouse, 5001) == ["a1"]
    assert shipped(warehouse, 5002) == ["a1", "a2", "p5a"]  # a1 waited for A2, not for W3 of the other repo
    services = query(warehouse, "SELECT DISTINCT service FROM marts.deployment_changes")
    assert services == [("shop",)]  # rolled up per service after the chain
    row = cycle_times(warehouse)[("github", 4)]
    # 02-03 08:00 -> 02-04 11:10 = 27.1667 h; merged 10:00 -> 11:10 next day = 25.1667 h
    assert row["first_deployment_key"] == "gh:5002" and row["service"] == "shop"
    assert (row["coding_hours"], row["pickup_hours"], row["review_hours"], row["deploy_hours"],
            row["lead_time_hours"]) == pytest.approx((0.5, 0.5, 1.0, 25 + 1 / 6, 27 + 1 / 6))


def test_the_first_deployment_ships_its_history_and_the_pull_request_merged_as_its_sha(warehouse):
    assert shipped(warehouse, 4001) == ["w0", "wa"]
    row = cycle_times(warehouse)[("github", 1)]
    assert row["first_deployment_key"] == "gh:4001"
    # coding 08:00 -> 09:00, pickup 09:00 -> 10:00, review 02-01 10:00 -> 02-02 09:00, deploy 09:00 -> 10:10,
    # lead 02-01 08:00 -> 02-02 10:10
    assert (row["coding_hours"], row["pickup_hours"], row["review_hours"], row["deploy_hours"],
            row["lead_time_hours"]) == pytest.approx((1.0, 1.0, 23.0, 7 / 6, 26 + 1 / 6))
    # nothing counted twice: w0 is first shipped by W1 only, and W3/W5 (which redeploy it) list nothing
    first = query(warehouse, "SELECT deployment_key FROM marts.deployment_changes WHERE commit_sha = ?", [sha("w0")])
    assert first == [("gh:4001",)]


def test_comments_after_the_merge_are_not_pickup(warehouse):
    row = cycle_times(warehouse)[("github", 3)]
    assert (row["first_response_at"], row["pickup_hours"], row["review_hours"]) == (None, None, None)
    # coding 11:30 -> 12:00; deploy 02-03 13:00 -> 02-04 10:15; lead 02-03 11:30 -> 02-04 10:15
    assert (row["coding_hours"], row["deploy_hours"], row["lead_time_hours"]) == pytest.approx((0.5, 21.25, 22.75))


def test_a_deployment_recorded_before_the_merge_leaves_deploy_time_null(warehouse):
    row = cycle_times(warehouse)[("github", 5)]
    assert row["first_deployment_key"] == "gh:5002" and row["first_deployed_at"] == at("02-04T11:10")
    assert row["deploy_hours"] is None
    assert row["lead_time_hours"] == pytest.approx(3 + 1 / 6)  # 08:00 -> 11:10, in order


def test_a_merged_pull_request_without_commits_has_no_coding_or_lead_time(warehouse):
    row = cycle_times(warehouse)[("github", 6)]
    assert (row["first_commit_at"], row["coding_hours"], row["lead_time_hours"]) == (None, None, None)
    assert row["deploy_hours"] == pytest.approx(2 + 1 / 6)  # 09:00 -> 11:10


def test_a_gitlab_merge_request_gets_its_lead_time_from_the_deployment_that_shipped_it(warehouse):
    row = cycle_times(warehouse)[("gitlab", 1)]
    assert row["pull_request_key"] == f"gl:{MR_ID}" and row["repo"] == INFRA and row["source_instance"] == GL
    assert row["first_deployment_key"] == "gl:7004" and row["first_deployed_at"] == at("02-04T10:15")
    assert row["first_response_at"] == at("02-02T13:00") and row["approved_at"] == at("02-02T14:00")
    # coding 11:00 -> 12:00, pickup 12:00 -> 13:00, review 02-02 13:00 -> 02-03 09:00, deploy 09:00 -> 02-04
    # 10:15, lead 02-02 11:00 -> 02-04 10:15
    assert (row["coding_hours"], row["pickup_hours"], row["review_hours"], row["deploy_hours"],
            row["lead_time_hours"]) == pytest.approx((1.0, 1.0, 20.0, 25.25, 47.25))
    assert row["production_environment_count"] == 1
    # GitLab production deployments now carry lead times in the DORA marts too
    weekly = query(warehouse, """SELECT lead_time_changes FROM marts.dora_metrics_weekly
                                 WHERE grouping_level = 'service' AND service = ? AND period_start = DATE '2026-02-02'""",
                   [INFRA])
    assert weekly == [(1,)]
