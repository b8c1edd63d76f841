"""One mounting mechanism for every API world: an API class in mounts.APIS is served under its prefix, with
its options, its own error shapes and faults, and the server knows none of them by name."""

from __future__ import annotations

import pytest

from connectors.kit.http import ApiError, Request, Response, Router
from simulator import SimulatorServer, mounts, tiny_org
from simulator.api import MountedApi


class EchoApi(MountedApi):
    """A toy API world: ``/echo/items/{name}`` answers the name and the option ``greeting``."""

    PREFIX = "echo"
    SHORTHANDS = {"echo_greeting": "greeting"}
    ALIASES = {"echo_greeting_used": "greeting"}

    def __init__(self, org, *, greeting: str = "hello"):
        self.greeting = greeting
        self.router = Router()
        self.router.add("GET", "/items/{name}", self.item)

    def item(self, req: Request) -> Response:
        if req.params["name"] == "broken":
            raise ApiError(409, "broken on purpose", {"X-Why": "test"})
        return Response(200, {"greeting": self.greeting, "name": req.params["name"]})

    def serve(self, req: Request) -> Response:
        found = self.router.resolve(req.method, req.path)
        if found is None:
            raise ApiError(404, "no such echo")
        handler, req.params = found
        return handler(req)

    def error_response(self, status: int, message: str, headers: dict[str, str]) -> Response:
        return Response(status, {"echo_error": message}, dict(headers))

    def fault_response(self, fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return Response(401, {"echo_error": "who are you"})
        return None


@pytest.fixture
def with_echo(monkeypatch):
    monkeypatch.setattr(mounts, "MOUNTS", {**mounts.MOUNTS, EchoApi.PREFIX: EchoApi})


BUILT_IN = ["jira", "github", "jenkins", "gitlab", "circleci", "opsgenie", "pagerduty"]


def test_every_api_world_is_mounted_under_its_prefix():
    # The built-in worlds in their order; a world added for a new source (docs/ADDING_A_SOURCE.md) joins them.
    assert [p for p in (api.PREFIX for api in mounts.APIS) if p in BUILT_IN] == BUILT_IN
    sim = SimulatorServer(tiny_org())
    try:
        assert sorted(sim.mounts) == sorted(api.PREFIX for api in mounts.APIS)
        assert sim.jira is sim.mounts["jira"] and sim.gitlab_url == f"{sim.url}/gitlab"
    finally:
        sim.stop()


def test_a_new_api_world_is_one_class_in_the_mounts(with_echo, http):
    with SimulatorServer(tiny_org(), mount_options={"echo": {"greeting": "hi"}}) as sim:
        answer = http.get(f"{sim.echo_url}/items/box")
        assert answer.status_code == 200 and answer.json() == {"greeting": "hi", "name": "box"}
        broken = http.get(f"{sim.url}/echo/items/broken")  # an ApiError in the API's own error shape
        assert (broken.status_code, broken.json(), broken.headers["X-Why"]) == (409, {"echo_error": "broken on purpose"},
                                                                                 "test")
        assert http.get(f"{sim.url}/echo/nothing").json() == {"echo_error": "no such echo"}
        sim.faults.add(r"^/echo/", "unauthorized", times=1)
        sim.faults.add(r"^/echo/", "server_error", times=1, status=502)
        refused = http.get(f"{sim.echo_url}/items/box")
        assert (refused.status_code, refused.json()) == (401, {"echo_error": "who are you"})
        gateway = http.get(f"{sim.echo_url}/items/box")  # not answered by the API: the load balancer's page
        assert gateway.status_code == 502 and gateway.headers["Content-Type"] == "text/html"
        assert b"502 Bad Gateway" in gateway.content
        assert sim.request_count("/echo/") == 5 and sim.request_count("/echo/", status=401) == 1


def test_shorthands_and_aliases_are_the_apis_own(with_echo):
    sim = SimulatorServer(tiny_org(), echo_greeting="hey", github_rate_limit=7)
    try:
        assert sim.echo.greeting == sim.echo_greeting_used == "hey"
        assert sim.rate_limit_remaining("unused-token") == 7  # GitHubApi's alias, its rate_limit option
    finally:
        sim.stop()


def test_unknown_keywords_and_prefixes_are_refused():
    with pytest.raises(TypeError, match="unexpected keyword argument 'jira_tokenz'"):
        SimulatorServer(tiny_org(), jira_tokenz={"t"})
    with pytest.raises(ValueError, match=r"no mounted API named \['jiraa'\]"):
        SimulatorServer(tiny_org(), mount_options={"jiraa": {}})
    sim = SimulatorServer(tiny_org())
    try:
        with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
            sim.nothing_here  # noqa: B018 - the attribute lookup is the test
    finally:
        sim.stop()
