"""One HTTP client for every source: timeouts, typed errors, retries that honour the server's pacing."""

from __future__ import annotations

import email.utils
import errno
import http.client
import json
import os
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlparse

import requests
import urllib3

from connectors.core.errors import (
    AuthError,
    BadRequestError,
    CertificateError,
    FatalError,
    ForeignHostError,
    GoneError,
    NotFoundError,
    RateLimitExhaustedError,
    RetriesExhaustedError,
    RetryableError,
    WaitLimitError,
)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# GitHub: "wait at least one minute" after a secondary limit that names no Retry-After; doubled per repeat.
SECONDARY_LIMIT_WAIT_SECONDS = 60.0
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
# Without options.request_deadline_seconds an answer may take this many read timeouts in all.
DEADLINE_TIMEOUTS = 4.0
DEFAULT_MAX_TOTAL_WAIT_SECONDS = 1800.0
_READ_CHUNK = 65536


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL with the default port filled in: what credentials are bound to."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    try:
        port = parsed.port
    except ValueError:  # a port that is not a number: no origin of ours has one
        port = -1
    return scheme, (parsed.hostname or "").lower(), port or (443 if scheme == "https" else 80)


def origin_text(url: str) -> str:
    """scheme://host[:port], never the user info, path or query (which may carry a secret)."""
    scheme, host, port = origin(url)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if port == (443 if scheme == "https" else 80) else f":{port}")


def _host(url: str) -> str:
    """host[:port] as the URL names it, for messages."""
    parsed = urlparse(url)
    host = parsed.hostname or "(no host)"
    try:
        return f"{host}:{parsed.port}" if parsed.port else host
    except ValueError:
        return host


def _causes(exc: BaseException):
    """The exception and everything it wraps: requests wraps urllib3, which wraps socket and ssl errors."""
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        error = queue.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        queue += [a for a in getattr(error, "args", ()) if isinstance(a, BaseException)]
        queue += [v for v in (getattr(error, "reason", None), error.__cause__, error.__context__)
                  if isinstance(v, BaseException)]


def network_cause(exc: BaseException, url: str) -> str:
    """One line naming the host and what went wrong, from the exceptions requests wraps; no URL, no header."""
    host = _host(url)
    for error in _causes(exc):
        if isinstance(error, socket.gaierror) or type(error).__name__ == "NameResolutionError":
            return f"the host name {host} does not resolve (DNS lookup failed): check base_url and the network's DNS"
        if isinstance(error, ConnectionRefusedError):
            return (f"{host} refused the connection (nothing listens there): check base_url's host and port, "
                    "and that the service is up")
        if isinstance(error, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
                              http.client.RemoteDisconnected)):
            return f"{host} closed the connection without a complete answer (connection reset)"
        if isinstance(error, OSError) and error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return f"no route to {host} (network unreachable): check the network, proxy or VPN"
        if isinstance(error, ssl.SSLError):
            return f"the TLS handshake with {host} failed ({error.reason or error.strerror or 'ssl error'})"
    return f"could not talk to {host} ({type(exc).__name__})"


@dataclass
class RequestStats:
    """What one stream cost; becomes Dagster metadata and feeds the benchmarks."""

    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    retry_reasons: dict[str, int] = field(default_factory=dict)
    not_modified: int = 0  # 304 answers to conditional requests: no quota spent, nothing changed
    rate_limit_waits: int = 0  # sleeps until a token's quota reset

    def count_retry(self, reason: str, waited: float) -> None:
        self.retries += 1
        self.waited_seconds += waited
        self.retry_reasons[reason] = self.retry_reasons.get(reason, 0) + 1


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 120.0

    def backoff(self, attempt: int) -> float:
        # Full jitter keeps many workers from retrying in lockstep against the same server.
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * (2**attempt))
        return random.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0


