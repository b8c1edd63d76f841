"""Fault injection fires exactly as configured; credentials are checked the way each API checks them."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from simulator import SimulatorServer, tiny_org

JIRA_SEARCH = "/jira/rest/api/3/search/jql?jql=project%20%3D%20FLOW"
GITHUB_PULLS = "/github/repos/acme/checkout/pulls"


def test_a_fault_fires_the_configured_number_of_times_then_stops(tiny_sim, http):
    tiny_sim.faults.add(r"/search/jql", "server_error", times=2)
    codes = [http.get(tiny_sim.url + JIRA_SEARCH).status_code for _ in range(4)]
    assert codes == [500, 500, 200, 200]
    assert tiny_sim.request_count("/jira/rest/api/3/search/jql") == 4
    assert tiny_sim.request_count("/jira/rest/api/3/search/jql", status=500) == 2
    assert tiny_sim.faults.active() == []


def test_faults_only_touch_matching_requests_and_methods(tiny_sim, http):
    tiny_sim.faults.add(r"^/github/.*/deployments", "server_error", times=1, status=503, method="GET")
    assert http.get(tiny_sim.url + GITHUB_PULLS).status_code == 200
    response = http.get(tiny_sim.url + "/github/repos/acme/checkout/deployments")
    assert response.status_code == 503 and response.headers["Content-Type"].startswith("text/html")
    assert http.get(tiny_sim.url + "/github/repos/acme/checkout/deployments").status_code == 200


def test_rate_limit_fault_on_jira_and_github(tiny_sim, http):
    tiny_sim.faults.add(r"/jira/", "rate_limit", times=1, retry_after=3)
    tiny_sim.faults.add(r"/github/", "rate_limit", times=1, retry_after=None)
    jira = http.get(tiny_sim.url + JIRA_SEARCH)
    assert jira.status_code == 429 and jira.headers["Retry-After"] == "3"
    assert set(jira.json()) == {"errorMessages", "errors"}
    github = http.get(tiny_sim.url + GITHUB_PULLS)
    assert github.status_code == 429 and "Retry-After" not in github.headers
    assert github.headers["X-RateLimit-Remaining"] == "0" and int(github.headers["X-RateLimit-Reset"]) > 0
    assert http.get(tiny_sim.url + GITHUB_PULLS).status_code == 200


def test_github_rate_limit_fault_can_be_a_403(tiny_sim, http):
    tiny_sim.faults.add(GITHUB_PULLS, "rate_limit", status=403, retry_after=60)
    response = http.get(tiny_sim.url + GITHUB_PULLS)
    assert response.status_code == 403 and response.headers["Retry-After"] == "60"


def test_malformed_json_fault(tiny_sim, http):
    tiny_sim.faults.add(r"search/jql", "malformed_json", times=1)
    response = http.get(tiny_sim.url + JIRA_SEARCH)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)
    assert http.get(tiny_sim.url + JIRA_SEARCH).json()["issues"]


def test_connection_reset_fault(tiny_sim):
    tiny_sim.faults.add(r"search/jql", "connection_reset", times=2)
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            requests.get(tiny_sim.url + JIRA_SEARCH, timeout=5)
    assert requests.get(tiny_sim.url + JIRA_SEARCH, timeout=5).status_code == 200
    assert tiny_sim.request_count(status=0) == 2


def test_slow_fault_trips_a_client_timeout(tiny_sim):
    tiny_sim.faults.add(r"search/jql", "slow", times=1, seconds=0.5)
    with pytest.raises(requests.Timeout):
        requests.get(tiny_sim.url + JIRA_SEARCH, timeout=0.1)
    assert requests.get(tiny_sim.url + JIRA_SEARCH, timeout=5).status_code == 200


def test_unauthorized_fault(tiny_sim, http):
    tiny_sim.faults.add(r"/github/", "unauthorized", times=1)
    response = http.get(tiny_sim.url + GITHUB_PULLS)
    assert response.status_code == 401 and response.json()["message"] == "Bad credentials"


def test_faults_over_http(tiny_sim, http):
    created = http.post(tiny_sim.url + "/_sim/faults",
                        json={"path_regex": "search/jql", "kind": "server_error", "times": 3, "status": 502})
    assert created.status_code == 201
    assert http.get(tiny_sim.url + JIRA_SEARCH).status_code == 502
    assert http.get(tiny_sim.url + "/_sim/faults").json()["faults"][0]["fired"] == 1
    assert http.delete(tiny_sim.url + "/_sim/faults").status_code == 204
    assert http.get(tiny_sim.url + JIRA_SEARCH).status_code == 200
    bad = http.post(tiny_sim.url + "/_sim/faults", json={"path_regex": "x", "kind": "meteor"})
    assert bad.status_code == 400
    stats = http.get(tiny_sim.url + "/_sim/stats").json()
    assert stats["faults_fired"]["server_error"] == 1


def test_fault_arguments_are_validated(tiny_sim):
    with pytest.raises(ValueError):
        tiny_sim.faults.add("x", "slow", seconds=1, status=500)
    with pytest.raises(ValueError):
        tiny_sim.faults.add("(", "slow")
    with pytest.raises(ValueError):
        tiny_sim.faults.add("x", "server_error", status=404)


@pytest.fixture
def locked():
    with SimulatorServer(tiny_org(), jira_tokens={"jira-secret", "pat-123"}, github_tokens={"gh-secret"}) as sim:
        yield sim


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (basic("me@example.com", "jira-secret"), 200),
        ({"Authorization": "Bearer pat-123"}, 200),
        (basic("me@example.com", "wrong"), 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({}, 401),
    ],
)
def test_jira_auth(locked, http, headers, status):
    response = http.get(locked.url + "/jira/rest/api/3/myself", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert set(response.json()) == {"errorMessages", "errors"}


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({"Authorization": "Bearer gh-secret"}, 200, None),
        ({"Authorization": "token gh-secret"}, 200, None),
        ({"Authorization": "Bearer wrong"}, 401, "Bad credentials"),
        ({}, 401, "Requires authentication"),
    ],
)
def test_github_auth(locked, http, headers, status, message):
    response = http.get(locked.url + GITHUB_PULLS, headers=headers)
    assert response.status_code == status
    if message:
        assert response.json()["message"] == message
        assert response.json()["documentation_url"].startswith("https://docs.github.com")


def test_without_configured_tokens_anything_is_accepted(tiny_sim, http):
    assert http.get(tiny_sim.url + "/jira/rest/api/3/myself").status_code == 200
    assert http.get(tiny_sim.url + GITHUB_PULLS, headers={"Authorization": "Bearer x"}).status_code == 200
