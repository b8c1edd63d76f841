"""Typed errors: the engine retries RetryableError and stops at once on FatalError.

Messages name the source, the object and what to check. They never carry credentials: the engine
builds them from the source name, the method and the path, never from headers.
"""

from __future__ import annotations


class ThroughlineError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(ThroughlineError):
    """throughline.yml (or a mapping seed) is wrong; nothing was requested or written."""


class FatalError(ThroughlineError):
    """Retrying cannot help: a person has to change a token, a scope or the configuration."""


class AuthError(FatalError):
    """401, or 403 that is not a rate limit: the token is wrong, expired or lacks a permission."""


class NotFoundError(FatalError):
    """404: the project, repository or endpoint does not exist for this token."""


class BadRequestError(FatalError):
    """400/422: the source refused the request (for example a JQL it cannot parse)."""


class WarehouseLockedError(FatalError):
    """Another process holds the DuckDB warehouse; DuckDB allows one writer."""


class RetryableError(ThroughlineError):
    """A passing fault: rate limit, 5xx, timeout, reset connection or a truncated response."""

    def __init__(
        self, reason: str, detail: str = "", *, wait_seconds: float | None = None, rate_limit: str | None = None
    ):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason  # a short label such as "http 429"; counted per stream
        # What the server asked for (Retry-After or a rate-limit reset); None means "use backoff".
        self.wait_seconds = wait_seconds
        # "primary" (a token's quota is used up) or "secondary" (GitHub's abuse limit), when the client
        # tracks token quotas; they are paced differently from network faults.
        self.rate_limit = rate_limit


class RateLimitExhaustedError(FatalError):
    """Every token's quota is used up for longer than the configured maximum wait."""


class RetriesExhaustedError(FatalError):
    """A retryable fault kept happening past the configured number of retries."""
