"""A loopback HTTP API for connector tests: routes, lists of records in the usual page envelopes, credentials,
and the fault modes of connectors/kit/faults.py, on the loopback HTTP base it shares with the simulator (http.py).

    with ApiServer(auth={"Authorization": "Token token=good"}) as api:
        api.add_list("/incidents", records, pages=OffsetPages(records_key="incidents"),
                     cursor_field="updated_at", since_param="since", until_param="until")
        api.faults.add(r"/incidents", "rate_limit", times=1, retry_after=2)
        ...  # point the connector at api.url
        assert api.request_count("/incidents") == 4

Order of a request, as in the simulator: it is logged; a matching fault fires (faults stand for the
network and the front door, so they come before the credentials); credentials are checked; the route
answers. Standard library only, so a package outside this repository can use it in its own tests.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from connectors.core.endpoint import parse_timestamp
from connectors.core.paginators import dig
from connectors.kit.faults import Fault, FaultRegistry
from connectors.kit.http import (
    LoopbackHandler,
    LoopbackServer,
    Response,
    encoded,
    gateway_page,
    halved,
    query_list,
    wait_out,
)

# handler(query, match, base_url) -> (status, headers, body): a JSON-serialisable body, or bytes sent as they are.
# A POST's JSON object body reaches the handler in ``query`` too (its fields, values as sent), beside the URL's.
Handler = Callable[[dict[str, str], re.Match[str], str], tuple[int, dict[str, str], object]]
Reply = tuple[int, dict[str, str], object]


def _put(body: dict, path: str, value: Any) -> None:
    """Set a dotted path ("paging.next") in a body, creating the objects on the way."""
    *parents, last = path.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[last] = value


def _envelope(records_key: str | None, page: list[dict], extra: Mapping[str, Any]) -> object:
    if records_key is None:
        return page  # a bare JSON list (GitHub, GitLab)
    body: dict[str, Any] = {}
    _put(body, records_key, page)
    for key, value in extra.items():
        _put(body, key, value)
    return body


def _size(query: Mapping[str, str], param: str | None, default: int, maximum: int) -> int:
    raw = query.get(param) if param else None
    try:
        return max(1, min(maximum, int(raw))) if raw not in (None, "") else default
    except ValueError:
        return default


@dataclass(frozen=True)
class OffsetPages:
    """``?offset=&limit=`` pages (PagerDuty, Opsgenie, Jira): the body echoes offset and limit and, for each
    key given, the total (``total_key``), whether more follow (``more_key``) and the next page's URL
    (``next_key``, dotted, e.g. "paging.next"). A limit above ``max_limit`` is cut to it, as real APIs do."""

    records_key: str | None = "items"
    offset_param: str = "offset"
    limit_param: str = "limit"
    default_limit: int = 25
    max_limit: int = 100
    total_key: str | None = "total"
    more_key: str | None = "more"
    next_key: str | None = None
    echo: bool = True  # put offset and limit in the body (under the parameter names)

    def reply(self, records: list[dict], query: dict[str, str], url: str) -> Reply:
        try:
            offset = max(0, int(query.get(self.offset_param) or 0))
        except ValueError:
            return 400, {}, {"message": f"'{query.get(self.offset_param)}' is not a valid {self.offset_param}"}
        limit = _size(query, self.limit_param, self.default_limit, self.max_limit)
        page = records[offset:offset + limit]
        more = offset + limit < len(records)
        extra: dict[str, Any] = {self.offset_param: offset, self.limit_param: limit} if self.echo else {}
        if self.total_key:
            extra[self.total_key] = len(records)
        if self.more_key:
            extra[self.more_key] = more
        if self.next_key:
            extra[self.next_key] = f"{url}?{urlencode({**query, self.offset_param: offset + limit})}" if more else None
        return 200, {}, _envelope(self.records_key, page, extra)


@dataclass(frozen=True)
class TokenPages:
    """Opaque page tokens (CircleCI, Jira Cloud search, many cursor APIs): the body names the next page's token
    under ``token_key`` (None on the last page), the client sends it back as ``token_param``. A token the
    server did not hand out is a 400, as a forged or stale cursor is on real APIs."""

    records_key: str | None = "items"
    token_param: str = "page_token"
    token_key: str = "next_page_token"
    size_param: str | None = "limit"
    default_size: int = 20
    max_size: int = 100

    def reply(self, records: list[dict], query: dict[str, str], url: str) -> Reply:
        token = query.get(self.token_param)
        offset = 0
        if token:
            try:
                kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
                offset = int(number)
                if kind != "offset" or offset < 0:
                    raise ValueError
            except ValueError:
                return 400, {}, {"message": f"invalid {self.token_param}"}
        size = _size(query, self.size_param, self.default_size, self.max_size)
        end = offset + size
        next_token = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(records) else None
        return 200, {}, _envelope(self.records_key, records[offset:end], {self.token_key: next_token})


@dataclass(frozen=True)
class LinkPages:
    """``?page=&per_page=`` pages that name the next one in an RFC 8288 ``Link: <...>; rel="next"`` header
    (GitHub, GitLab keyset); ``records_key`` None answers a bare JSON list."""

    records_key: str | None = None
    page_param: str = "page"
    size_param: str = "per_page"
    default_size: int = 30
    max_size: int = 100

    def reply(self, records: list[dict], query: dict[str, str], url: str) -> Reply:
        page = _size(query, self.page_param, 1, 1 << 30)
        size = _size(query, self.size_param, self.default_size, self.max_size)
        start = (page - 1) * size
        headers = {}
        if start + size < len(records):
            next_query = {**query, self.page_param: page + 1, self.size_param: size}
            headers["Link"] = f'<{url}?{urlencode(next_query)}>; rel="next"'
        return 200, headers, _envelope(self.records_key, records[start:start + size], {})


@dataclass(frozen=True)
class OnePage:
    """Everything in one answer (small lists: services, statuses, fields)."""

    records_key: str | None = None

    def reply(self, records: list[dict], query: dict[str, str], url: str) -> Reply:
        return 200, {}, _envelope(self.records_key, records, {})


Pages = OffsetPages | TokenPages | LinkPages | OnePage


class ApiServer:
    """A loopback HTTP server answering GETs from routes (regex over the path -> handler) and record lists.

    ``auth``: header name -> exact value every API request must carry (None: anything goes); a request
    without it gets ``unauthorized`` (status, headers, body). ``faults`` is the simulator's FaultRegistry:
    ``api.faults.add(path_regex, kind, times, **opts)`` with kinds rate_limit, server_error, slow,
    malformed_json, connection_reset, unauthorized (see connectors/kit/faults.py).
    """

    def __init__(
        self,
        routes: Sequence[tuple[str, Handler]] = (),
        *,
        auth: Mapping[str, str] | None = None,
        unauthorized: Reply = (401, {}, {"message": "Unauthorized"}),
    ):
        self.routes: list[tuple[re.Pattern[str], Handler]] = [(re.compile(p), h) for p, h in routes]
        self.auth = dict(auth) if auth is not None else None
        self.unauthorized = unauthorized
        self.faults = FaultRegistry()
        self._armed: list[tuple[int, str, str, int | None, dict[str, Any]]] = []  # fault_after(), not yet live
        self.requests: list[str] = []  # every request target as sent (path?query), faulted ones included
        self._served: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()
        self.httpd = LoopbackServer(("127.0.0.1", 0), self)
        self.url = self.httpd.url

    # ------------------------------------------------------------------ routes

    def add_route(self, pattern: str, handler: Handler) -> None:
        """``pattern`` must match the whole path; its named groups reach the handler in ``match``."""
        self.routes.append((re.compile(pattern), handler))

    def add_list(
        self,
        path: str,
        records: list[dict] | Callable[[dict[str, str]], list[dict]],
        *,
        pages: Pages = OffsetPages(),
        key: str = "id",
        cursor_field: str | None = None,
        order: str = "ascending",
        since_param: str | None = None,
        until_param: str | None = None,
        keep: Callable[[dict, dict[str, str]], bool] | None = None,
    ) -> list[dict]:
        """Serve ``records`` at ``path`` (a regex over the path) in ``pages``.

        With ``cursor_field`` the list is sorted by it (``order`` "ascending" or "descending", ties by
        ``key``), and ``since_param``/``until_param`` keep the records whose cursor is in [since, until).
        ``keep(record, query)`` filters further (e.g. ``statuses[]=resolved``). The list is read at each
        request, so a test appends to or edits it between two runs. ``records`` may also be a function of
        the path's named groups: the children of one parent (``r"/incidents/(?P<id>\w+)/log_entries"``,
        ``lambda match: entries[match["id"]]``). Returns ``records``.
        """
        served = self._served.setdefault(path, Counter())

        def handler(query: dict[str, str], match: re.Match[str], base_url: str) -> Reply:
            chosen = list(records(match.groupdict()) if callable(records) else records)
            if cursor_field:
                since = parse_timestamp(query.get(since_param)) if since_param else None
                until = parse_timestamp(query.get(until_param)) if until_param else None
                at = [(parse_timestamp(str(dig(r, cursor_field) or "")), r) for r in chosen]
                chosen = [r for t, r in sorted(at, key=lambda x: (x[0] is None, x[0], str(dig(x[1], key))),
                                               reverse=order == "descending")
                          if (since is None or (t is not None and t >= since)) and (until is None or (t is not None and t < until))]
            if keep is not None:
                chosen = [r for r in chosen if keep(r, query)]
            status, headers, body = pages.reply(chosen, query, base_url + match.string)
            if status == 200:
                page = body if isinstance(body, list) else dig(body, pages.records_key)
                with self._lock:
                    served.update(str(dig(r, key)) for r in page or [])
            return status, headers, body

        self.add_route(path, handler)
        return records

    def fault_after(self, requests: int, path_regex: str, kind: str, times: int | None = None, **opts: Any) -> None:
        """Let the next ``requests`` requests through, then add the fault (``faults.add`` arguments): a run
        that dies after its first pages, whatever parameters the engine pages with."""
        FaultRegistry().add(path_regex, kind, times, **opts)  # a bad kind or option fails here, not in a request
        with self._lock:
            self._armed.append((len(self.requests) + requests, path_regex, kind, times, opts))

    # ------------------------------------------------------------------ statistics

    def request_count(self, path_prefix: str | None = None) -> int:
        """Requests received (faulted ones included) whose target starts with ``path_prefix``."""
        with self._lock:
            return sum(1 for r in self.requests if path_prefix is None or r.startswith(path_prefix))

    def served(self, path: str) -> Counter[str]:
        """How many times each record key of the list at ``path`` was sent in a successful page."""
        with self._lock:
            return Counter(self._served[path])

    def reset_stats(self) -> None:
        with self._lock:
            self.requests.clear()
            for counter in self._served.values():
                counter.clear()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ApiServer:
        self.httpd.start("kit-api")
        return self

    def stop(self) -> None:
        self.httpd.stop()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ request handling

    def answer(self, method: str, target: str, headers: Mapping[str, str],
               body: Mapping[str, Any] | None = None) -> Reply | None:
        """The reply to one request, or None to reset the connection (a ``connection_reset`` fault)."""
        with self._lock:
            self.requests.append(target)
            due = [a for a in self._armed if len(self.requests) > a[0]]
            self._armed = [a for a in self._armed if a not in due]
        for _, path_regex, kind, times, opts in due:
            self.faults.add(path_regex, kind, times, **opts)
        fault = self.faults.take(method, target)
        if fault is not None and fault.kind == "connection_reset":
            return None
        if fault is not None and fault.kind == "slow":
            wait_out(fault)
        if fault is not None and fault.kind not in ("slow", "malformed_json"):
            return self._fault_reply(fault)
        if self.auth is not None and any(headers.get(k) != v for k, v in self.auth.items()):
            return self.unauthorized
        parsed = urlsplit(target)
        query = dict(query_list(parsed.query))  # a repeated name: its last value
        query.update(body or {})
        for pattern, handler in self.routes:
            match = pattern.fullmatch(parsed.path)
            if match:
                status, reply_headers, body = handler(query, match, self.url)
                break
        else:
            status, reply_headers, body = 404, {}, {"message": "Not Found"}
        if fault is not None and fault.kind == "malformed_json":
            return 200, reply_headers, halved(encoded(body))
        return status, reply_headers, body

    def _fault_reply(self, fault: Fault) -> Reply:
        if fault.kind == "unauthorized":
            return self.unauthorized
        if fault.kind == "rate_limit":
            retry_after = fault.opts.get("retry_after", 1)
            headers = {} if retry_after is None else {"Retry-After": str(int(float(retry_after)))}
            if int(fault.opts.get("status", 429)) == 403:
                headers["X-RateLimit-Remaining"] = "0"  # a 403 is a rate limit only when it says so
            return int(fault.opts.get("status", 429)), headers, {"message": "Too many requests"}
        code = int(fault.opts.get("status", 500))  # server_error
        if code == 500:
            return 500, {}, {"message": "Internal server error"}
        page = gateway_page(code)
        return code, {"Content-Type": page.content_type}, page.body

    def handle(self, h: LoopbackHandler) -> None:
        try:
            body = json.loads(h.read_body() or b"null") if h.command == "POST" else None
        except ValueError:
            body = None  # not JSON: the handler sees the URL's query only
        reply = self.answer(h.command, h.path, h.headers, body if isinstance(body, dict) else None)
        if reply is None:
            h.reset_connection()
            return
        status, headers, body = reply
        headers = dict(headers)
        content_type = headers.pop("Content-Type", "application/json")
        h.send(Response(status, body, headers, content_type))

