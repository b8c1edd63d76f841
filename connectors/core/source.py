"""What every source type provides: which raw streams it writes, grouped by how they are read."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from typing import Any

from pydantic import BaseModel

from connectors.core.engine import Engine, RunOptions, StreamResult
from connectors.core.errors import (
    AuthError, CertificateError, ConfigError, ForeignHostError, RateLimitExhaustedError, ThroughlineError,
    WaitLimitError, WarehouseLockedError,
)
from connectors.core.http import HttpClient, RequestStats, RetryPolicy
from connectors.core.raw import RawStore


@dataclass(frozen=True)
class Finding:
    """One line of `throughline doctor`: ``level`` is ok, warn or fail; ``message`` says what to do."""

    level: str
    subject: str
    message: str


@dataclass(frozen=True)
class SourceType:
    """A source type (jira, github, ...).

    ``groups`` maps an extraction group to the raw streams it fills: streams read together (issues
    with their changelogs) form one group and become one Dagster multi-asset with a key per stream.
    """

    name: str
    groups: dict[str, tuple[str, ...]]
    extract: Callable[[str, object, RawStore], list[StreamResult]]
    # `throughline doctor`: a few cheap authenticated requests that show whether a run would work
    # (credentials, scope visible, permissions, rate-limit headroom). None: the doctor only says so.
    check: Callable[[object], list[Finding]] | None = None
    # History loads (operations/history.py): groups whose API can bound a request to a time window,
    # and how to read one group for one window [start, end). Other groups are read whole, once.
    windowed_groups: tuple[str, ...] = ()
    extract_window: Callable[[str, object, RawStore, datetime, datetime], list[StreamResult]] | None = None
    # The pydantic model of one `sources:` entry of this type (a connectors.core.options.SourceConfig with
    # `type: Literal[name]`): the `sources:` list of throughline.yml accepts exactly the registered models.
    config_model: type[BaseModel] | None = None
    # Sharded extraction (connectors/partitions.py) makes one partition per item of the scope's `listed` field
    # (connectors.core.options.Scope); groups named here read instance-wide lists (Jira's statuses), which every
    # scope's shard would store again, so they are one partition per source.
    source_level_groups: tuple[str, ...] = ()
    # The dbt vars this type's settings decide (e.g. which Jira issues are incidents), from every configured
    # instance of the type at once: dbt vars are global to a run, so the function merges the instances.
    # None, or an empty dict: the models keep their defaults.
    dbt_vars: Callable[[list], dict[str, Any]] | None = None

    def streams(self) -> list[str]:
        return [stream for streams in self.groups.values() for stream in streams]


def run_options(options) -> RunOptions:
    start = datetime.fromisoformat(options.start_date).replace(tzinfo=UTC) if options.start_date else None
    return RunOptions(
        lookback=timedelta(hours=options.lookback_hours), page_size=options.page_size, start_date=start
    )


def engine_for(source, store: RawStore, auth_headers: Callable[[], dict[str, str]], **client_kw) -> Engine:
    """An Engine for one configured source instance, its HTTP client built from the source options."""
    options = source.options
    client = HttpClient(
        source=source.name,
        base_url=source.base_url,
        auth_headers=auth_headers,
        timeout_seconds=options.timeout_seconds,
        retry=RetryPolicy(options.max_retries, options.backoff_seconds, options.max_backoff_seconds),
        **{**http_limits(options), **client_kw},
    )
    return Engine(
        source_type=source.type, source_instance=source.name, client=client, store=store,
        options=run_options(options),
    )


def probe_client(source, auth_headers: Callable[[], dict[str, str]], **client_kw) -> HttpClient:
    """An HTTP client for `throughline doctor`: one retry and a short timeout, so a check answers fast."""
    return HttpClient(
        source=source.name,
        base_url=source.base_url,
        auth_headers=auth_headers,
        timeout_seconds=min(source.options.timeout_seconds, 15.0),
        retry=RetryPolicy(max_retries=1, backoff_seconds=min(source.options.backoff_seconds, 1.0)),
        **{**http_limits(source.options), **client_kw},
    )


def http_limits(options: object) -> dict:
    """The HttpOptions that bound waiting and trust (docs/OPERATIONS.md); a plugin source's options model
    may lack them, and then the client's defaults hold."""
    return {
        name: getattr(options, name)
        for name in ("max_total_wait_seconds", "request_deadline_seconds", "ca_bundle")
        if getattr(options, name, None) is not None
    }


