"""The loopback HTTP server: Jira under /jira, GitHub under /github, controls under /_sim.

    with SimulatorServer(generate_org()) as sim:
        jira_base, github_base = f"{sim.url}/jira", f"{sim.url}/github"
        sim.faults.add(r"/search/jql", "rate_limit", times=2, retry_after=1)
        ...
        assert sim.request_count("/jira/rest/api/3/search/jql") == 3

Order of checks for a request, chosen so a test can reason about counts: the request is logged; a
matching fault fires (faults stand for the network and the API's front door, so they come before
authentication and do not spend GitHub rate budget); credentials are checked; GitHub spends one unit of
the token's hourly budget; the route answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import github_api, jira_api
from .faults import Fault, FaultRegistry
from .github_api import GitHubApi
from .jira_api import JiraApi
from .model import Org
from .mounts import MountedApi, build_mounts
from .routing import ApiError, Request, Response

try:  # orjson is several times faster on big pages; the standard library is the fallback
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover - depends on the environment
    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

_GITHUB_JSON = "application/json; charset=utf-8"
_BAD_GATEWAY_HTML = (b"<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
                     b"<center><h1>{code} {reason}</h1></center>\r\n</body>\r\n</html>\r\n")
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable",
            504: "Gateway Time-out"}


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


class _RateBudget:
    """GitHub's primary rate limit for one token: a fixed window that resets on the hour boundary."""

    def __init__(self, limit: int, window: int):
        self.limit = limit
        self.window = window
        self.used = 0
        self.reset = int(time.time()) + window

    def roll(self) -> None:
        now = int(time.time())
        if now >= self.reset:
            self.used = 0
            self.reset = now + self.window

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Resource": "core",
        }


