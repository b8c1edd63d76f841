"""Timestamps as the two APIs write them, and a fast path from epoch milliseconds.

Internally the simulator works in integer epoch milliseconds (UTC): cheap to compare, sort and bisect, and
formatting them with ``divmod`` plus a cached date prefix is several times faster than ``strftime``, which
matters when a million issues each carry half a dozen timestamps.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

UTC = timezone.utc
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000


@lru_cache(maxsize=65_536)
def _day(days_since_epoch: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + days_since_epoch).isoformat()


# "YYYY-MM-DDTHH:MM:" per epoch minute. Generation formats millions of timestamps that fall into a few
# hundred thousand minutes; a plain dict lookup beats re-deriving the date each time.
_MINUTES: dict[int, str] = {}


def _minute(minute: int) -> str:
    prefix = _MINUTES.get(minute)
    if prefix is None:
        if len(_MINUTES) > 1_000_000:
            _MINUTES.clear()
        days, rem = divmod(minute, 1440)
        hour, mins = divmod(rem, 60)
        prefix = _MINUTES[minute] = f"{_day(days)}T{hour:02d}:{mins:02d}:"
    return prefix


def jira_ts(ms: int) -> str:
    """Jira Cloud's format: ``2026-01-05T09:00:00.000+0000``."""
    minute, rest = divmod(ms, 60_000)
    sec, milli = divmod(rest, 1000)
    return f"{_minute(minute)}{sec:02d}.{milli:03d}+0000"


def github_ts(ms: int) -> str:
    """GitHub's format: ``2026-01-05T09:00:00Z`` (whole seconds; sub-second parts are dropped, as GitHub does)."""
    minute, rest = divmod(ms, 60_000)
    return f"{_minute(minute)}{rest // 1000:02d}Z"


def parse_ms(value: str) -> int:
    """Any ISO 8601 timestamp the APIs or a test may write (``Z``, ``+0000``, ``+08:00``, no seconds) -> epoch ms.

    A timestamp without an offset is taken as UTC: the simulator's own inputs are all UTC.
    """
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt_to_ms(dt)


def dt_to_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    # timedelta arithmetic is exact, unlike timestamp() which goes through a float.
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def ms_to_dt(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def as_ms(value: int | str | datetime) -> int:
    """Accept what a test finds natural to write: epoch ms, an ISO string or a datetime."""
    if isinstance(value, bool):
        raise TypeError("a timestamp cannot be a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return dt_to_ms(value)
    if isinstance(value, str):
        return parse_ms(value)
    raise TypeError(f"not a timestamp: {value!r}")
