"""The GitLab mount: data derived from the Org as its docstring says, GitLab's paging, auth, limits and errors."""

from __future__ import annotations

import time

import pytest
import requests

from simulator import SimulatorServer, generate_org, tiny_org
from simulator.gitlab_api import GitLabData

PROJECT = "/gitlab/api/v4/projects/acme%2Fcheckout-infra"


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), mount_options={"gitlab": {"tokens": {"good"}}}) as server:
        yield server


def get(sim, path, token="good", **params):
    return requests.get(sim.url + path, params=params, headers={"PRIVATE-TOKEN": token}, timeout=10)


def test_tiny_org_deployments_and_incident_are_the_documented_ones(sim):
    deployments = get(sim, PROJECT + "/deployments", order_by="updated_at", sort="asc").json()
    # Hand-derived from scenarios.tiny_org(): its five GitHub deployments an hour later, plus the rollback of
    # iid 1's sha 30 minutes after the production failure (16:20 -> 16:50, 10 minutes long).
    assert [(d["iid"], d["environment"]["name"], d["status"], d["created_at"], d["finished_at"],
             d["deployable"]["name"]) for d in deployments] == [
        (1, "production", "success", "2026-01-05T16:00:00.000Z", "2026-01-05T16:10:00.000Z", "deploy-production"),
        (2, "staging", "success", "2026-01-06T16:00:00.000Z", "2026-01-06T16:05:00.000Z", "deploy-staging"),
        (3, "production", "failed", "2026-01-07T16:00:00.000Z", "2026-01-07T16:20:00.000Z", "deploy-production"),
        (4, "production", "success", "2026-01-07T16:50:00.000Z", "2026-01-07T17:00:00.000Z", "rollback-production"),
        (5, "production", "success", "2026-01-08T16:00:00.000Z", "2026-01-08T16:10:00.000Z", "deploy-production"),
        (6, "production", "success", "2026-01-13T16:00:00.000Z", "2026-01-13T16:10:00.000Z", "deploy-production"),
    ]
    assert deployments[3]["sha"] == deployments[0]["sha"] != deployments[2]["sha"]
    incidents = get(sim, PROJECT + "/issues", issue_type="incident").json()
    assert [(i["iid"], i["state"], i["created_at"], i["closed_at"]) for i in incidents] == [
        (1, "closed", "2026-01-07T16:30:00.000Z", "2026-01-07T17:00:00.000Z")]
    assert incidents[0]["description"] == f"Caused by deployment {deployments[2]['id']}."
    assert len(get(sim, PROJECT + "/issues").json()) == 2  # plus one ordinary issue
    environments = get(sim, PROJECT + "/environments").json()
    assert [(e["name"], e["tier"]) for e in environments] == [("production", "production"), ("staging", "staging")]


def test_derivation_is_deterministic_and_covers_every_repository_with_commits():
    first, second = GitLabData(generate_org(seed=7, scale=1)), GitLabData(generate_org(seed=7, scale=1))
    assert sorted(first.projects) == ["acme/checkout-web-infra", "acme/legacy-billing-infra",
                                      "acme/payments-api-infra", "acme/payments-api-worker-infra",
                                      "acme/platform-infra-infra"]  # the worker: issue 18
    for path, project in first.projects.items():
        other = second.projects[path]
        assert project.deployments == other.deployments and project.merge_requests == other.merge_requests
    statuses = {d["status"] for p in first.projects.values() for d in p.deployments}
    assert {"success", "failed"} <= statuses
    rollbacks = [d for p in first.projects.values() for d in p.deployments if d["deployable"]["name"] == "rollback-production"]
    assert rollbacks  # the demo shows a rollback


def test_offset_pages_name_the_next_page_in_headers(sim):
    first = get(sim, PROJECT + "/pipelines", per_page=4)
    assert first.headers["X-Next-Page"] == "2" and first.headers["X-Total"] == "6"
    assert first.headers["X-Total-Pages"] == "2" and 'rel="next"' in first.headers["Link"]
    last = get(sim, PROJECT + "/pipelines", per_page=4, page=2)
    assert last.headers["X-Next-Page"] == "" and len(last.json()) == 2
    ids = [p["id"] for p in first.json() + last.json()]
    assert ids == sorted(ids, reverse=True)  # GitLab's default: newest id first


