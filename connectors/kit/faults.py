"""Fault injection: make the next N matching requests fail the way real networks and APIs fail.

Shared by the kit's ApiServer and the simulator: both take a fault before anything else, and each API answers
an ``unauthorized``, ``rate_limit`` or 500 fault in its own shapes (the kinds below describe the simulator's).

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
  slow              waits ``seconds`` (default 2) and then answers normally: for client timeouts. With
                    ``until`` (a threading.Event, in-process only) it waits until the event is set (at most
                    ``seconds``, default 60 then): a test holds a client at a known request, and knows it is
                    there once the fault's ``fired`` count moves.
  malformed_json    200 whose JSON body is cut in half (Content-Length matches the cut body).
  connection_reset  closes the socket with a TCP reset and no response at all.
  unauthorized      401 with the API's real "bad credentials" body. With ``times=None`` and ``after`` it is a
                    token revoked mid-run: every request after the first ``after`` is refused.
  truncated         200 whose headers promise the whole body (Content-Length) but whose connection closes
                    after half of it: a page cut by a dropped connection, as opposed to malformed_json's
                    complete-but-invalid answer.
  mutate            calls ``action(org)`` (in-process only) and then answers normally: records updated or
                    inserted while a client is paging.

Every kind also takes ``after``: the first ``after`` matching requests pass untouched (and may meet a later
fault), so a fault can land in the middle of a run, after some pages were committed.
GitHub's rate_limit also takes ``limit``: "secondary" (default; the abuse-limit message) or "primary" (the
quota message with X-RateLimit-Remaining 0), and ``reset_seconds`` (default: ``retry_after``, else 60) for
X-RateLimit-Reset.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("rate_limit", "server_error", "slow", "malformed_json", "connection_reset", "unauthorized", "truncated",
         "mutate")
_COMMON = {"method", "after"}
_OPTIONS = {
    "rate_limit": {"retry_after", "status", "limit", "reset_seconds", *_COMMON},
    "server_error": {"status", *_COMMON},
    "slow": {"seconds", "until", *_COMMON},
    "malformed_json": _COMMON,
    "connection_reset": _COMMON,
    "unauthorized": _COMMON,
    "truncated": _COMMON,
    "mutate": {"action", *_COMMON},
}


@dataclass
class Fault:
    id: int
    path_regex: str
    kind: str
    times: int | None
    opts: dict[str, Any] = field(default_factory=dict)
    fired: int = 0
    passed: int = 0  # matching requests let through because of ``after``

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
        # In-process options (an action, an event) are shown by name: the answer of GET /_sim/faults is JSON.
        opts = {k: v if isinstance(v, (str, int, float, bool, type(None))) else getattr(v, "__name__", type(v).__name__)
                for k, v in self.opts.items()}
        return {"id": self.id, "path_regex": self.path_regex, "kind": self.kind, "times": self.times,
                "fired": self.fired, **opts}


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
        if kind == "rate_limit" and opts.get("limit", "secondary") not in ("primary", "secondary"):
            raise ValueError("a rate_limit limit must be 'primary' or 'secondary'")
        if kind == "mutate" and not callable(opts.get("action")):
            raise ValueError("a mutate fault needs action=<callable taking the Org> (not available over HTTP)")
        if int(opts.get("after", 0)) < 0:
            raise ValueError("after must be 0 or more")
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
                    if fault.passed < int(fault.opts.get("after", 0)):
                        fault.passed += 1
                        continue
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
