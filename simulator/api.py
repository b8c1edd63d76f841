"""What every API world of the simulator is: a class mounted under ``/<PREFIX>`` of the one server.

The server (server.py) logs a request, fires a fault, then calls the API under the Org's lock; everything
about the API itself (credentials, rate limits, routes, error shapes) is the API's own business:

    class YoursApi(MountedApi):
        PREFIX = "yours"                      # served at http://127.0.0.1:PORT/yours/...
        def __init__(self, org, *, tokens=None): ...
        def serve(self, req): ...             # route req.path (the path below /yours); raise ApiError freely
        def fault_response(self, fault, req): ...   # unauthorized, rate_limit, server_error 500 in your shapes

then add it to ``APIS`` in mounts.py (an import and a line). Options reach ``__init__`` as
``SimulatorServer(org, mount_options={"yours": {...}})``; ``SHORTHANDS`` names server keywords that are
options of this API (``github_tokens=`` for ``mount_options={"github": {"tokens": ...}}``) and ``ALIASES``
server attributes that are this API's (``sim.rate_limit_remaining``). The server also answers ``sim.<prefix>`` (the API) and ``sim.<prefix>_url``.
"""

from __future__ import annotations

import base64
import time
from typing import Any, ClassVar

from connectors.kit.faults import Fault
from connectors.kit.http import Request, Response

from .timefmt import MS_PER_DAY


def history_window_ms(org: Any) -> tuple[int, int]:
    """(start, anchor) in epoch ms of the Org's history, for the worlds laid out beside it (Linear's Mobile team,
    Azure DevOps' Data team); an Org built by hand has none: the 26 weeks before today."""
    window = getattr(org, "history_window_ms", None)
    if window is None:
        anchor = int(time.time() * 1000) // MS_PER_DAY * MS_PER_DAY
        window = (anchor - 182 * MS_PER_DAY, anchor)
    return window


def basic_password(req: Request) -> str | None:
    """The password (API token) of a Basic Authorization header; None without one."""
    auth = (req.headers.get("Authorization") or "").strip()
    if not auth.lower().startswith("basic "):
        return None
    try:
        return base64.b64decode(auth[6:]).decode().split(":", 1)[1]
    except (ValueError, IndexError):
        return None


def bearer_or_basic_token(req: Request) -> str | None:
    """The token of a Bearer Authorization header, else the password of a Basic one (Atlassian's two ways)."""
    auth = (req.headers.get("Authorization") or "").strip()
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return basic_password(req)


class MountedApi:
    PREFIX: ClassVar[str]
    SHORTHANDS: ClassVar[dict[str, str]] = {}  # SimulatorServer keyword -> keyword option of __init__
    ALIASES: ClassVar[dict[str, str]] = {}  # SimulatorServer attribute -> attribute of this API

    def serve(self, req: Request) -> Response:
        raise NotImplementedError

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        """This API's answer to an ``unauthorized``, ``rate_limit`` or ``server_error`` fault; None for the
        server's generic one (a 502-504 is the load balancer's HTML page, the same in front of every API)."""
        return None

    def error_response(self, status: int, message: str, headers: dict[str, str]) -> Response:
        """The answer to an ApiError that ``serve`` raised (and to a simulator bug, as a 500)."""
        return Response(status, {"message": message}, dict(headers))
