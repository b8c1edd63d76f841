"""int_circleci__deployments: which CircleCI jobs and workflows are deployments under the deployment rules.

Hand-built raw rows (times UTC, 2026-01). Source `cc` has rules branches [main] and services
{gh/acme/*: shop}; source `cc2` has the defaults (job_pattern deploy|release|rollout|promote, any branch,
production environments production/prod/prd/live, default environment production).

cc, project gh/acme/shop
  P1 main sha a1  W1 build-test-deploy: j1 build; j2 hold-deploy-production (approval); j3 deploy-production
                  success 01-05 10:30-10:40; j4 deploy-staging failed 10:00:10-10:05
  P2 main sha b2  W2 release (09:00, stopped 09:12, success): jobs j5 build, j6 push-image (no job matches)
                  W3 deploy (09:20): j7 deploy-prod running since 09:21
  P3 feature/x    W4 deploy: j8 deploy-production success           -> not main: not a deployment
  P4 tag v1.0     W5 deploy: j9 deploy-production success           -> no branch: not a deployment
  P5 main sha e5  W6 rollback: j10 rollback-deploy-production canceled 01-09 12:01-12:02
cc2, project gh/other/site
  P6 hotfix/login sha f6  W7 deploy-live: j11 deploy failed 01-10 08:05-08:06

Worked out by hand:
  j3   shop production  prod  success      finished 10:40
  j4   shop staging     -     failure      finished 10:05 (the job name says staging)
  w2   shop production  prod  success      workflow-level (its name matches, none of its jobs does);
                                           created/started 09:00, finished 09:12
  j7   shop prod        prod  in_progress  no finish; W3 is not counted again (its job is)
  j10  shop production  prod  unknown      canceled: no outcome; a rollback by name
  j11  gh/other/site live prod failure     environment from the workflow name; a hotfix by branch
  j1, j5, j6 (names), j2 (approval), j8, j9 (branch rule) are not deployments.
"""

from __future__ import annotations

import json

from connectors.core.options import DeploymentRules
from connectors.core.raw import RawRecord
from tests.dbt.warehouse import load_raw, query_dicts, run_dbt


def pipeline(pid, slug, number, at, sha, branch=None, tag=None):
    vcs = {"revision": sha, "origin_repository_url": f"https://github.com/{slug.split('/', 1)[1]}"}
    vcs.update({"branch": branch} if branch else {"tag": tag})
    return RawRecord(pid, {"id": pid, "project_slug": slug, "number": number, "state": "created", "created_at": at,
                           "updated_at": at, "vcs": vcs, "errors": []}, None, slug, at)


def workflow(wid, pid, slug, name, at, status="success", stopped=None):
    return RawRecord(wid, {"id": wid, "pipeline_id": pid, "project_slug": slug, "name": name, "status": status,
                           "created_at": at, "stopped_at": stopped}, pid, slug)


def job(jid, wid, slug, name, status, started=None, stopped=None, kind="build"):
    return RawRecord(jid, {"id": jid, "name": name, "type": kind, "status": status, "project_slug": slug,
                           "started_at": started, "stopped_at": stopped}, wid, slug)


A, B = "gh/acme/shop", "gh/other/site"
D = "2026-01-0"

RAW = {
    "cc": {
        "pipelines": [
            pipeline("p1", A, 1, f"{D}5T10:00:00Z", "a1", "main"),
            pipeline("p2", A, 2, f"{D}6T09:00:00Z", "b2", "main"),
            pipeline("p3", A, 3, f"{D}7T09:00:00Z", "c3", "feature/x"),
            pipeline("p4", A, 4, f"{D}8T09:00:00Z", "d4", tag="v1.0"),
            pipeline("p5", A, 5, f"{D}9T12:00:00Z", "e5", "main"),
        ],
        "workflows": [
            workflow("w1", "p1", A, "build-test-deploy", f"{D}5T10:00:00Z", "failed", f"{D}5T10:40:00Z"),
            workflow("w2", "p2", A, "release", f"{D}6T09:00:00Z", "success", f"{D}6T09:12:00Z"),
            workflow("w3", "p2", A, "deploy", f"{D}6T09:20:00Z", "running"),
            workflow("w4", "p3", A, "deploy", f"{D}7T09:00:00Z", "success", f"{D}7T09:10:00Z"),
            workflow("w5", "p4", A, "deploy", f"{D}8T09:00:00Z", "success", f"{D}8T09:10:00Z"),
            workflow("w6", "p5", A, "rollback", f"{D}9T12:00:00Z", "canceled", f"{D}9T12:02:00Z"),
        ],
        "jobs": [
            job("j1", "w1", A, "build", "success", f"{D}5T10:00:10Z", f"{D}5T10:02:00Z"),
            job("j2", "w1", A, "hold-deploy-production", "success", f"{D}5T10:02:00Z", f"{D}5T10:30:00Z", "approval"),
            job("j3", "w1", A, "deploy-production", "success", f"{D}5T10:30:00Z", f"{D}5T10:40:00Z"),
            job("j4", "w1", A, "deploy-staging", "failed", f"{D}5T10:00:10Z", f"{D}5T10:05:00Z"),
            job("j5", "w2", A, "build", "success", f"{D}6T09:00:10Z", f"{D}6T09:05:00Z"),
            job("j6", "w2", A, "push-image", "success", f"{D}6T09:05:00Z", f"{D}6T09:12:00Z"),
            job("j7", "w3", A, "deploy-prod", "running", f"{D}6T09:21:00Z"),
            job("j8", "w4", A, "deploy-production", "success", f"{D}7T09:01:00Z", f"{D}7T09:10:00Z"),
            job("j9", "w5", A, "deploy-production", "success", f"{D}8T09:01:00Z", f"{D}8T09:10:00Z"),
            job("j10", "w6", A, "rollback-deploy-production", "canceled", f"{D}9T12:01:00Z", f"{D}9T12:02:00Z"),
        ],
    },
    "cc2": {
        "pipelines": [pipeline("p6", B, 1, "2026-01-10T08:00:00Z", "f6", "hotfix/login")],
        "workflows": [workflow("w7", "p6", B, "deploy-live", "2026-01-10T08:00:00Z", "failed", "2026-01-10T08:06:00Z")],
        "jobs": [job("j11", "w7", B, "deploy", "failed", "2026-01-10T08:05:00Z", "2026-01-10T08:06:00Z")],
    },
}


