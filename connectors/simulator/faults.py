"""Fault injection: make the next N matching requests fail the way real networks and APIs fail.

A fault matches by ``re.search`` on the request target as the client sent it, prefix and query string
included (``/jira/rest/api/3/search/jql?jql=...``), optionally restricted to one HTTP method with the
``method`` option. The first registered fault with firings left wins; it fires for the next ``times``
matching requests (``times=None``: for ever) and then stops matching.

Kinds and their options:
  rate_limit        429 (``status=403`` for GitHub's other flavour). ``retry_after`` seconds (default 1;
                    None sends no Retry-After header). GitHub paths also get X-RateLimit-Remaining: 0 and
                    X-RateLimit-Reset; Jira paths get Jira's X-RateLimit-* and RateLimit-Reason headers.
  server_error      ``status`` 500 (default), 502, 503 or 504. 500 has the API's JSON error body; 502-504
                    have the HTML page a load balancer would send, which a client must not try to parse.
  slow              waits ``seconds`` (default 2) and then answers normally: for client timeouts.
  malformed_json    200 whose JSON body is cut in half (Content-Length matches the cut body).
  connection_reset  closes the socket with a TCP reset and no response at all.
  unauthorized      401 with the API's real "bad credentials" body.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("rate_limit", "server_error", "slow", "malformed_json", "connection_reset", "unauthorized")
_OPTIONS = {
    "rate_limit": {"retry_after", "status", "method"},
    "server_error": {"status", "method"},
    "slow": {"seconds", "method"},
    "malformed_json": {"method"},
    "connection_reset": {"method"},
    "unauthorized": {"method"},
}


@dataclass
class Fault:
    id: int
    path_regex: str
    kind: str
    times: int | None
    opts: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path_regex)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, method: str, target: str) -> bool:
        wanted = self.opts.get("method")
        if wanted and wanted.upper() != method.upper():
            return False
        return bool(self._pattern.search(target))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path_regex": self.path_regex, "kind": self.kind, "times": self.times,
                "fired": self.fired, **self.opts}


class FaultRegistry:
    """Thread-safe: the server's handler threads take faults while a test adds or clears them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self.fired_total: dict[str, int] = {k: 0 for k in KINDS}

    def add(self, path_regex: str, kind: str, times: int | None = 1, **opts: Any) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}")
        unknown = set(opts) - _OPTIONS[kind]
        if unknown:
            raise ValueError(f"fault kind {kind!r} takes options {sorted(_OPTIONS[kind])}, not {sorted(unknown)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for a fault that never runs out")
        if kind == "server_error" and not 500 <= int(opts.get("status", 500)) <= 599:
            raise ValueError("a server_error status must be 5xx")
        if kind == "rate_limit" and int(opts.get("status", 429)) not in (403, 429):
            raise ValueError("a rate_limit status must be 429 or 403")
        try:
            re.compile(path_regex)  # fail here, not inside a request thread
        except re.error as exc:
            raise ValueError(f"path_regex {path_regex!r} is not a regular expression: {exc}") from None
        with self._lock:
            fault = Fault(self._next_id, path_regex, kind, times, dict(opts))
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, target: str) -> Fault | None:
        """The fault to apply to this request, counting its firing; None if no fault matches."""
        with self._lock:
            for fault in self._faults:
                if not fault.exhausted and fault.matches(method, target):
                    fault.fired += 1
                    self.fired_total[fault.kind] += 1
                    return fault
            return None

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults if not f.exhausted]

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]
