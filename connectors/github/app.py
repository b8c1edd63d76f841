"""GitHub App authentication: the app's private key signs a short JWT, which buys an installation
access token (valid one hour); the token is renewed a few minutes before it expires, so a long load
never sends an expired one. Neither the key, the JWT nor the token ever reaches a message or a log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlparse

import jwt
import requests

from connectors.core.endpoint import parse_timestamp
from connectors.core.errors import AuthError, NotFoundError, RetryableError
from connectors.core.http import network_cause

# Renew this long before expiry: a page request started just before expiry must not arrive after it.
REFRESH_MARGIN_SECONDS = 300.0


class AppInstallationToken:
    """A callable returning a valid installation token of one GitHub App installation."""

    def __init__(
        self,
        *,
        source: str,
        base_url: str,
        app_id: str,
        private_key: str,
        installation_id: int | None,
        installation_path: str,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        timeout_seconds: float = 30.0,
        api_version: str = "2022-11-28",
    ):
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.app_id = str(app_id)
        self._key = private_key
        self.installation_id = installation_id
        # Where to ask for the installation when its id is not configured (org or repository).
        self.installation_path = installation_path
        self._session = session or requests.Session()
        self._clock = clock
        self._timeout = timeout_seconds
        self._version = api_version
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.minted = 0  # how many tokens were bought; for tests and metadata

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_SECONDS:
                self._mint()
            return self._token

    def _jwt(self) -> str:
        now = int(time.time())
        # GitHub allows at most 10 minutes; iat a minute back absorbs clock drift, as GitHub recommends.
        return jwt.encode({"iat": now - 60, "exp": now + 540, "iss": self.app_id}, self._key, algorithm="RS256")

    def _call(self, method: str, path: str) -> dict:
        what = f"{self.source}: {method} {urlparse(self.base_url).path}{path} (GitHub App {self.app_id})"
        try:
            response = self._session.request(
                # a redirect would carry the app's JWT wherever it points: never followed
                method, self.base_url + path, timeout=self._timeout, allow_redirects=False,
                headers={"Authorization": f"Bearer {self._jwt()}", "Accept": "application/vnd.github+json",
                         "X-GitHub-Api-Version": self._version},
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise RetryableError("github app token", network_cause(exc, self.base_url + path)) from None
        if response.status_code in (401, 403):
            raise AuthError(
                f"{what} was refused ({response.status_code}): check auth.app_id and auth.private_key of source "
                f"'{self.source}' (the key must be a current key of this app) and that the app is installed"
            )
        if response.status_code == 404:
            raise NotFoundError(
                f"{what}: no such installation (404): install the app on the org or repositories of source "
                f"'{self.source}', or fix auth.installation_id"
            )
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableError(f"http {response.status_code}", "github app token")
        if response.status_code >= 300:
            raise AuthError(f"{what} failed with HTTP {response.status_code}")
        return response.json()

    def _mint(self) -> None:
        if self.installation_id is None:
            self.installation_id = int(self._call("GET", self.installation_path)["id"])
        body = self._call("POST", f"/app/installations/{self.installation_id}/access_tokens")
        expires = parse_timestamp(body.get("expires_at"))
        self._token = body["token"]
        self._expires_at = expires.timestamp() if expires is not None else self._clock() + 3600
        self.minted += 1
