"""The HTTP base of the loopback doubles: the kit's ApiServer (connectors/kit/server.py) and the simulator.

Standard library only (``orjson`` encodes when installed), so a package outside this repository can use it:
  * ``Request``/``Response``/``ApiError`` and ``Router``: a request as an API handler sees it (path inside the
    API, query in the client's order), a tiny regex router with ``{name}`` segments and 405 for a known path;
  * ``LoopbackServer``/``LoopbackHandler``: a threading HTTP/1.1 server that hands every request to an app's
    ``handle(handler)``, and the handler's ``send`` / ``reset_connection`` / ``read_body``;
  * the fault steps both servers apply the same way (faults.py): ``wait_out`` a slow fault, ``halved`` bodies,
    ``gateway_page`` for a 502-504 from the load balancer in front of any API.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from connectors.kit.faults import Fault

try:  # orjson is several times faster on big pages; the standard library is the fallback
    import orjson

    _fast_dumps = orjson.dumps
except ImportError:  # pragma: no cover - depends on the environment
    def _fast_dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def dumps(obj: Any) -> bytes:
    """Compact JSON in UTF-8; a lone surrogate (a hostile record a test serves on purpose) is sent escaped."""
    try:
        return _fast_dumps(obj)
    except (TypeError, UnicodeEncodeError):
        return json.dumps(obj, separators=(",", ":")).encode()


def encoded(body: Any) -> bytes:
    """A response body as sent: bytes as they are, anything else as JSON."""
    return body if isinstance(body, bytes) else dumps(body)


@dataclass
class Request:
    method: str
    path: str  # path inside the API (without a mount prefix such as /jira) and without the query
    query: list[tuple[str, str]]  # in the client's order, repeated names kept (Jira allows fields twice)
    headers: Any  # email.message.Message from http.server
    body: bytes
    base_url: str  # e.g. http://127.0.0.1:PORT/jira: where page links must point
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route pattern
    token: str | None = None  # the credential the request authenticated with

    def arg(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.query:
            if key == name:
                return value
        return default

    def args(self, name: str) -> list[str]:
        return [value for key, value in self.query if key == name]

    def int_arg(self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None,
                strict: bool = False) -> int:
        raw = self.arg(name)
        if raw is None or raw == "":
            value = default
        else:
            try:
                value = int(raw)
            except ValueError:
                if strict:
                    raise ApiError(400, f"'{raw}' is not a valid number for {name}") from None
                value = default
        if minimum is not None:
            value = max(minimum, value)
        if maximum is not None:
            value = min(maximum, value)
        return value

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, "Request body is not valid JSON.") from None

    def url_with(self, **overrides: Any) -> str:
        """This request's URL with some query parameters replaced (others kept, in order)."""
        query = []
        seen = set()
        for key, value in self.query:
            if key in overrides:
                if key in seen:
                    continue
                seen.add(key)
                value = overrides[key]
            query.append((key, str(value)))
        for key, value in overrides.items():
            if key not in seen:
                query.append((key, str(value)))
        return f"{self.base_url}{self.path}?{urlencode(query)}"


@dataclass
class Response:
    status: int = 200
    body: Any = None  # anything JSON-serialisable, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=UTF-8"


class ApiError(Exception):
    """Raised by handlers; the service turns it into its own error body shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


Handler = Callable[[Request], Response]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        # `{name}` captures one path segment; the pattern must match the whole path.
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(f"^{regex}/?$"), handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler and path parameters; raises 405 if the path exists for another method only."""
        other_method = False
        for route_method, regex, handler in self._routes:
            m = regex.match(path)
            if m:
                if route_method == method:
                    return handler, m.groupdict()
                other_method = True
        if other_method:
            raise ApiError(405, f"Method {method} is not allowed here.")
        return None


def query_list(query: str) -> list[tuple[str, str]]:
    """A query string as (name, value) pairs in the client's order, blanks and repeated names kept."""
    return parse_qsl(query, keep_blank_values=True)


# ---------------------------------------------------------------------- faults applied the same way everywhere

_GATEWAY_HTML = (b"<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
                 b"<center><h1>{code} {reason}</h1></center>\r\n</body>\r\n</html>\r\n")
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable",
            504: "Gateway Time-out"}


def gateway_page(code: int) -> Response:
    """A 5xx from the load balancer in front of an API: HTML, which a client must not try to parse as JSON."""
    reason = _REASONS.get(code, "Server Error")
    html = _GATEWAY_HTML.replace(b"{code}", str(code).encode()).replace(b"{reason}", reason.encode())
    return Response(code, html, {}, "text/html")


def wait_out(fault: Fault) -> None:
    """A ``slow`` fault: sleep, or hold until the test sets the fault's ``until`` event (no lock held)."""
    if fault.opts.get("until") is not None:
        fault.opts["until"].wait(timeout=float(fault.opts.get("seconds", 60.0)))
    else:
        time.sleep(float(fault.opts.get("seconds", 2.0)))


def halved(body: bytes) -> bytes:
    """The first half of a body (at least one byte): a ``malformed_json`` or ``truncated`` page."""
    return body[: max(1, len(body) // 2)]


def retry_after_value(seconds: Any) -> str:
    """A Retry-After header value: whole seconds without a fraction, others as given."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


# ---------------------------------------------------------------------- the server


class App(Protocol):
    def handle(self, handler: LoopbackHandler) -> None: ...


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server on loopback that hands each request to ``app.handle(handler)``."""

    daemon_threads = True
    # A slow-fault thread still sleeping must not hold up stop().
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App):
        super().__init__(address, LoopbackHandler)
        self.app = app
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, name: str) -> None:
        """Serve in a daemon thread (no-op when already serving)."""
        if self.thread is None:
            self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, name=name,
                                           daemon=True)
            self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.shutdown()
            self.thread.join(timeout=5)
            self.thread = None
        self.server_close()


class LoopbackHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive: a connector's requests.Session reuses one connection, as against the real APIs.
    protocol_version = "HTTP/1.1"
    server_version = "ThroughlineSimulator/1.0"
    server: LoopbackServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm holds the body
        # until the client's delayed ACK (~40 ms) and every request looks 40 ms slow.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        try:
            self.server.app.handle(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a slow fault): nothing to answer

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, response: Response, body_bytes: bytes | None = None, *, truncated: bool = False) -> None:
        """Send ``response`` (its body encoded unless ``body_bytes`` is given)."""
        body_bytes = encoded(response.body) if body_bytes is None else body_bytes
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body_bytes)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if truncated:
            # Headers promise the whole body; half of it arrives and the connection closes: the client must
            # notice the short read (Content-Length) rather than take the half page as the answer.
            self.wfile.write(halved(body_bytes))
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
        pass  # request logs are the app's business, not stderr's
