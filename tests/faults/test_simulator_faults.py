"""The fault kinds and options the matrix added to the simulator fire exactly as documented in faults.py."""

from __future__ import annotations

import pytest
import requests

from simulator import SimulatorServer, tiny_org

SEARCH = "/jira/rest/api/3/search/jql?jql=project%20%3D%20FLOW"
PULLS = "/github/repos/acme/checkout/pulls"


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org()) as server:
        yield server


def test_truncated_promises_the_whole_body_and_sends_half(sim):
    whole = requests.get(sim.url + SEARCH, timeout=5).content
    sim.faults.add(r"search/jql", "truncated", times=1)
    half = len(whole) // 2
    with pytest.raises(requests.exceptions.ChunkedEncodingError,
                       match=rf"{half} bytes read, {len(whole) - half} more expected"):
        requests.get(sim.url + SEARCH, timeout=5)
    assert requests.get(sim.url + SEARCH, timeout=5).content == whole
    assert [(r.status, r.fault) for r in sim.requests] == [(200, None), (200, "truncated"), (200, None)]


def test_after_lets_the_first_requests_through(sim):
    sim.faults.add(r"search/jql", "unauthorized", times=None, after=2)
    codes = [requests.get(sim.url + SEARCH, timeout=5).status_code for _ in range(4)]
    assert codes == [200, 200, 401, 401]
    assert sim.faults.all()[0]["fired"] == 2


def test_a_passed_request_may_meet_a_later_fault(sim):
    sim.faults.add(r"search/jql", "unauthorized", times=1, after=1)
    sim.faults.add(r"search/jql", "server_error", times=1, status=503)
    codes = [requests.get(sim.url + SEARCH, timeout=5).status_code for _ in range(3)]
    assert codes == [503, 401, 200]


def test_mutate_changes_the_org_before_answering(sim):
    sim.faults.add(r"search/jql", "mutate", times=1,
                   action=lambda org: org.jira_touch("FLOW-4", "2026-02-01T00:00:00Z"))
    issues = requests.get(sim.url + SEARCH + "&fields=updated", timeout=5).json()["issues"]
    assert [i["key"] for i in issues][-1] == "FLOW-4"  # ordered by update: FLOW-4 moved last
    assert sim.faults.all()[0]["action"] == "<lambda>"  # listed by name, as the /_sim/faults answer shows it
    with pytest.raises(ValueError, match="needs action"):
        sim.faults.add(r"x", "mutate")


def test_github_primary_limit_says_quota_not_abuse(sim):
    sim.faults.add(PULLS, "rate_limit", retry_after=None, limit="primary", reset_seconds=5)
    response = requests.get(sim.url + PULLS, timeout=5)
    assert response.status_code == 429 and "Retry-After" not in response.headers
    assert response.json()["message"].startswith("API rate limit exceeded")
    assert response.headers["X-RateLimit-Remaining"] == "0"
    with pytest.raises(ValueError, match="'primary' or 'secondary'"):
        sim.faults.add(PULLS, "rate_limit", limit="tertiary")
