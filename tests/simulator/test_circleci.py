"""The CircleCI mount: shapes, page tokens, auth, faults, and history derived from the Org.

Expected values come from scenarios.tiny_org (6 default-branch commits, 5 GitHub deployments) and the
derivation rules in simulator/circleci_api.py.
"""

from __future__ import annotations

import pytest
import requests

from simulator import SimulatorServer, tiny_org

SLUG = "gh/acme/checkout"


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), mount_options={"circleci": {"tokens": {"good"}, "page_size": 4}}) as server:
        yield server


def get(sim, path, token="good", **params):
    return requests.get(f"{sim.url}/circleci/api/v2/{path}", params=params, headers={"Circle-Token": token},
                        timeout=5)


def all_items(sim, path):
    items, token = [], None
    while True:
        body = get(sim, path, **({"page-token": token} if token else {})).json()
        items += body["items"]
        token = body["next_page_token"]
        if token is None:
            return items


def test_pipelines_are_newest_first_in_token_pages(sim):
    first = get(sim, f"project/{SLUG}/pipeline").json()
    assert len(first["items"]) == 4 and first["next_page_token"]
    pipelines = all_items(sim, f"project/{SLUG}/pipeline")
    # 6 commits (CI pipelines) + 5 deployments = 11, numbered in creation order, listed newest first.
    assert [p["number"] for p in pipelines] == list(range(11, 0, -1))
    assert [p["created_at"] for p in pipelines] == sorted((p["created_at"] for p in pipelines), reverse=True)
    assert get(sim, f"project/{SLUG}/pipeline", **{"page-token": "forged"}).status_code == 400


def test_deployments_become_deploy_jobs_with_their_outcome(sim):
    deploys = []
    for pipeline in all_items(sim, f"project/{SLUG}/pipeline")[::-1]:
        for workflow in all_items(sim, f"pipeline/{pipeline['id']}/workflow"):
            jobs = all_items(sim, f"workflow/{workflow['id']}/job")
            if workflow["name"] == "build-test-deploy":
                deploy = jobs[-1]
                deploys.append((pipeline["vcs"]["revision"][:7], deploy["name"], deploy["status"],
                                deploy["started_at"], deploy["stopped_at"], workflow["status"]))
                # production deploys wait for an approval job first
                assert [j["type"] for j in jobs[:-1]] == (
                    ["build", "approval"] if deploy["name"] == "deploy-production" else ["build"])
            else:
                assert workflow["name"] == "build-test" and [j["name"] for j in jobs] == ["build", "test"]
    shas = {d["id"]: d["sha"][:7] for d in sim.org.repos["acme/checkout"].deployments.values()}
    # tiny_org deployments 101-105: production c1 success, staging c2, production c3 failure, c4, c5
    assert deploys == [
        (shas[101], "deploy-production", "success", "2026-01-05T15:00:00Z", "2026-01-05T15:10:00Z", "success"),
        (shas[102], "deploy-staging", "success", "2026-01-06T15:00:00Z", "2026-01-06T15:05:00Z", "success"),
        (shas[103], "deploy-production", "failed", "2026-01-07T15:00:00Z", "2026-01-07T15:20:00Z", "failed"),
        (shas[104], "deploy-production", "success", "2026-01-08T15:00:00Z", "2026-01-08T15:10:00Z", "success"),
        (shas[105], "deploy-production", "success", "2026-01-13T15:00:00Z", "2026-01-13T15:10:00Z", "success"),
    ]


def test_bad_token_and_unknown_objects_answer_in_circleci_shapes(sim):
    assert get(sim, f"project/{SLUG}/pipeline", token="bad").json() == {"message": "You must log in first."}
    assert get(sim, f"project/{SLUG}/pipeline", token="bad").status_code == 401
    basic = requests.get(f"{sim.url}/circleci/api/v2/project/{SLUG}/pipeline", auth=("good", ""), timeout=5)
    assert basic.status_code == 200
    missing = get(sim, "project/gh/acme/nope/pipeline")
    assert (missing.status_code, missing.json()) == (404, {"message": "Project not found"})
    assert get(sim, "pipeline/00000000-0000-4000-8000-000000000000/workflow").status_code == 404
    followed = requests.get(f"{sim.url}/circleci/api/v1.1/projects", headers={"Circle-Token": "good"}, timeout=5)
    assert [(p["username"], p["reponame"]) for p in followed.json()] == [("acme", "checkout")]


def test_faults_use_circleci_shapes(sim):
    sim.faults.add("/circleci/", "rate_limit", times=1, retry_after=7)
    sim.faults.add("/circleci/", "rate_limit", times=1, retry_after=None)
    sim.faults.add("/circleci/", "unauthorized", times=1)
    sim.faults.add("/circleci/", "server_error", times=1, status=502)
    first, second = get(sim, f"project/{SLUG}/pipeline"), get(sim, f"project/{SLUG}/pipeline")
    assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
    assert first.json() == {"message": "Too many requests"}
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert get(sim, f"project/{SLUG}/pipeline").json() == {"message": "You must log in first."}
    gateway = get(sim, f"project/{SLUG}/pipeline")
    assert gateway.status_code == 502 and gateway.headers["Content-Type"].startswith("text/html")
    assert get(sim, f"project/{SLUG}/pipeline").status_code == 200


def test_generated_org_has_failures_a_rollback_and_a_running_deploy():
    from simulator import generate_org

    with SimulatorServer(generate_org(seed=7, scale=1)) as server:
        api = server.mounts["circleci"]
        # acme/payments-api-worker: the Payments service's second repository (issue 18)
        assert sorted(api.projects) == ["gh/acme/checkout-web", "gh/acme/payments-api",
                                        "gh/acme/payments-api-worker", "gh/acme/platform-infra"]
        names = [(w["name"], w["status"]) for ws in api.workflows.values() for w in ws]
        deploy_jobs = [j for js in api.jobs.values() for j in js if "deploy-" in j["name"] and j["type"] == "build"]
        github_deployments = sum(len(s.deployments) for s in server.org.repos.values())
        assert len(deploy_jobs) == github_deployments  # one deploy job per GitHub deployment
        assert ("build-test-deploy", "failed") in names and ("build-test-deploy", "running") in names
        assert any(name == "rollback" for name, _ in names)
        assert {j["name"] for j in deploy_jobs} >= {"deploy-production", "deploy-staging", "rollback-deploy-production"}
