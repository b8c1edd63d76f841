"""What every source type provides: which raw streams it writes, grouped by how they are read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.core.engine import Engine, RunOptions, StreamResult
from connectors.core.http import HttpClient, RetryPolicy
from connectors.core.raw import RawStore


@dataclass(frozen=True)
class SourceType:
    """A source type (jira, github, ...).

    ``groups`` maps an extraction group to the raw streams it fills: streams read together (issues
    with their changelogs) form one group and become one Dagster multi-asset with a key per stream.
    """

    name: str
    groups: dict[str, tuple[str, ...]]
    extract: Callable[[str, object, RawStore], list[StreamResult]]

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
