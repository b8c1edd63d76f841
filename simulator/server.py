"""The loopback HTTP server: every API world under its own prefix (mounts.py), controls under /_sim.

    with SimulatorServer(generate_org()) as sim:
        jira_base, gitlab_base = sim.jira_url, sim.gitlab_url      # f"{sim.url}/jira", f"{sim.url}/gitlab"
        sim.faults.add(r"/search/jql", "rate_limit", times=2, retry_after=1)
        ...
        assert sim.request_count("/jira/rest/api/3/search/jql") == 3

Order of checks for a request, chosen so a test can reason about counts: the request is logged; a
matching fault fires (faults stand for the network and the API's front door, so they come before
authentication and do not spend an API's rate budget); then the API answers under the Org's lock
(credentials, its own rate budget, the route). The server knows no API by name.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from connectors.kit.faults import Fault, FaultRegistry
from connectors.kit.http import (
    ApiError,
    LoopbackHandler,
    LoopbackServer,
    Request,
    Response,
    encoded,
    gateway_page,
    halved,
    query_list,
    wait_out,
)

from .api import MountedApi
from .model import Org
from .mounts import build_mounts, shorthand_options


_OPERATION = re.compile(rb'"query"\s*:\s*"\s*(?:query|mutation)\s+(\w+)')


def graphql_operation(body: bytes | None) -> str | None:
    match = _OPERATION.search(body or b"")
    return match.group(1).decode() if match else None


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # as sent, without the query string
    query: str
    status: int  # 0 when the connection was reset without an answer
    fault: str | None
    seconds: float
    # time.monotonic() when the request arrived: with `seconds`, shows which requests overlapped.
    started: float = 0.0
    # a GraphQL request's operation name (`query Issues(...)`): what tells its stream, all sharing one path
    operation: str | None = None


class SimulatorServer:
    """Every mounted API (Jira, GitHub, GitLab, Jenkins, CircleCI, PagerDuty, Opsgenie) on one loopback port.

    Args:
        org: the organisation to serve (``generate_org()``, ``tiny_org()`` or your own).
        host, port: where to listen; port 0 picks a free port (see ``url``).
        mount_options: prefix -> keyword options of that API, e.g. ``{"gitlab": {"tokens": {"t"}}}`` (each
            ``*_api.py`` documents its own: tokens, page caps, rate budgets...).
        **shorthands: the older keywords that name one API's option (``jira_tokens``, ``github_tokens``,
            ``changelog_embed_limit``, ``github_rate_limit``...: each API's ``SHORTHANDS``).
    Attributes: ``sim.<prefix>`` is that mounted API (``sim.gitlab``), ``sim.<prefix>_url`` its base URL.
    """

    def __init__(
        self,
        org: Org,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        mount_options: dict[str, dict[str, Any]] | None = None,
        **shorthands: Any,
    ):
        self.org = org
        options = shorthand_options(shorthands)
        for prefix, given in (mount_options or {}).items():
            options[prefix] = {**options.get(prefix, {}), **given}
        self.mounts: dict[str, MountedApi] = build_mounts(org, options)
        self.faults = FaultRegistry()
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._httpd = LoopbackServer((host, port), self)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not attributes: sim.gitlab, sim.gitlab_url, an API's ALIASES.
        mounts = self.__dict__.get("mounts", {})
        if name in mounts:
            return mounts[name]
        prefix, _, rest = name.rpartition("_")
        if rest == "url" and prefix in mounts:
            return f"{self.url}/{prefix}"
        for api in mounts.values():
            if name in api.ALIASES:
                return getattr(api, api.ALIASES[name])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return self._httpd.url

    def start(self) -> SimulatorServer:
        self._httpd.start("simulator")
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``request_stop()``; closes the socket on return."""
        try:
            self._httpd.serve_forever(poll_interval=0.1)
        finally:
            self._httpd.server_close()

    def request_stop(self) -> None:
        """Make ``serve_forever()`` return. Safe in a signal handler: it does not wait (waiting there, on
        the serving thread itself, would deadlock)."""
        threading.Thread(target=self._httpd.shutdown, name="simulator-stop", daemon=True).start()

    def stop(self) -> None:
        self._httpd.stop()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ statistics

    def request_count(self, path_prefix: str | None = None, *, method: str | None = None,
                      status: int | None = None) -> int:
        """How many requests were received (faulted ones included), optionally only those whose path starts
        with ``path_prefix`` (e.g. "/jira/rest/api/3/search/jql"), with a method, or answered with a status."""
        with self._log_lock:
            return sum(
                1 for r in self._log
                if (path_prefix is None or r.path.startswith(path_prefix))
                and (method is None or r.method == method)
                and (status is None or r.status == status)
            )

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._log_lock:
            return list(self._log)

    def reset_stats(self) -> None:
        with self._log_lock:
            self._log.clear()

    def _record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self._log.append(entry)

    # ------------------------------------------------------------------ request handling

    def handle(self, h: LoopbackHandler) -> None:
        started = time.monotonic()
        parts = urlsplit(h.path)
        path, query = parts.path, parts.query
        body = h.read_body()
        operation = graphql_operation(body)
        first_segment = path.split("/", 2)[1] if path.count("/") >= 2 else ""
        api = self.mounts.get(first_segment)
        fault: Fault | None = None
        status = 0
        recorded = False
        try:
            if path.startswith("/_sim/"):
                response = self._control(h.command, path, body)
            elif api is None:
                served = ", ".join(f"/{name}/..." for name in self.mounts)
                response = Response(404, {"message": f"Not Found: the simulator serves {served}"})
            else:
                prefix = f"/{first_segment}"
                req = Request(method=h.command, path=path[len(prefix):], query=query_list(query),
                              headers=h.headers, body=body, base_url=f"{self.url}{prefix}")
                fault = self.faults.take(h.command, h.path)
                if fault is not None and fault.kind == "connection_reset":
                    h.reset_connection()
                    return
                if fault is not None and fault.kind == "slow":
                    wait_out(fault)
                if fault is not None and fault.kind == "mutate":
                    with self.org.lock:
                        fault.opts["action"](self.org)
                if fault is not None and fault.kind not in ("slow", "malformed_json", "truncated", "mutate"):
                    response = self._fault_response(api, fault, req)
                else:
                    response = self._serve(api, req)
                    if fault is not None and fault.kind == "malformed_json":
                        response = Response(200, halved(encoded(response.body)), response.headers,
                                            response.content_type)
                    if fault is not None and fault.kind == "truncated":
                        self._record(LoggedRequest(h.command, path, query, 200, fault.kind,
                                                   time.monotonic() - started, started, operation))
                        recorded = True
                        h.send(response, truncated=True)
                        return
            status = response.status
            # Logged before the answer leaves: a test that counts requests as soon as its client has the
            # answer must find this one already in the log.
            if not path.startswith("/_sim/"):
                self._record(LoggedRequest(h.command, path, query, status, fault.kind if fault else None,
                                           time.monotonic() - started, started, operation))
                recorded = True
            h.send(response)
        finally:
            if not recorded and not path.startswith("/_sim/"):  # controls are not API traffic: not counted
                self._record(LoggedRequest(h.command, path, query, status, fault.kind if fault else None,
                                           time.monotonic() - started, started, operation))

    def _serve(self, api: MountedApi, req: Request) -> Response:
        try:
            with self.org.lock:
                response = api.serve(req)
                # Encode under the lock: a test mutating the Org meanwhile must not change a dict half-way.
                response.body = encoded(response.body)
            return response
        except ApiError as exc:
            return api.error_response(exc.status, exc.message, exc.headers)
        except Exception:  # noqa: BLE001 - a bug in the simulator must not kill the server thread
            traceback.print_exc(file=sys.stderr)
            return api.error_response(500, "Internal server error", {})

    @staticmethod
    def _fault_response(api: MountedApi, fault: Fault, req: Request) -> Response:
        own = api.fault_response(fault, req)
        if own is not None:
            return own
        if fault.kind == "server_error":
            return gateway_page(int(fault.opts.get("status", 500)))
        raise AssertionError(f"{type(api).__name__} has no answer to a {fault.kind} fault")

    # ------------------------------------------------------------------ /_sim controls

    def _control(self, method: str, path: str, body: bytes) -> Response:
        if path == "/_sim/faults":
            if method == "GET":
                return Response(200, {"faults": self.faults.all()})
            if method == "DELETE":
                self.faults.clear()
                return Response(204, b"")
            if method == "POST":
                try:
                    spec = json.loads(body or b"{}")
                    specs = spec["faults"] if isinstance(spec, dict) and "faults" in spec else spec
                    specs = specs if isinstance(specs, list) else [specs]
                    added = []
                    for s in specs:
                        s = dict(s)
                        added.append(self.faults.add(s.pop("path_regex"), s.pop("kind"), s.pop("times", 1), **s)
                                     .as_dict())
                except (ValueError, KeyError, TypeError) as exc:
                    return Response(400, {"message": f"bad fault: {exc}"})
                return Response(201, {"faults": added})
        if path == "/_sim/health" and method == "GET":
            return Response(200, {"status": "ok"})
        if path == "/_sim/stats" and method == "GET":
            with self._log_lock:
                by_path: dict[str, int] = {}
                for r in self._log:
                    by_path[r.path] = by_path.get(r.path, 0) + 1
            return Response(200, {"requests": sum(by_path.values()), "by_path": by_path,
                                  "faults_fired": dict(self.faults.fired_total)})
        return Response(404, {"message": "unknown simulator control"})