def test_project_jobs_keyset_pages_only_through_link(sim):
    seen, url = [], sim.url + PROJECT + "/jobs?pagination=keyset&per_page=10&order_by=id&sort=desc"
    while url:
        response = requests.get(url, headers={"PRIVATE-TOKEN": "good"}, timeout=10)
        assert "X-Next-Page" not in response.headers
        seen += [j["id"] for j in response.json()]
        url = response.links.get("next", {}).get("url")
    # 6 pipelines x (build, test, deploy-staging) + 6 deploying jobs
    assert len(seen) == 24 and seen == sorted(seen, reverse=True) and len(set(seen)) == 24
    refused = get(sim, PROJECT + "/jobs", pagination="keyset", order_by="created_at")
    assert refused.status_code == 405 and "Keyset pagination" in refused.json()["error"]


def test_updated_after_filters_and_must_pair_with_updated_at_order(sim):
    later = get(sim, PROJECT + "/deployments", order_by="updated_at", sort="asc", updated_after="2026-01-08T00:00:00Z")
    assert [d["iid"] for d in later.json()] == [5, 6]
    unpaired = get(sim, PROJECT + "/deployments", updated_after="2026-01-08T00:00:00Z")
    assert unpaired.status_code == 400 and "must be paired" in unpaired.json()["message"]


def test_projects_by_encoded_path_or_id_and_unknown_ones(sim):
    project = get(sim, PROJECT).json()
    assert get(sim, f"/gitlab/api/v4/projects/{project['id']}").json() == project
    missing = get(sim, "/gitlab/api/v4/projects/acme%2Fnope/deployments")
    assert missing.status_code == 404 and missing.json() == {"message": "404 Project Not Found"}
    assert [p["path_with_namespace"] for p in get(sim, "/gitlab/api/v4/groups/acme/projects").json()] == [
        "acme/checkout-infra"]


def test_tokens_private_token_or_bearer_and_401_otherwise(sim):
    assert get(sim, PROJECT, token="bad").status_code == 401
    assert get(sim, PROJECT, token="bad").json() == {"message": "401 Unauthorized"}
    bearer = requests.get(sim.url + PROJECT, headers={"Authorization": "Bearer good"}, timeout=10)
    assert bearer.status_code == 200 and "RateLimit-Remaining" in bearer.headers


def test_rate_limit_window_answers_429_with_retry_after():
    with SimulatorServer(tiny_org(), mount_options={"gitlab": {"rate_limit": 3, "rate_window": 30}}) as sim:
        codes = [get(sim, PROJECT) for _ in range(4)]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]
        assert [r.headers["RateLimit-Remaining"] for r in codes] == ["2", "1", "0", "0"]
        assert codes[3].text == "Retry later\n" and 1 <= int(codes[3].headers["Retry-After"]) <= 30
        assert int(codes[3].headers["RateLimit-Reset"]) >= time.time()


def test_faults_take_gitlab_shapes(sim):
    sim.faults.add(r"/gitlab/", "rate_limit", times=1, retry_after=None)
    sim.faults.add(r"/gitlab/", "rate_limit", times=1, retry_after=2)
    sim.faults.add(r"/gitlab/", "server_error", times=1)
    sim.faults.add(r"/gitlab/", "server_error", times=1, status=502)
    sim.faults.add(r"/gitlab/", "unauthorized", times=1)
    no_retry_after = get(sim, PROJECT)
    assert no_retry_after.status_code == 429 and "Retry-After" not in no_retry_after.headers
    assert no_retry_after.headers["RateLimit-Remaining"] == "0" and int(no_retry_after.headers["RateLimit-Reset"]) > time.time() - 1
    assert get(sim, PROJECT).headers["Retry-After"] == "2"
    assert get(sim, PROJECT).json() == {"message": "500 Internal Server Error"}
    assert get(sim, PROJECT).headers["Content-Type"].startswith("text/html")
    assert get(sim, PROJECT).json() == {"message": "401 Unauthorized"}
    assert get(sim, PROJECT).status_code == 200


def test_mutations_between_runs_bump_updated_at(sim):
    data = sim.mounts["gitlab"].data
    dep = data.add_deployment("acme/checkout-infra", "production", "2026-01-14T10:00:00Z", status="running")
    assert dep["finished_at"] is None and dep["iid"] == 7
    data.finish_deployment("acme/checkout-infra", 7, "success", "2026-01-14T10:09:00Z")
    [fresh] = get(sim, PROJECT + "/deployments", order_by="updated_at", updated_after="2026-01-14T00:00:00Z").json()
    assert (fresh["status"], fresh["updated_at"], fresh["deployable"]["status"]) == (
        "success", "2026-01-14T10:09:00.000Z", "success")
