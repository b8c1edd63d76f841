"""The guarantees every connector owes, as assertions a test calls after running it (docs/ADDING_A_SOURCE.md):

- ``assert_each_record_once``: every record the API holds is in the raw table exactly once and nothing else
  is: no page skipped, none stored twice (``ApiServer.served`` shows what went over the wire: the engine
  may read a page boundary twice on purpose, see Engine._rebase);
- ``assert_cursor``: the saved cursor is where it should be, and never past the data committed under it,
  so a run that died half way resumes without a gap;
- ``assert_rerun_idempotent``: running again changes nothing (no new rows, no duplicates, same payloads).

Plain functions raising AssertionError with what differs: usable from pytest or any runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from connectors.core.endpoint import parse_timestamp
from connectors.core.raw import RAW_SCHEMA, RawStore

T = TypeVar("T")
_UNSET: Any = object()


def source_config(entry: Mapping[str, Any], env: Mapping[str, str] | None = None):
    """One `sources:` entry validated exactly as throughline.yml is (plugins and ``${ENV}`` included)."""
    from connectors.config import parse_config

    return parse_config({"sources": [dict(entry)]}, env=env or {}).sources[0]


def raw_keys(store: RawStore, table: str, source_instance: str | None = None) -> list[str]:
    """The record keys of a raw table (one source instance, or all), sorted."""
    with store.lock:
        return [row[0] for row in store.con.execute(
            f"SELECT record_key FROM {RAW_SCHEMA}.{table} WHERE ? IS NULL OR source_instance = ? ORDER BY 1",
            [source_instance, source_instance],
        ).fetchall()]


def assert_each_record_once(
    store: RawStore,
    table: str,
    expected_keys: Iterable[Any],
    *,
    source_instance: str | None = None,
) -> None:
    """The raw table (of one source instance, or all) holds exactly ``expected_keys`` (as text), once each."""
    expected = sorted(str(k) for k in expected_keys)
    stored = raw_keys(store, table, source_instance)
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    doubled = sorted({k for k in stored if stored.count(k) > 1})
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (first: {missing[:5]})")
    if extra:
        problems.append(f"{len(extra)} unexpected (first: {extra[:5]})")
    if doubled:
        problems.append(f"stored more than once: {doubled[:5]}")
    if problems:
        raise AssertionError(f"raw.{table}: " + "; ".join(problems))


def assert_cursor(
    store: RawStore,
    table: str,
    *,
    source_instance: str,
    stream: str,
    scope: str,
    equals: str | None = _UNSET,
) -> str | None:
    """The cursor of (source_instance, stream, scope) is never past the newest committed ``cursor_value`` of
    that scope in ``table`` (no cursor without rows), and equals ``equals`` when given. Returns it."""
    cursor = store.get_cursor(source_instance, stream, scope)
    if equals is not _UNSET and cursor != equals:
        raise AssertionError(f"cursor of {source_instance}/{stream}/{scope} is {cursor!r}, expected {equals!r}")
    if cursor is None:
        return None
    with store.lock:
        values = [row[0] for row in store.con.execute(
            f"SELECT cursor_value FROM {RAW_SCHEMA}.{table} WHERE source_instance = ? AND scope = ? "
            "AND cursor_value IS NOT NULL", [source_instance, scope],
        ).fetchall()]
    newest = max((t for t in map(parse_timestamp, values) if t is not None), default=None)
    at = parse_timestamp(cursor)
    if newest is None or (at is not None and at > newest):
        raise AssertionError(
            f"cursor of {source_instance}/{stream}/{scope} is {cursor}, past the newest committed record of "
            f"raw.{table} ({newest}): the next run would skip what lies between"
        )
    return cursor


def snapshot(store: RawStore, tables: Iterable[str]) -> dict[str, list[tuple]]:
    """Every row of ``tables`` but its extracted_at, sorted: what a rerun must leave as it is."""
    out = {}
    with store.lock:
        for table in tables:
            out[table] = store.con.execute(
                f"SELECT source_instance, record_key, parent_key, scope, cursor_value, payload::VARCHAR "
                f"FROM {RAW_SCHEMA}.{table} ORDER BY source_instance, record_key"
            ).fetchall()
    return out


def assert_rerun_idempotent(store: RawStore, tables: Iterable[str], rerun: Callable[[], T]) -> T:
    """Call ``rerun`` (the same extraction again, the API unchanged) and check that ``tables`` hold the same
    rows, payloads included: no new row, no duplicate, nothing lost. Returns what ``rerun`` returned."""
    tables = list(tables)
    before = snapshot(store, tables)
    result = rerun()
    after = snapshot(store, tables)
    for table in tables:
        if after[table] != before[table]:
            old, new = set(before[table]), set(after[table])
            raise AssertionError(
                f"raw.{table} changed on a rerun: {len(before[table])} -> {len(after[table])} rows; "
                f"{len(new - old)} new or changed (first: {sorted(new - old)[:2]}), {len(old - new)} gone"
            )
    return result
