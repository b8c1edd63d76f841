"""More APIs on the simulator: each CI/CD or incident system is one mounted API under its own prefix.

A mount is built from the Org (so its data is as deterministic as the Org's) and answers requests of
its prefix, e.g. ``/gitlab/api/v4/projects``. The server logs each request and fires faults before it
calls the mount (faults stand for the network and the front door); the mount checks credentials,
routes, and answers in its system's own shapes, rate-limit headers included.

Adding a system: write ``<system>_api.py`` with a class that has ``PREFIX``, ``__init__(org, **options)``,
``serve(req) -> Response`` and ``fault_response(fault) -> Response | None`` (None: the server's generic
answer for that fault kind), then add it to MOUNTS below.
"""

from __future__ import annotations

from typing import Any, Protocol

from .faults import Fault
from .model import Org
from .routing import Request, Response


class MountedApi(Protocol):
    def serve(self, req: Request) -> Response: ...

    def fault_response(self, fault: Fault) -> Response | None: ...


def build_mounts(org: Org, options: dict[str, dict[str, Any]] | None = None) -> dict[str, MountedApi]:
    """Prefix -> mounted API; ``options[prefix]`` are keyword options of that API (tokens, page caps...)."""
    options = options or {}
    mounts: dict[str, MountedApi] = {}
    for prefix, factory in MOUNTS.items():
        mounts[prefix] = factory(org, **options.get(prefix, {}))
    unknown = set(options) - set(mounts)
    if unknown:
        raise ValueError(f"no mounted API named {sorted(unknown)}; the simulator has {sorted(mounts)}")
    return mounts


def _mount_factories() -> dict[str, Any]:
    factories: dict[str, Any] = {}
    from .jenkins_api import JenkinsApi
    factories[JenkinsApi.PREFIX] = JenkinsApi
    from .gitlab_api import GitLabApi
    factories[GitLabApi.PREFIX] = GitLabApi
    from .circleci_api import CircleCIApi
    factories[CircleCIApi.PREFIX] = CircleCIApi
    from .opsgenie_api import OpsgenieApi
    factories[OpsgenieApi.PREFIX] = OpsgenieApi
    from .pagerduty_api import PagerDutyApi
    factories[PagerDutyApi.PREFIX] = PagerDutyApi
    # <mounted APIs: add `from .yours_api import YoursApi` and `factories[YoursApi.PREFIX] = YoursApi` above this line>
    return factories


MOUNTS = _mount_factories()
