"""History loads: the first load of a large source, one time window at a time, resumable, with progress.

`throughline history SOURCE --since 2024-01-01 --window-days 30` reads the source's groups that cannot
be bounded in time once (statuses, projects...), then every windowed group (Jira issues with their
changelogs) window by window from `--since` to now. Each window commits as it goes and is recorded in
`raw._history` when it completes, so a run that is stopped (Ctrl-C, a kill, a rate limit it will not
wait out) resumes at the first unfinished window; the records already saved stay. Rate limits are
the HTTP client's as in any run. Every window also writes run-report rows (`ops.stream_runs`, run id
`history-...`), so `marts.pipeline_runs` shows a history load like a nightly run. Afterwards the nightly
run continues incrementally from the newest record read: the windows moved the same cursor it uses.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.core.raw import RAW_SCHEMA, RawStore
from connectors.core.source import windows
from connectors.registry import source_types
from operations.run_report import read_source

HISTORY_TABLE = f"{RAW_SCHEMA}._history"


@dataclass(frozen=True)
class Progress:
    source: str
    group: str
    window_start: datetime
    window_end: datetime
    windows_done: int
    windows_total: int
    records_window: int
    records_total: int
    seconds_elapsed: float

    @property
    def windows_left(self) -> int:
        return self.windows_total - self.windows_done

    @property
    def eta_seconds(self) -> float | None:
        """Seconds per window so far times windows left; None before the first window of this run ends."""
        return None if not self.windows_done else self.seconds_elapsed / self.windows_done * self.windows_left

    def line(self) -> str:
        eta = self.eta_seconds
        left = f", about {_duration(eta)} left" if eta is not None and self.windows_left else ""
        return (f"{self.source} {self.group} {self.window_start:%Y-%m-%d}..{self.window_end:%Y-%m-%d}: "
                f"{self.records_window} records; {self.records_total} so far, "
                f"{self.windows_left} of {self.windows_total} windows left{left}")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _ensure_table(store: RawStore) -> None:
    store.con.execute(
        f"""CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
            source_instance VARCHAR NOT NULL,
            extraction_group VARCHAR NOT NULL,
            window_start TIMESTAMP NOT NULL,
            window_end TIMESTAMP NOT NULL,
            records BIGINT NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            PRIMARY KEY (source_instance, extraction_group, window_start)
        )"""
    )


def history_done(store: RawStore, source: str, group: str, since: datetime) -> tuple[datetime, int]:
    """Where the history of (source, group) is complete from `since` on (the end of the last window
    finished, or `since` itself), and how many windows that took."""
    with store.lock:
        _ensure_table(store)
        done, count = store.con.execute(
            f"SELECT max(window_end), count(*) FROM {HISTORY_TABLE} WHERE source_instance = ? "
            "AND extraction_group = ? AND window_start >= ?",
            [source, group, since.replace(tzinfo=None)],
        ).fetchall()[0]
    return (max(since, done.replace(tzinfo=UTC)) if done is not None else since), count


def load_history(
    source,
    store: RawStore,
    *,
    since: datetime,
    window: timedelta,
    now: datetime | None = None,
    max_windows: int | None = None,
    on_progress: Callable[[Progress], None] = lambda progress: None,
    **client_kw,
) -> list[Progress]:
    """Read `source` from `since` to `now`, windowed where the source allows; returns one Progress per window.

    `max_windows` stops after that many windows of this call (the next call resumes after them).
    """
    source_type = source_types()[source.type]  # plugins too: the config accepted the type
    now = now or datetime.now(UTC)
    run_id = f"history-{now:%Y%m%dT%H%M%S}"
    started = time.monotonic()
    done: list[Progress] = []
    for group in source_type.groups:
        if group in source_type.windowed_groups:
            continue
        # Not windowable: read once, incrementally like the nightly run (its cursor makes a rerun cheap).
        _read(store, source, source_type, group, run_id, lambda: source_type.extract(group, source, store, **client_kw))
    total_records = 0
    for group in source_type.windowed_groups:
        resume, already = history_done(store, source.name, group, since)
        todo = windows(resume, now, window)
        total = already + len(todo)
        for index, (start, end) in enumerate(todo):
            if max_windows is not None and len(done) >= max_windows:
                return done
            results = _read(store, source, source_type, group, run_id,
                            lambda start=start, end=end: source_type.extract_window(
                                group, source, store, start, end, **client_kw))
            records = sum(r.records for r in results)
            total_records += records
            with store.lock:
                store.con.execute(
                    f"INSERT OR REPLACE INTO {HISTORY_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                    [source.name, group, start.replace(tzinfo=None), end.replace(tzinfo=None), records,
                     datetime.now(UTC).replace(tzinfo=None)],
                )
            progress = Progress(source.name, group, start, end, already + index + 1, total, records, total_records,
                                time.monotonic() - started)
            done.append(progress)
            on_progress(progress)
    return done


def _read(store: RawStore, source, source_type, group: str, run_id: str, read) -> list:
    """Run one read and write its run-report rows, also when it fails (then re-raise: a history load stops
    at its first failure and resumes from there when run again)."""
    results, _ = read_source(store, run_id, source_type.name, source.name, group, read, reraise=True)
    return results