def retry_after_seconds(response: requests.Response, now: float | None = None) -> float | None:
    """The wait a server asked for: Retry-After (seconds or HTTP date), else a rate-limit reset time."""
    now = time.time() if now is None else now
    value = response.headers.get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - now)
        except (TypeError, ValueError):
            pass
    remaining = response.headers.get("X-RateLimit-Remaining") or response.headers.get("RateLimit-Remaining")
    reset = response.headers.get("X-RateLimit-Reset") or response.headers.get("RateLimit-Reset")
    if remaining == "0" and reset and reset.strip().isdigit():
        reset_value = float(reset)
        # GitHub sends an epoch time; the IETF draft (GitLab) sends seconds from now.
        return max(0.0, reset_value - now) if reset_value > 1_000_000_000 else reset_value
    return None


def _is_rate_limited_403(response: requests.Response) -> bool:
    # GitHub answers an exhausted primary or secondary limit with 403, not 429.
    if response.headers.get("X-RateLimit-Remaining") == "0" or response.headers.get("Retry-After"):
        return True
    try:
        message = str(response.json().get("message", "")).lower()
    except (ValueError, AttributeError):
        return False
    return "rate limit" in message


@dataclass
class _Quota:
    remaining: int | None = None  # None until the server has told us
    reset: float | None = None  # epoch seconds


class TokenPool:
    """Several credentials of one source, each with the quota the server last reported for it.

    Requests go to the token with the most quota left (unknown counts as full), which spreads them
    evenly; a token whose quota is used up is skipped until its reset time. The secrets stay inside:
    callers see token positions only.
    """

    def __init__(
        self,
        secrets: Sequence[str | Callable[[], str]],
        render: Callable[[str], Mapping[str, str]],
        *,
        clock: Callable[[], float] = time.time,
    ):
        if not secrets:
            raise ValueError("a token pool needs at least one token")
        self._secrets = list(secrets)
        self._render = render
        self._clock = clock
        self._quota = [_Quota() for _ in self._secrets]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._secrets)

    def choose(self) -> tuple[int | None, float]:
        """(position of the token to use, 0), or (None, seconds until the earliest reset) if all are spent."""
        with self._lock:
            now = self._clock()
            usable = [
                i for i, q in enumerate(self._quota)
                if not (q.remaining is not None and q.remaining <= 0 and q.reset is not None and q.reset > now)
            ]
            if not usable:
                return None, max(0.0, min(q.reset for q in self._quota if q.reset is not None) - now)
            best = max(usable, key=lambda i: (float("inf") if self._quota[i].remaining is None
                                               else self._quota[i].remaining, -i))
            if self._quota[best].remaining is not None:
                # Count the request now so concurrent callers spread before the answer arrives.
                self._quota[best].remaining = max(0, self._quota[best].remaining - 1)
            return best, 0.0

    def headers(self, index: int) -> Mapping[str, str]:
        # A callable mints or refreshes its secret itself (a GitHub App installation token).
        secret = self._secrets[index]
        return self._render(secret() if callable(secret) else secret)

    def observe(self, index: int, response: requests.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        with self._lock:
            quota = self._quota[index]
            if remaining is not None and remaining.strip().isdigit():
                quota.remaining = int(remaining)
            if reset is not None and reset.strip().isdigit():
                quota.reset = float(reset)

    def exhaust(self, index: int) -> None:
        with self._lock:
            quota = self._quota[index]
            quota.remaining = 0
            if quota.reset is None or quota.reset <= self._clock():
                quota.reset = self._clock() + SECONDARY_LIMIT_WAIT_SECONDS  # no usable reset: try in a minute


def _discard(response: requests.Response) -> None:
    """Drop an answer whose body will not be read (its connection is closed, not reused)."""
    if response.raw is not None:
        response.close()


def _json_or_none(response: requests.Response) -> Any:
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


# GraphQL error codes (errors[].extensions.code, or GitHub's errors[].type) that mean "slow down" (Linear
# RATELIMITED, GitHub RATE_LIMITED, Shopify THROTTLED) or "who are you" (Apollo's UNAUTHENTICATED, FORBIDDEN).
GRAPHQL_RATE_LIMITED = frozenset({"RATELIMITED", "RATE_LIMITED", "THROTTLED"})
GRAPHQL_REFUSED = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "AUTHENTICATION_ERROR"})