def test_rules_pick_deploy_jobs_and_workflows(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    load_raw(warehouse, [(f"circleci__{stream}", instance, records)
                         for instance, streams in RAW.items() for stream, records in streams.items()])
    rules = DeploymentRules(branches=["main"], services={"gh/acme/*": "shop"})
    run_dbt(["build", "--select", "+int_circleci__deployments",
             "--vars", json.dumps({"deployment_rules": {"cc": rules.for_dbt()}})], warehouse, tmp_path)
    rows = query_dicts(warehouse, """
        SELECT source_instance, deployment_id, service, repo, environment, is_production, status, source_status,
               sha, ref, is_rollback, is_hotfix, strftime(created_at, '%m-%d %H:%M') AS created,
               strftime(finished_at, '%m-%d %H:%M') AS finished
        FROM intermediate.int_circleci__deployments ORDER BY source_instance, deployment_id""")
    got = [(r["source_instance"], r["deployment_id"], r["service"], r["environment"], r["is_production"], r["status"],
            r["source_status"], r["sha"], r["ref"], r["is_rollback"], r["is_hotfix"], r["created"], r["finished"])
           for r in rows]
    assert got == [
        ("cc", "j10", "shop", "production", True, "unknown", "canceled", "e5", "main", True, False, "01-09 12:01", None),
        ("cc", "j3", "shop", "production", True, "success", "success", "a1", "main", False, False, "01-05 10:30",
         "01-05 10:40"),
        ("cc", "j4", "shop", "staging", False, "failure", "failed", "a1", "main", False, False, "01-05 10:00",
         "01-05 10:05"),
        ("cc", "j7", "shop", "prod", True, "in_progress", "running", "b2", "main", False, False, "01-06 09:21", None),
        ("cc", "w2", "shop", "production", True, "success", "success", "b2", "main", False, False, "01-06 09:00",
         "01-06 09:12"),
        ("cc2", "j11", "gh/other/site", "live", True, "failure", "failed", "f6", "hotfix/login", False, True,
         "01-10 08:05", "01-10 08:06"),
    ]
    assert {r["repo"] for r in rows} == {"acme/shop", "other/site"}


def test_a_deployment_github_and_circleci_both_report_counts_once_when_they_name_one_service(tmp_path):
    """scenarios.tiny_org: GitHub deployments 101-105 of acme/checkout (4 production, 1 staging); the
    CircleCI simulator runs each of them as a `deploy-<environment>` job on the same sha, starting when the
    GitHub deployment was created (15:00, its in_progress status too). Mapping gh/acme/checkout to the
    service acme/checkout makes each pair one deployment: 5 rows, GitHub's kept (both have a final outcome;
    GitHub is preferred), each listing the CircleCI job as its duplicate. Without the mapping: 10 rows."""
    from connectors import circleci, github
    from connectors.config import parse_config
    from connectors.core.raw import RawStore
    from simulator import SimulatorServer, tiny_org
    from tests.dbt.warehouse import RAW_TABLES

    warehouse = tmp_path / "w.duckdb"
    with SimulatorServer(tiny_org()) as sim:
        sources = parse_config({"sources": [
            {"type": "github", "name": "gh", "base_url": f"{sim.url}/github", "auth": {"token": "t"},
             "scope": {"repos": ["acme/checkout"]}},
            {"type": "circleci", "name": "cc", "base_url": f"{sim.url}/circleci", "auth": {"token": "t"},
             "scope": {"projects": ["gh/acme/checkout"]}},
        ]}, env={}).sources
        with RawStore(warehouse) as store:
            for table in RAW_TABLES:
                store.ensure_table(table)
            github.extract("deployments", sources[0], store)
            circleci.extract("pipelines", sources[1], store)
    same = DeploymentRules(services={"gh/acme/checkout": "acme/checkout"})
    # `run`, not `build`: the union reads every source's models, whose own tests are theirs to run.
    run_dbt(["run", "--select", "+int_deployments_unioned",
             "--vars", json.dumps({"deployment_rules": {"cc": same.for_dbt()}})], warehouse, tmp_path)
    rows = query_dicts(warehouse, """
        SELECT source, deployment_id, environment, status, len(duplicate_keys) AS duplicates
        FROM intermediate.int_deployments_unioned ORDER BY created_at""")
    assert [(r["source"], r["deployment_id"], r["environment"], r["status"], r["duplicates"]) for r in rows] == [
        ("github", "101", "production", "success", 1),
        ("github", "102", "staging", "success", 1),
        ("github", "103", "production", "failure", 1),
        ("github", "104", "production", "success", 1),
        ("github", "105", "production", "success", 1),
    ]
    duplicates = query_dicts(warehouse, """SELECT unnest(duplicate_keys) AS k FROM intermediate.int_deployments_unioned""")
    assert all(d["k"].startswith("cc:") for d in duplicates)

    run_dbt(["run", "--select", "int_deployment_services int_circleci__deployments int_deployments_unioned"],
            warehouse, tmp_path)
    assert query_dicts(warehouse, "SELECT count(*) AS n FROM intermediate.int_deployments_unioned") == [{"n": 10}]
