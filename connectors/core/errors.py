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


class ForeignHostError(FatalError):
    """A redirect or a next-page link leads off the configured base URL's scheme, host and port; it is not
    followed, so the source's credentials never reach another host."""


class CertificateError(FatalError):
    """The server's TLS certificate was refused: waiting does not change a certificate."""


class WaitLimitError(FatalError):
    """A source spent more than options.max_total_wait_seconds waiting (backoff, rate limits, slow answers)."""


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


class GoneError(NotFoundError):
    """410: the object existed and was deleted (GitHub answers 410 for a deleted issue); handled as a 404."""


class PagingLoopError(FatalError):
    """The server's paging does not advance (a next link to a page already read, a page repeated): reading
    on would loop for ever or skip the pages the repeat hides."""


class StreamFailed(ThroughlineError):
    """A stream stopped; what it committed stays. ``result`` is its StreamResult so far (records, requests,
    retries: a failed stream's cost is reported too), ``cause`` the error that stopped it.

    Raised through ``StreamFailed.of``, whose instance is also of the cause's class (named as it is), so
    code that catches AuthError or RetriesExhaustedError, and messages built from the class name, are
    unchanged."""

    result: object
    cause: BaseException

    _kinds: dict[type, type] = {}

    def __init__(self, result: object = None, cause: BaseException | None = None):
        super().__init__(str(cause) if cause is not None else "stream failed")
        self.result = result
        self.cause = cause

    @classmethod
    def of(cls, result: object, cause: BaseException) -> StreamFailed:
        if isinstance(cause, StreamFailed):
            cause.result = result
            return cause
        kind = type(cause)
        combined = cls._kinds.get(kind)
        if combined is None:
            try:
                combined = type(kind.__name__, (cls, kind), {"__module__": kind.__module__,
                                                             "__qualname__": kind.__qualname__})
            except TypeError:  # a class that cannot be combined (a C type's layout): plain StreamFailed
                combined = cls
            cls._kinds[kind] = combined
        failed = Exception.__new__(combined)
        failed.args = cause.args
        failed.__dict__.update(getattr(cause, "__dict__", {}))
        failed.result = result
        failed.cause = cause
        return failed

    def __reduce__(self):
        # The combined class exists in this process only: a pickled copy (another process) is the cause.
        cause = getattr(self, "cause", None)
        return cause.__reduce__() if cause is not None else Exception.__reduce__(self)