def windows(since: datetime, until: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """[since, until) cut into windows of `size`; the last one ends at `until`."""
    if size <= timedelta(0):
        raise ValueError("the window must be longer than zero")
    out, start = [], since
    while start < until:
        end = min(start + size, until)
        out.append((start, end))
        start = end
    return out


@dataclass
class FailedScope:
    """A scope (repository, project, job ...) whose read failed. ``result`` is what its failing stream did
    before the failure: records committed, requests and retries made (the run report shows them)."""

    scope: str | None
    error: str
    result: StreamResult


@dataclass
class Extraction:
    """Everything one extract call did when some of its scopes failed: the streams read whole (``results``)
    and the scopes that failed (``failed``). It rides on the raised error as ``exc.extraction``."""

    results: list[StreamResult] = field(default_factory=list)
    failed: list[FailedScope] = field(default_factory=list)


def extraction_of(exc: BaseException) -> Extraction | None:
    """The Extraction an extract call attached to the error it raised, if any."""
    found = getattr(exc, "extraction", None)
    return found if isinstance(found, Extraction) else None


def _cause(exc: BaseException) -> BaseException:
    """The error itself, or the one an engine wrapper (a failure carrying a partial result) stands for."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def _partial(exc: BaseException) -> StreamResult | None:
    result = getattr(exc, "result", None)
    return result if isinstance(result, StreamResult) else None


def stops_the_source(exc: BaseException) -> bool:
    """Errors that every further scope of the source would meet too: a refused token (401), spent quotas,
    a warehouse held by another process, a wrong config, a refused certificate, a server sending us to another
    host, the source's waiting budget spent. 403 and 404 are about one scope and do not stop."""
    cause = _cause(exc)
    if isinstance(cause, RateLimitExhaustedError | WarehouseLockedError | ConfigError | CertificateError
                  | ForeignHostError | WaitLimitError):
        return True
    return isinstance(cause, AuthError) and (getattr(cause, "status", None) == 401 or "(401 " in str(cause))


@contextmanager
def metered(client: HttpClient) -> Iterator[RequestStats]:
    """Counts every request of ``client`` while open (also those of a stream that then fails and whose own
    counts are lost with it), so a failed scope still reports what it cost. GET and POST both pass through
    ``request_json``, so that is where requests are counted."""
    tally = RequestStats()
    inner = client.request_json

    def request_json(*args, **kwargs):
        stats = kwargs.get("stats")
        before = (stats.requests, stats.retries, stats.not_modified, stats.rate_limit_waits,
                  stats.waited_seconds) if stats is not None else None
        try:
            return inner(*args, **kwargs)
        finally:
            if stats is not None:
                tally.requests += stats.requests - before[0]
                tally.retries += stats.retries - before[1]
                tally.not_modified += stats.not_modified - before[2]
                tally.rate_limit_waits += stats.rate_limit_waits - before[3]
                tally.waited_seconds += stats.waited_seconds - before[4]
            else:
                tally.requests += 1

    client.request_json = request_json
    try:
        yield tally
    finally:
        del client.request_json  # the class's method again


def failed_scope(source_instance: str, table: str, scope: str | None, exc: BaseException,
                 cost: RequestStats | None = None) -> FailedScope:
    """The FailedScope of an error: the engine's partial result when it gave one, else what the meter counted."""
    result = _partial(exc) or StreamResult(source_instance, table, scope)
    cost = cost if cost is not None else getattr(exc, "cost", None)  # counted where the scope was read
    if cost is not None and result.stats.requests < cost.requests:
        result.stats = cost
    return FailedScope(scope, str(_cause(exc)), result)


def each_scope(source, table: str, scopes: Iterable[str], read: Callable[[str], list[StreamResult]],
               client: HttpClient | None = None, done: Iterable[StreamResult] = ()) -> list[StreamResult]:
    """``read(scope)`` for every scope in turn; a scope that fails costs only its own streams.

    Every failure is collected; once all scopes were tried, the first failure is raised with its own type
    (callers reading one scope keep catching AuthError, NotFoundError ...) and ``.extraction`` holding every
    result and every failed scope. An error that would stop every other scope too (``stops_the_source``)
    ends the loop: the scopes not tried are failed with it. ``table`` names the failed stream when the
    engine gave no partial result; ``done`` are results the caller read before the loop.
    """
    results: list[StreamResult] = list(done)
    failed: list[FailedScope] = []
    errors: list[BaseException] = []
    pending = list(scopes)
    for i, scope in enumerate(pending):
        with metered(client) if client is not None else _no_meter() as cost:
            try:
                results += read(scope)
                continue
            except (ThroughlineError, ValueError) as exc:  # ValueError: a payload the connector cannot read
                errors.append(exc)
                failed.append(failed_scope(source.name, table, scope, exc, cost))
        if stops_the_source(errors[-1]):
            for rest in pending[i + 1:]:
                failed.append(FailedScope(rest, f"not read: the source stopped at '{scope}' ({failed[-1].error})",
                                          StreamResult(source.name, table, rest)))
            break
    if errors:
        raise_with(errors[0], Extraction(results, failed))
    return results


@contextmanager
def _no_meter() -> Iterator[None]:
    yield None


def raise_with(exc: BaseException, extraction: Extraction):
    """Raise the error as it was raised (an engine's StreamFailed is also of its cause's class), carrying
    ``extraction``."""
    exc.extraction = extraction
    raise exc