def graphql_failure(body: Any, response: requests.Response, what: str, source: str) -> Exception | None:
    """The typed error of a GraphQL answer's ``errors`` list, or None when it has none.

    Any error fails the page, also beside partial ``data``: a record with a field the server could not
    resolve would be stored as if that field were null. The messages are the server's; no header is read."""
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not errors:
        return None
    codes: list[str] = []
    messages: list[str] = []
    for error in errors if isinstance(errors, list) else [errors]:
        if not isinstance(error, Mapping):
            messages.append(str(error))
            continue
        extensions = error.get("extensions")
        for code in (extensions.get("code") if isinstance(extensions, Mapping) else None, error.get("type")):
            if code and str(code).upper() not in codes:
                codes.append(str(code).upper())
        if error.get("message"):
            messages.append(str(error["message"]))
    text = "; ".join(messages)[:300] or "no message"
    named = f" ({', '.join(codes)})" if codes else ""
    if GRAPHQL_RATE_LIMITED.intersection(codes):
        return RetryableError("graphql rate limit", text, wait_seconds=retry_after_seconds(response))
    if GRAPHQL_REFUSED.intersection(codes):
        return AuthError(
            f"{what} was refused (GraphQL{named}: {text}): check the credentials of source '{source}' in "
            "throughline.yml (is the token set, unexpired, and allowed to read this?)"
        )
    return BadRequestError(
        f"{what} was answered with GraphQL errors{named}: {text}. Nothing of this answer was stored; check the "
        "endpoint's query and variables (a field or argument the API does not know, a scope it cannot see)"
    )


def _server_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        messages = body.get("errorMessages") or []
        if body.get("message"):
            messages = [body["message"], *messages]
        if isinstance(body.get("errors"), dict):
            messages += [f"{k}: {v}" for k, v in body["errors"].items()]
        return "; ".join(str(m) for m in messages)[:300]
    return ""