class SimulatorServer:
    """A Jira Cloud + GitHub double on one loopback port.

    Args:
        org: the organisation to serve (``generate_org()``, ``tiny_org()`` or your own).
        host, port: where to listen; port 0 picks a free port (see ``url``).
        jira_tokens: accepted Jira secrets. Basic auth passes if its password (the API token) or its whole
            ``email:token`` is in the collection; Bearer passes if the token is. None accepts anything,
            even no credentials (the demo's default).
        github_tokens: accepted GitHub tokens (``Authorization: Bearer X`` or ``token X``); None accepts any.
        changelog_embed_limit: most histories embedded by ``expand=changelog`` (Jira Cloud: 100).
        changelog_embed_order: "newest_first" (Jira Cloud's order) or "oldest_first"; see jira_api.
        max_page_size: cap on Jira search ``maxResults`` (Cloud returns fewer than asked on big pages).
        github_rate_limit, github_rate_window: per-token budget and window in seconds (GitHub: 5000/3600).
        jira_time_zone: the calling user's zone for JQL dates (``/myself``); None keeps the Org's.
    """

    def __init__(
        self,
        org: Org,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        jira_tokens: Iterable[str] | None = None,
        github_tokens: Iterable[str] | None = None,
        changelog_embed_limit: int = 100,
        changelog_embed_order: str = "newest_first",
        max_page_size: int = 100,
        github_rate_limit: int = 5000,
        github_rate_window: int = 3600,
        jira_time_zone: str | None = None,
        github_apps: dict[str, int] | None = None,
        github_app_token_seconds: int = 3600,
        mount_options: dict[str, dict[str, Any]] | None = None,
    ):
        self.org = org
        # GitHub Apps: app id -> installation id. The app's JWT is read, not verified (no crypto in the
        # standard library): its issuer must be a known app and it must not be expired.
        self.github_apps = dict(github_apps or {})
        self.github_app_token_seconds = github_app_token_seconds
        self.github_app_tokens: list[str] = []
        if jira_time_zone is not None:
            org.jira_myself["timeZone"] = jira_time_zone
        self.jira_tokens = set(jira_tokens) if jira_tokens is not None else None
        self.github_tokens = set(github_tokens) if github_tokens is not None else None
        self.jira = JiraApi(org, changelog_embed_limit=changelog_embed_limit, max_page_size=max_page_size,
                            changelog_embed_order=changelog_embed_order)
        self.github = GitHubApi(org)
        # CI/CD and incident systems (mounts.py), each under /<prefix>: e.g. self.mounts["gitlab"].
        self.mounts: dict[str, MountedApi] = build_mounts(org, mount_options)
        self.faults = FaultRegistry()
        self.github_rate_limit = github_rate_limit
        self.github_rate_window = github_rate_window
        self._budgets: dict[str, _RateBudget] = {}
        self._budget_lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.sim = self
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def jira_url(self) -> str:
        return f"{self.url}/jira"

    @property
    def github_url(self) -> str:
        return f"{self.url}/github"

    def start(self) -> SimulatorServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                            name="simulator", daemon=True)
            self._thread.start()
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
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

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

    def rate_limit_remaining(self, token: str) -> int:
        budget = self._budgets.get(token)
        return self.github_rate_limit if budget is None else max(0, budget.limit - budget.used)

    def _record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self._log.append(entry)

    # ------------------------------------------------------------------ request handling

    def handle(self, h: _Handler) -> None:
        started = time.monotonic()
        parts = urlsplit(h.path)
        path, query = parts.path, parts.query
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        first_segment = path.split("/", 2)[1] if path.count("/") >= 2 else ""
        service = first_segment if first_segment in ("jira", "github", *self.mounts) else None
        fault: Fault | None = None
        status = 0
        recorded = False
        try:
            if path.startswith("/_sim/"):
                response = self._control(h.command, path, body)
            elif service is None:
                served = ", ".join(f"/{name}/..." for name in ("jira", "github", *self.mounts))
                response = Response(404, {"message": f"Not Found: the simulator serves {served}"})
            else:
                fault = self.faults.take(h.command, h.path)
                if fault is not None and fault.kind == "connection_reset":
                    h.reset_connection()
                    return
                if fault is not None and fault.kind == "slow":
                    if fault.opts.get("until") is not None:  # held until the test lets it go (no lock held)
                        fault.opts["until"].wait(timeout=float(fault.opts.get("seconds", 60.0)))
                    else:
                        time.sleep(float(fault.opts.get("seconds", 2.0)))
                if fault is not None and fault.kind == "mutate":
                    with self.org.lock:
                        fault.opts["action"](self.org)
                if fault is not None and fault.kind not in ("slow", "malformed_json", "truncated", "mutate"):
                    response = self._fault_response(service, fault)
                    if service == "github" and response.content_type == _GITHUB_JSON:
                        # GitHub sends its rate headers on every API answer, errors included.
                        token = _github_token(h.headers.get("Authorization")) or "anonymous"
                        response.headers = {**self._budget(token).headers(), **response.headers}
                else:
                    response = self._serve(service, h, path, query, body)
                    if fault is not None and fault.kind == "malformed_json":
                        whole = response.body if isinstance(response.body, bytes) else _dumps(response.body)
                        response = Response(200, whole[: max(1, len(whole) // 2)], response.headers,
                                            response.content_type)
                    if fault is not None and fault.kind == "truncated":
                        whole = response.body if isinstance(response.body, bytes) else _dumps(response.body)
                        self._record(LoggedRequest(h.command, path, query, 200, fault.kind,
                                                   time.monotonic() - started, started))
                        recorded = True
                        h.send(response, whole, truncated=True)
                        return
            status = response.status
            # Logged before the answer leaves: a test that counts requests as soon as its client has the
            # answer must find this one already in the log.
            if not path.startswith("/_sim/"):
                self._record(LoggedRequest(h.command, path, query, status, fault.kind if fault else None,
                                           time.monotonic() - started, started))
                recorded = True
            h.send(response, body_bytes=response.body if isinstance(response.body, bytes) else _dumps(response.body))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a slow fault): nothing to answer
        finally:
            if not recorded and not path.startswith("/_sim/"):  # controls are not API traffic: not counted
                self._record(LoggedRequest(h.command, path, query, status, fault.kind if fault else None,
                                           time.monotonic() - started, started))

    def _serve(self, service: str, h: _Handler, path: str, query: str, body: bytes) -> Response:
        prefix = f"/{service}"
        req = Request(
            method=h.command,
            path=path[len(prefix):],
            query=parse_qsl(query, keep_blank_values=True),
            headers=h.headers,
            body=body,
            base_url=f"{self.url}{prefix}",
        )
        if service == "jira":
            return self._serve_jira(req)
        if service == "github":
            return self._serve_github(req)
        return self._serve_mount(self.mounts[service], req)

    def _serve_mount(self, mount: MountedApi, req: Request) -> Response:
        try:
            with self.org.lock:
                response = mount.serve(req)
                if not isinstance(response.body, bytes):
                    response.body = _dumps(response.body)
            return response
        except ApiError as exc:
            return Response(exc.status, {"message": exc.message}, exc.headers)
        except Exception:  # noqa: BLE001 - a bug in the simulator must not kill the server thread
            traceback.print_exc(file=sys.stderr)
            return Response(500, {"message": "Internal server error"})

    def _serve_jira(self, req: Request) -> Response:
        if not self._jira_authorized(req.headers.get("Authorization")):
            return _jira_error(401, "Client must be authenticated to access this resource.",
                               {"WWW-Authenticate": 'Basic realm="protected-area"'})
        try:
            found = self.jira.router.resolve(req.method, req.path)
            if found is None:
                return _jira_error(404, "null for uri: " + req.base_url + req.path)
            handler, req.params = found
            with self.org.lock:
                response = handler(req)
                # Encode under the lock: a test mutating the Org meanwhile must not change a dict half-way.
                if not isinstance(response.body, bytes):
                    response.body = _dumps(response.body)
            return response
        except ApiError as exc:
            return _jira_error(exc.status, exc.message, exc.headers)
        except Exception:  # noqa: BLE001 - a bug in the simulator must not kill the server thread
            traceback.print_exc(file=sys.stderr)
            return _jira_error(500, "Internal server error")

    def _serve_github(self, req: Request) -> Response:
        if self.github_apps and (req.path.startswith("/app/") or req.path.endswith("/installation")):
            response = self._serve_github_app(req)
            response.content_type = _GITHUB_JSON
            return response
        token = _github_token(req.headers.get("Authorization"))
        if self.github_tokens is not None and token not in self.github_tokens:
            message = "Requires authentication" if token is None else "Bad credentials"
            return _github_error(401, message, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59",
                                                "X-RateLimit-Reset": str(int(time.time()) + 3600),
                                                "X-RateLimit-Used": "1", "X-RateLimit-Resource": "core"})
        req.token = token
        budget = self._budget(token or "anonymous")
        with self._budget_lock:
            budget.roll()
            counted = req.path.rstrip("/") != "/rate_limit"  # asking for the limit is free, as on GitHub
            if counted and budget.used >= budget.limit:
                return _github_error(
                    403, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
                         "please include the request ID.", budget.headers(),
                    doc="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
            if counted:
                budget.used += 1
            rate_headers = budget.headers()
        try:
            if req.path.rstrip("/") == "/rate_limit":
                response = Response(200, self._rate_limit_body(budget))
            else:
                found = self.github.router.resolve(req.method, req.path)
                if found is None:
                    raise ApiError(404, "Not Found")
                handler, req.params = found
                with self.org.lock:
                    response = handler(req)
                    if not isinstance(response.body, bytes):
                        response.body = _dumps(response.body)
        except ApiError as exc:
            response = _github_error(exc.status, exc.message, exc.headers)
        except Exception:  # noqa: BLE001
            traceback.print_exc(file=sys.stderr)
            response = _github_error(500, "Server Error")
        if response.status == 200 and req.method == "GET" and isinstance(response.body, bytes) and counted:
            # Conditional requests, as on GitHub: every answer carries an ETag of its body; a matching
            # If-None-Match gets 304 without a body and does not spend the token's budget.
            etag = f'W/"{hashlib.sha1(response.body).hexdigest()}"'
            response.headers = {**response.headers, "ETag": etag}
            if req.headers.get("If-None-Match") == etag:
                with self._budget_lock:
                    budget.used = max(0, budget.used - 1)
                    rate_headers = budget.headers()
                response = Response(304, b"", response.headers)
        response.content_type = _GITHUB_JSON
        response.headers = {**rate_headers, "X-GitHub-Media-Type": "github.v3; format=json", **response.headers}
        return response

    def _serve_github_app(self, req: Request) -> Response:
        """The app endpoints, authenticated by the app's JWT: its installation, and installation tokens."""
        claims = _jwt_claims(_github_token(req.headers.get("Authorization")))
        app_id = str(claims.get("iss")) if claims else None
        if app_id not in self.github_apps or float(claims.get("exp", 0)) < time.time():
            return _github_error(401, "A JSON web token could not be decoded")
        installation = self.github_apps[app_id]
        parts = req.path.strip("/").split("/")
        if req.method == "GET" and req.path.endswith("/installation"):
            return Response(200, {"id": installation, "app_id": int(app_id) if app_id.isdigit() else app_id})
        if req.method == "POST" and parts[:2] == ["app", "installations"] and parts[3:] == ["access_tokens"]:
            if parts[2] != str(installation):
                return _github_error(404, "Not Found")
            with self._budget_lock:
                token = f"ghs_simulated_{app_id}_{len(self.github_app_tokens) + 1}"
                self.github_app_tokens.append(token)
                if self.github_tokens is not None:
                    self.github_tokens.add(token)
            expires = datetime.fromtimestamp(time.time() + self.github_app_token_seconds, tz=timezone.utc)
            return Response(201, {"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  "permissions": {"contents": "read", "pull_requests": "read"}})
        return _github_error(404, "Not Found")

    def _budget(self, key: str) -> _RateBudget:
        with self._budget_lock:
            budget = self._budgets.get(key)
            if budget is None:
                budget = self._budgets[key] = _RateBudget(self.github_rate_limit, self.github_rate_window)
            return budget

    def _rate_limit_body(self, budget: _RateBudget) -> dict:
        core = {"limit": budget.limit, "used": budget.used, "remaining": max(0, budget.limit - budget.used),
                "reset": budget.reset}
        other = {"limit": 30, "used": 0, "remaining": 30, "reset": int(time.time()) + 60}
        return {"resources": {"core": core, "search": other, "graphql": dict(core, limit=5000, used=0,
                                                                              remaining=5000)},
                "rate": core}

    def _jira_authorized(self, header: str | None) -> bool:
        if self.jira_tokens is None:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() in self.jira_tokens
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip()).decode()
            except Exception:  # noqa: BLE001
                return False
            _email, _, secret = decoded.partition(":")
            return secret in self.jira_tokens or decoded in self.jira_tokens
        return False

    def _fault_response(self, service: str, fault: Fault) -> Response:
        kind, opts = fault.kind, fault.opts
        if service in self.mounts:
            own = self.mounts[service].fault_response(fault)
            if own is not None:
                return own
        if kind == "unauthorized":
            if service == "jira":
                return _jira_error(401, "Client must be authenticated to access this resource.")
            return _github_error(401, "Bad credentials")
        if kind == "server_error":
            code = int(opts.get("status", 500))
            if code == 500:
                if service == "jira":
                    return _jira_error(500, "Internal server error")
                return _github_error(500, "Server Error")
            reason = _REASONS.get(code, "Server Error")
            html = _BAD_GATEWAY_HTML.replace(b"{code}", str(code).encode()).replace(b"{reason}", reason.encode())
            return Response(code, html, {}, "text/html")
        if kind == "rate_limit":
            code = int(opts.get("status", 429))
            retry_after = opts.get("retry_after", 1)
            headers: dict[str, str] = {}
            if retry_after is not None:
                headers["Retry-After"] = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
            wait = float(opts.get("reset_seconds", retry_after if retry_after is not None else 60.0))
            if service == "github":
                headers.update({"X-RateLimit-Limit": str(self.github_rate_limit), "X-RateLimit-Remaining": "0",
                                "X-RateLimit-Used": str(self.github_rate_limit),
                                "X-RateLimit-Reset": str(int(time.time() + wait + 0.999)),
                                "X-RateLimit-Resource": "core"})
                if opts.get("limit") == "primary":  # the token's hourly quota is used up
                    message = "API rate limit exceeded for user ID 1."
                else:
                    message = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                               "again.")
                return _github_error(code, message, headers,
                                     doc="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
            reset = datetime.fromtimestamp(time.time() + wait, tz=timezone.utc)
            headers.update({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
                            "RateLimit-Reason": "jira-burst-based"})
            return _jira_error(code, "Rate limit exceeded.", headers)
        raise AssertionError(f"fault kind {kind} has no canned response")

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


def _github_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


def _jwt_claims(token: str | None) -> dict | None:
    if not token or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None


def _jira_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, jira_api.error_body(message), dict(headers or {}))


def _github_error(status: int, message: str, headers: dict[str, str] | None = None,
                  doc: str = github_api.DOCS) -> Response:
    return Response(status, github_api.error_body(message, status, doc), dict(headers or {}), _GITHUB_JSON)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # A slow-fault thread still sleeping must not hold up stop().
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128
    sim: SimulatorServer


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive: a connector's requests.Session reuses one connection, as against the real APIs.
    protocol_version = "HTTP/1.1"
    server_version = "ThroughlineSimulator/1.0"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm holds the body
        # until the client's delayed ACK (~40 ms) and every request looks 40 ms slow.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.sim.handle(self)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def send(self, response: Response, body_bytes: bytes, *, truncated: bool = False) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body_bytes)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if truncated:
            # Headers promise the whole body; half of it arrives and the connection closes: the client must
            # notice the short read (Content-Length) rather than take the half page as the answer.
            self.wfile.write(body_bytes[: max(1, len(body_bytes) // 2)])
            self.wfile.flush()
            self.close_connection = True
        elif body_bytes:
            self.wfile.write(body_bytes)

    def reset_connection(self) -> None:
        # SO_LINGER with a zero timeout turns close() into a TCP RST: the client sees "connection reset by
        # peer" instead of a clean end of stream, like a dropped load-balancer connection.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):
            pass  # the socket was reset on purpose, or the client left

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass  # request logs go to SimulatorServer.requests, not to stderr
