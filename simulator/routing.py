"""Request/response values and a tiny regex router shared by the Jira and GitHub handlers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


@dataclass
class Request:
    method: str
    path: str  # path inside the API, without the /jira or /github prefix and without the query
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