class HttpClient:
    """A requests.Session bound to one source instance.

    ``auth_headers`` is called per request so a token can be refreshed or rotated without
    rebuilding the client; its values are never logged or put into an error.
    """

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        auth_headers: Callable[[], Mapping[str, str]] = dict,
        timeout_seconds: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "throughline/0.1",
        tokens: TokenPool | None = None,
        max_rate_limit_wait_seconds: float = 900.0,
        max_total_wait_seconds: float = DEFAULT_MAX_TOTAL_WAIT_SECONDS,
        request_deadline_seconds: float | None = None,
        ca_bundle: str | None = None,
    ):
        self.source = source
        self.base_url = base_url.rstrip("/") + "/"
        # Credentials are bound to this scheme, host and port; nothing is requested anywhere else.
        self.origin = origin(self.base_url)
        self._auth_headers = auth_headers
        self.timeout_seconds = timeout_seconds
        self.retry = retry
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": user_agent})
        # requests reads the environment (proxy variables, CA bundle, ~/.netrc) again on every request: ~0.5 ms,
        # an eighth of a connector's CPU on a local API. The client reads it once per host instead
        # (_environment_for); and a ~/.netrc entry can no longer replace the source's own credentials.
        self.session.trust_env = False
        self._environments: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._sleep = sleep
        # With a token pool the client tracks quotas itself (GitHub): primary limits switch token or
        # wait for the reset up to max_rate_limit_wait_seconds, secondary limits back off from a minute.
        self.tokens = tokens
        self.max_rate_limit_wait_seconds = max_rate_limit_wait_seconds
        self._secondary_hits = 0
        # Everything this client spent not getting answers (backoff, rate-limit sleeps, attempts that failed,
        # slow ones included) counts against one budget, so a sick server cannot hold a run for hours.
        self.max_total_wait_seconds = max_total_wait_seconds
        self.waited_total = 0.0
        self.request_deadline_seconds = request_deadline_seconds or DEADLINE_TIMEOUTS * timeout_seconds
        self.ca_bundle = ca_bundle

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return urljoin(self.base_url, path_or_url.lstrip("/"))

    def get_json(
        self,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        *,
        stats: RequestStats | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, requests.Response]:
        """GET and decode JSON, retrying passing faults; raises a FatalError subclass otherwise.

        ``headers`` are sent besides the credentials (e.g. If-None-Match); a 304 answer returns
        ``(None, response)`` and is counted in ``stats.not_modified``.
        """
        return self.request_json("GET", path_or_url, params, stats=stats, headers=headers)

    def post_json(
        self,
        path_or_url: str,
        body: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        *,
        stats: RequestStats | None = None,
        graphql: bool = False,
        label: str | None = None,
    ) -> tuple[Any, requests.Response]:
        """POST ``body`` as JSON (``params`` in the query string) and decode the JSON answer.

        Only for reading: a search or a GraphQL query, which changes nothing at the source, so it is
        retried like a GET. Never conditional (an ETag names a GET's answer). With ``graphql`` an answer's
        ``errors`` list is typed like an HTTP error (see graphql_failure). ``label`` (the stream) goes into
        error messages, as one POST path (/graphql, /search) serves many streams.
        """
        return self.request_json("POST", path_or_url, params, json_body=body, stats=stats, graphql=graphql,
                                 label=label)

    def request_json(
        self,
        method: str,
        path_or_url: str,
        params: Mapping[str, Any] | None = None,
        *,
        json_body: Mapping[str, Any] | None = None,
        stats: RequestStats | None = None,
        headers: Mapping[str, str] | None = None,
        graphql: bool = False,
        label: str | None = None,
    ) -> tuple[Any, requests.Response]:
        """One request of either method, under the same origin binding, retries, rate limits and error types."""
        stats = stats if stats is not None else RequestStats()
        url = self.url(path_or_url)
        what = f"{self.source}: {method} {urlparse(url).path}" + (f" ({label})" if label else "")
        if origin(url) != self.origin:
            # A next-page link (Link header, or a URL in the body) naming another host: credentials would go
            # with it, so it is not followed.
            raise ForeignHostError(
                f"{what}: refused to follow a link to {origin_text(url)}, which is not the configured host "
                f"{origin_text(self.base_url)} of source '{self.source}' (base_url); credentials are sent only "
                f"there, and nothing was sent to {origin_text(url)}. If the service moved, set base_url in "
                "throughline.yml; otherwise the server, or a proxy in front of it, names the wrong host in its links"
            )
        attempt = 0
        while True:
            started = None
            try:
                token = self._token_for(what, stats)
                stats.requests += 1
                started = time.monotonic()
                body, response = self._attempt(url, params, what, token, headers, method, json_body, graphql)
                self._secondary_hits = 0
                if response.status_code == 304:
                    stats.not_modified += 1
                return body, response
            except RetryableError as exc:
                if started is not None:
                    self.waited_total += time.monotonic() - started  # the failed attempt's time was waiting too
                if attempt >= self.retry.max_retries:
                    raise RetriesExhaustedError(
                        f"{what} still failing after {attempt} retries ({exc}); the source may be down "
                        f"or rate-limiting hard: rerun later, or raise options.max_retries"
                    ) from None
                if exc.rate_limit == "primary":
                    wait = 0.0  # another token may have quota; _token_for waits if none has
                elif exc.rate_limit == "secondary":
                    self._secondary_hits += 1
                    wait = exc.wait_seconds if exc.wait_seconds is not None else (
                        SECONDARY_LIMIT_WAIT_SECONDS * 2 ** (self._secondary_hits - 1))
                    if wait > self.max_rate_limit_wait_seconds:
                        raise RateLimitExhaustedError(
                            f"{what} hit the secondary rate limit {self._secondary_hits} times in a row; the "
                            f"next wait ({wait:.0f} s) is longer than options.max_rate_limit_wait_seconds "
                            f"({self.max_rate_limit_wait_seconds:.0f}); everything read so far is saved: rerun "
                            f"later, or lower the load on this source (fewer repositories per run)"
                        ) from None
                else:
                    wait = exc.wait_seconds if exc.wait_seconds is not None else self.retry.backoff(attempt)
                    # The server's own wait (Retry-After, a reset time) is honoured in full up to
                    # max_rate_limit_wait_seconds: coming back sooner only earns another 429 and spends a
                    # retry. Beyond that it is implausible (a clock far off): the longest backoff it is.
                    if exc.wait_seconds is None or wait > self.max_rate_limit_wait_seconds:
                        wait = min(wait, self.retry.max_backoff_seconds)
                self._spend(wait, what, str(exc))
                stats.count_retry(exc.reason, wait)
                self._sleep(wait)
                attempt += 1

    def _spend(self, wait: float, what: str, cause: str) -> None:
        """Count a wait against options.max_total_wait_seconds, or stop the source if it would pass it."""
        if self.waited_total + wait > self.max_total_wait_seconds:
            raise WaitLimitError(
                f"{what}: source '{self.source}' has waited {self.waited_total:.0f} s in this step (retry backoff, "
                f"rate-limit waits, answers that were slow or never came) and the next wait of {wait:.0f} s "
                f"(after {cause}) would pass options.max_total_wait_seconds ({self.max_total_wait_seconds:.0f} s), "
                "so the source stopped instead; everything read so far is saved: rerun when the source is "
                "healthy, or raise options.max_total_wait_seconds"
            )
        self.waited_total += wait

    def _token_for(self, what: str, stats: RequestStats) -> int | None:
        """The pool position to send with, after sleeping to a reset if every token is spent."""
        if self.tokens is None:
            return None
        index, wait = self.tokens.choose()
        if index is not None:
            return index
        if wait > self.max_rate_limit_wait_seconds:
            reset_at = time.strftime("%H:%M:%S UTC", time.gmtime(time.time() + wait))
            raise RateLimitExhaustedError(
                f"{what}: the rate limit of every token ({len(self.tokens)}) is used up until {reset_at} "
                f"({wait:.0f} s from now), longer than options.max_rate_limit_wait_seconds "
                f"({self.max_rate_limit_wait_seconds:.0f}); everything read so far is saved and the next run "
                f"resumes from it: rerun after the reset, add tokens under auth.tokens, or raise the maximum"
            )
        # One second past the reset: the server's clock and ours may differ by a little.
        wait += 1.0
        self._spend(wait, what, f"the rate limit of every token ({len(self.tokens)}) was used up")
        stats.rate_limit_waits += 1
        stats.waited_seconds += wait
        self._sleep(wait)
        index, _ = self.tokens.choose()
        return index if index is not None else 0

    def _attempt(
        self,
        url: str,
        params: Mapping[str, Any] | None,
        what: str,
        token: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        method: str = "GET",
        json_body: Mapping[str, Any] | None = None,
        graphql: bool = False,
    ) -> tuple[Any, requests.Response]:
        headers = dict(self._auth_headers())
        if token is not None and self.tokens is not None:
            headers.update(self.tokens.headers(token))
        if extra_headers:
            headers.update(extra_headers)
        deadline = time.monotonic() + self.request_deadline_seconds
        # Redirects are followed here, not by requests: requests drops Authorization on a host change but
        # sends every other header (PRIVATE-TOKEN, Circle-Token) on, and follows https -> http.
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(url, params, headers, method, json_body)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUS or not location:
                break
            _discard(response)
            target = urljoin(url, location)
            if origin(target) != self.origin:
                # Refused rather than followed without credentials: a JSON API answered by a host nobody
                # configured is not the source (a moved service needs base_url changed, anything else is
                # a misconfigured proxy or an attack), and without the token it would only answer 401.
                downgrade = " (down from https to plain http)" if (self.origin[0], origin(target)[0]) == (
                    "https", "http") else ""
                raise ForeignHostError(
                    f"{what} was redirected ({response.status_code}) to {origin_text(target)}{downgrade}, which is "
                    f"not the configured host {origin_text(self.base_url)} of source '{self.source}' (base_url); "
                    f"credentials are sent only there, so the redirect was not followed and nothing was sent to "
                    f"{origin_text(target)}. If the service moved, set base_url in throughline.yml; otherwise "
                    "check the server or the proxy in front of it"
                )
            # The Location is the whole next URL, its query included. A POST is sent again as a POST with its
            # body whatever the status: the query moved (turned into a GET, as browsers do on 301-303, it would
            # read something else).
            url, params = target, None
        else:
            raise FatalError(
                f"{what} was redirected more than {MAX_REDIRECTS} times on {origin_text(self.base_url)}: "
                "check base_url and the server's redirect rules"
            )
        self._read_body(response, deadline, url)

        status = response.status_code
        if token is not None and self.tokens is not None:
            message = _server_message(response).lower() if status in (403, 429) else ""
            if "secondary rate limit" not in message:
                # A secondary limit is about pace, not quota: its headers must not mark the token spent.
                self.tokens.observe(token, response)
            if status in (403, 429):
                if "secondary rate limit" in message:
                    retry_after = response.headers.get("Retry-After", "").strip()
                    raise RetryableError(
                        f"http {status} secondary rate limit",
                        wait_seconds=float(retry_after) if retry_after.isdigit() else None, rate_limit="secondary",
                    )
                if response.headers.get("X-RateLimit-Remaining") == "0":
                    self.tokens.exhaust(token)
                    raise RetryableError(f"http {status} primary rate limit", rate_limit="primary")
        if graphql and status in (200, 400):
            # GraphQL reports failure in the body, under 200 (or 400 for a query it cannot run, and Linear's
            # rate limit): typed before the status, whose own message would say nothing.
            failure = graphql_failure(_json_or_none(response), response, what, self.source)
            if failure is not None:
                raise failure
        if status in RETRYABLE_STATUS:
            raise RetryableError(f"http {status}", wait_seconds=retry_after_seconds(response))
        if status == 403 and _is_rate_limited_403(response):
            wait = retry_after_seconds(response)
            # GitHub's secondary limit may say nothing about when to come back; it asks for a minute.
            raise RetryableError("http 403 rate limit", wait_seconds=60.0 if wait is None else wait)
        if status == 401 or status == 403:
            raise AuthError(
                f"{what} was refused ({status} {_server_message(response) or 'unauthorized'}): check the "
                f"credentials of source '{self.source}' in throughline.yml (is the token set, unexpired, "
                f"and allowed to read this {('project' if '/rest/' in url else 'repository')}?)"
            )
        if status == 404:
            raise NotFoundError(
                f"{what} does not exist (404): check the scope of source '{self.source}' "
                f"(project key or owner/name) and base_url, and that the token can see it"
            )
        if status == 410:
            # deleted for good (GitHub answers 410 for a deleted issue): the engine records it gone like a 404
            raise GoneError(f"{what} is gone (410): it was deleted at the source")
        if status in (400, 422):
            raise BadRequestError(f"{what} was rejected ({status}): {_server_message(response)}")
        if status >= 400:
            raise FatalError(f"{what} failed with HTTP {status}: {_server_message(response)}")
        if status == 204 or not response.content:
            return None, response
        try:
            return json.loads(response.content), response
        except ValueError:
            # A truncated page is a network fault far more often than a server bug: read it again.
            raise RetryableError("malformed json", "response body is not complete JSON") from None

    def _send(
        self, url: str, params: Mapping[str, Any] | None, headers: Mapping[str, str], method: str = "GET",
        json_body: Mapping[str, Any] | None = None,
    ) -> requests.Response:
        """One request, its body left unread (read under the deadline by _read_body)."""
        environment = self._environment_for(url)
        try:
            if method == "POST":
                return self.session.post(url, params=params, json=json_body, headers=headers,
                                         timeout=self.timeout_seconds, allow_redirects=False, stream=True,
                                         **environment)
            return self.session.get(url, params=params, headers=headers, timeout=self.timeout_seconds,
                                    allow_redirects=False, stream=True, **environment)
        except requests.exceptions.SSLError as exc:
            raise self._tls_failure(exc, url) from None
        except requests.ConnectTimeout:
            raise RetryableError("timeout", f"no connection to {_host(url)} within {self.timeout_seconds:g}s") from None
        except requests.Timeout:
            raise RetryableError("timeout", f"{_host(url)} did not answer within {self.timeout_seconds:g}s") from None
        except requests.ConnectionError as exc:
            raise RetryableError("connection error", network_cause(exc, url)) from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            raise RetryableError("truncated response", f"the answer of {_host(url)} was cut off") from None

    def _environment_for(self, url: str) -> dict[str, Any]:
        """The proxies and CA bundle requests would take from the environment for ``url``'s host (HTTP_PROXY,
        HTTPS_PROXY, ALL_PROXY, NO_PROXY; REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE), read at its first request.
        options.ca_bundle comes first, as a `verify` given to requests does."""
        key = origin(url)
        found = self._environments.get(key)
        if found is None:
            found = {"proxies": requests.utils.get_environ_proxies(url)}
            bundle = self.ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                found["verify"] = bundle
            self._environments[key] = found
        return found

    def _tls_failure(self, exc: BaseException, url: str) -> Exception:
        host = _host(url)
        for error in _causes(exc):
            if isinstance(error, ssl.SSLCertVerificationError) or type(error).__name__ == "CertificateError":
                reason = getattr(error, "verify_message", None) or str(error)
                return CertificateError(
                    f"{self.source}: the TLS certificate of {host} was refused (certificate verify failed: {reason}); "
                    "not retried, as waiting does not change a certificate. If the server's certificate comes from "
                    f"a private or corporate CA, give that CA's PEM file as options.ca_bundle of source "
                    f"'{self.source}' (or set REQUESTS_CA_BUNDLE); an expired certificate or one issued for another "
                    "name must be fixed on the server, or base_url corrected"
                )
            if isinstance(error, ssl.SSLError) and "WRONG_VERSION_NUMBER" in str(error):
                return FatalError(
                    f"{self.source}: {host} does not speak TLS (ssl: wrong version number): base_url of source "
                    f"'{self.source}' says https, but the port answers plain http, or a proxy is in the way"
                )
        return RetryableError("connection error", network_cause(exc, url))

    def _read_body(self, response: requests.Response, deadline: float, url: str) -> None:
        """Read the body under the request's deadline: a read timeout bounds one silence only, so a server
        dripping a byte every few seconds would otherwise hold the request for ever."""
        raw = response.raw
        if not hasattr(raw, "read1"):
            return  # a session whose answers already hold their body (test doubles, other adapters)
        chunks: list[bytes] = []
        complete = False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._deadline_error(url, sum(map(len, chunks)))
                sock = getattr(getattr(raw, "_connection", None), "sock", None)
                if sock is not None:
                    # No single read may outlast the deadline (urllib3 resets the timeout on reuse).
                    sock.settimeout(max(0.01, min(self.timeout_seconds, left)))
                chunk = raw.read1(_READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
            complete = True
        except (urllib3.exceptions.ReadTimeoutError, socket.timeout):
            if time.monotonic() >= deadline - 0.05:
                raise self._deadline_error(url, sum(map(len, chunks))) from None
            raise RetryableError(
                "timeout", f"{_host(url)} stopped sending mid-answer for {self.timeout_seconds:g}s") from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError):
            # The connection dropped part-way through the body (fewer bytes than Content-Length, a cut
            # chunked stream): the page is incomplete, so it is read again like any network fault.
            raise RetryableError("truncated response", f"the answer of {_host(url)} was cut off") from None
        finally:
            if not complete:
                _discard(response)
        response._content = b"".join(chunks)
        response._content_consumed = True

    def _deadline_error(self, url: str, received: int) -> RetryableError:
        return RetryableError(
            "deadline", f"{_host(url)} had sent {received} bytes and was still sending after "
            f"{self.request_deadline_seconds:g}s (options.request_deadline_seconds)")
