"""What every source type provides: which raw streams it writes, grouped by how they are read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from connectors.config import _Strict
from connectors.core.engine import Engine, RunOptions, StreamResult
from connectors.core.http import HttpClient, RetryPolicy
from connectors.core.raw import RawStore


@dataclass(frozen=True)
class Finding:
    """One line of `throughline doctor`: ``level`` is ok, warn or fail; ``message`` says what to do."""

    level: str
    subject: str
    message: str


# The strict base of every model of throughline.yml, under a public name for sources' own models (auth, scope).
StrictModel = _Strict


class SourceConfig(StrictModel):
    """Base of a source type's own config model (``SourceType.config_model``): strict like every model of
    throughline.yml (an unknown key is refused as a likely typo) and named. A subclass adds
    ``type: Literal["<its type>"]`` and its fields (``base_url``, ``auth``, ``scope``, ``options``: a subclass
    of ``connectors.config.HttpOptions`` for HTTP sources). docs/ADDING_A_SOURCE.md shows one.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Unique name of this source instance.")


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
    # History loads (pipelines/history.py): groups whose API can bound a request to a time window,
    # and how to read one group for one window [start, end). Other groups are read whole, once.
    windowed_groups: tuple[str, ...] = ()
    extract_window: Callable[[str, object, RawStore, datetime, datetime], list[StreamResult]] | None = None
    # The pydantic model of one `sources:` entry of this type (a SourceConfig with `type: Literal[name]`).
    # Set it and the config accepts the type without an edit to connectors/config.py; the built-in types
    # predating this field keep their models in connectors/config.py's `_SOURCE_MODELS` and leave it None.
    config_model: type[BaseModel] | None = None

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
        **client_kw,
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
        **client_kw,
    )


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
