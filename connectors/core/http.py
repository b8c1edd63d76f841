"""One HTTP client for every source: timeouts, typed errors, retries that honour the server's pacing."""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlparse

import requests

from connectors.core.errors import (
    AuthError,
    BadRequestError,
    FatalError,
    NotFoundError,
    RetriesExhaustedError,
    RetryableError,
)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class RequestStats:
    """What one stream cost; becomes Dagster metadata and feeds the benchmarks."""

    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    retry_reasons: dict[str, int] = field(default_factory=dict)

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
    ):
        self.source = source
        self.base_url = base_url.rstrip("/") + "/"
        self._auth_headers = auth_headers
        self.timeout_seconds = timeout_seconds
        self.retry = retry
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": user_agent})
        self._sleep = sleep

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
    ) -> tuple[Any, requests.Response]:
        """GET and decode JSON, retrying passing faults; raises a FatalError subclass otherwise."""
        stats = stats if stats is not None else RequestStats()
        url = self.url(path_or_url)
        what = f"{self.source}: GET {urlparse(url).path}"
        attempt = 0
        while True:
            try:
                stats.requests += 1
                return self._attempt(url, params, what)
            except RetryableError as exc:
                if attempt >= self.retry.max_retries:
                    raise RetriesExhaustedError(
                        f"{what} still failing after {attempt} retries ({exc}); the source may be down "
                        f"or rate-limiting hard: rerun later, or raise options.max_retries"
                    ) from None
                wait = exc.wait_seconds if exc.wait_seconds is not None else self.retry.backoff(attempt)
                wait = min(wait, self.retry.max_backoff_seconds)
                stats.count_retry(exc.reason, wait)
                self._sleep(wait)
                attempt += 1

    def _attempt(self, url: str, params: Mapping[str, Any] | None, what: str) -> tuple[Any, requests.Response]:
        try:
            response = self.session.get(
                url, params=params, headers=dict(self._auth_headers()), timeout=self.timeout_seconds
            )
        except requests.Timeout:
            raise RetryableError("timeout", f"no answer within {self.timeout_seconds}s") from None
        except requests.ConnectionError as exc:
            raise RetryableError("connection error", type(exc).__name__) from None

        status = response.status_code
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
