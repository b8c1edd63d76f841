"""The generic events source: deployments and incidents from files or a table, for any system without a connector.

A source names, per kind (deployments, incidents), a folder of CSV / JSON Lines files or one Parquet file or
DuckDB table (docs/sources/events.md has the columns). There is no HTTP, so the Engine is not used; what the
Engine guarantees still holds here:

- every file is one transaction: its rows, its rejected rows and its fingerprint (the cursor) commit together,
  so a kill loses at most the file being written and the next run reads it again;
- a file whose fingerprint (size and mtime, then a content hash) is the one committed is skipped; a changed
  file is read again whole and replaces the rows it held before; rows of a removed file stay;
- a bad row never drops the good ones: it goes to `raw.events__rejected_rows` with its file, line and reason,
  and is logged as a warning; a file that cannot be parsed at all is one error naming it, after every other
  file was loaded.

The payload is the row as the file wrote it plus `_throughline`, the validated values (UTC timestamps, the
status in the documented vocabulary, booleans), so staging does not repeat the parsing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from connectors.config import EventsInput, EventsSource
from connectors.core.engine import StreamResult
from connectors.core.errors import FatalError
from connectors.core.raw import CursorUpdate, RawRecord, RawStore, raw_table
from connectors.core.source import Finding, SourceType

log = logging.getLogger(__name__)

TYPE = "events"
KINDS = ("deployments", "incidents")
REJECTED = "rejected_rows"
# Per-row warnings beyond this many per file are summed up in one line: the table holds them all.
MAX_WARNINGS_PER_FILE = 20

# Status vocabulary of deployment rows: what a file may write (case, spaces and dashes ignored) -> the status
# we store. `rolled_back` is a deployment that was rolled back (it failed in production); a deployment that
# *is* a rollback says so in is_rollback.
DEPLOYMENT_STATUSES: dict[str, str] = {
    **dict.fromkeys(
        ["success", "succeeded", "successful", "succeed", "ok", "passed", "pass", "done", "complete", "completed",
         "deployed", "healthy", "synced", "finished"], "success"),
    **dict.fromkeys(
        ["failure", "failed", "fail", "error", "errored", "broken", "degraded", "unhealthy"], "failure"),
    **dict.fromkeys(["rolled_back", "rolledback", "rollback", "reverted"], "rolled_back"),
    **dict.fromkeys(
        ["in_progress", "running", "pending", "queued", "started", "progressing", "deploying", "waiting"],
        "in_progress"),
    **dict.fromkeys(["cancelled", "canceled", "aborted", "terminated", "skipped"], "cancelled"),
}
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")


class EventsFileError(FatalError):
    """A file or table of an events source could not be read at all; the others were loaded."""


# ---- validation of one row -------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    name: str
    required: tuple[str, ...]  # each must have a value
    one_of: tuple[tuple[str, ...], ...]  # each group needs at least one value


DEPLOYMENTS = Kind("deployments", ("service", "environment", "status"), (("started_at", "finished_at"), ("sha", "version")))
INCIDENTS = Kind("incidents", ("id", "service", "started_at"), ())
KIND_BY_NAME = {k.name: k for k in (DEPLOYMENTS, INCIDENTS)}


def normalize_column(name: str) -> str:
    """`Started At`, `started-at` and `started_at` are one column."""
    return re.sub(r"[\s\-]+", "_", str(name).strip()).lower()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def parse_utc(value: Any) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; one without an offset is taken as UTC.

    Raises ValueError with the fix when the value is not a timestamp with a time of day.
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        text = _text(value)
        if text is None or _DATE_ONLY.fullmatch(text):
            raise ValueError(f"'{text}' has no time of day; write it like 2026-01-05T09:30:00Z")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"'{text}' is not an ISO 8601 timestamp; write it like 2026-01-05T09:30:00Z or "
                "2026-01-05T11:30:00+02:00 (no offset means UTC)"
            ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = _text(value)
    if text is None:
        return None
    if text.lower() in TRUE_WORDS:
        return True
    if text.lower() in FALSE_WORDS:
        return False
    raise ValueError(f"'{text}' is not a boolean; write true or false (yes/no and 1/0 work too)")


def deployment_status(value: Any) -> str:
    text = _text(value) or ""
    status = DEPLOYMENT_STATUSES.get(re.sub(r"[\s\-]+", "_", text.lower()))
    if status is None:
        raise ValueError(
            f"'{text}' is not a known status; write success, failure, rolled_back, in_progress or cancelled "
            "(synonyms such as succeeded, ok, failed, error, running, aborted are accepted)"
        )
    return status


def _sha(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    if not _SHA.fullmatch(text):
        raise ValueError(f"'{text}' is not a commit sha (7 to 64 hex digits); put release names in `version`")
    return text.lower()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def validate(kind: Kind, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The row's validated values (for `_throughline`) and its problems, each naming the column and the fix."""
    problems: list[str] = []
    values = {name: _text(row.get(name)) for name in row}
    for name in kind.required:
        if values.get(name) is None:
            problems.append(f"column {name}: required but empty or missing; give it a value")
    for group in kind.one_of:
        if all(values.get(name) is None for name in group):
            problems.append(f"columns {' / '.join(group)}: give at least one of them")

    def convert(name: str, parse):
        if values.get(name) is None:
            return None
        try:
            return parse(row[name])
        except ValueError as exc:
            problems.append(f"column {name}: {exc}")
            return None

    out: dict[str, Any] = {"id": values.get("id"), "service": values.get("service")}
    if kind is DEPLOYMENTS:
        started, finished = convert("started_at", parse_utc), convert("finished_at", parse_utc)
        end_name = "finished_at"
        out.update(
            environment=values.get("environment"),
            status=convert("status", deployment_status),
            source_status=values.get("status"),
            started_at=_iso(started),
            finished_at=_iso(finished),
            sha=convert("sha", _sha),
            version=values.get("version"),
            name=values.get("name"),
            repo=values.get("repo"),
            is_rollback=convert("is_rollback", parse_bool),
            is_hotfix=convert("is_hotfix", parse_bool),
            url=values.get("url"),
        )
    else:
        started, finished = convert("started_at", parse_utc), convert("resolved_at", parse_utc)
        end_name = "resolved_at"
        out.update(
            severity=values.get("severity"),
            started_at=_iso(started),
            resolved_at=_iso(finished),
            caused_by_deployment=values.get("caused_by_deployment"),
            caused_by_source=values.get("caused_by_source"),
            root_cause_sha=convert("root_cause_sha", _sha),
            is_rollback=convert("is_rollback", parse_bool),
            title=values.get("title"),
            url=values.get("url"),
        )
    if started is not None and finished is not None and finished < started:
        problems.append(
            f"column {end_name}: {finished.isoformat()} is before started_at {started.isoformat()} (both in UTC); "
            "swap them or fix the time zone offset"
        )
    return out, problems


def record_key(kind: Kind, checked: dict[str, Any]) -> str:
    """The row's id; without one, a hash of what identifies a deployment (it stays the same when a
    deployment first exported while running is exported again finished)."""
    if checked.get("id") is not None:
        return checked["id"]
    identity = [checked.get("service"), checked.get("environment"), checked.get("started_at") or checked.get("finished_at"),
                checked.get("sha"), checked.get("version")]
    return "h:" + hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:24]


# ---- reading files and tables ----------------------------------------------------------------------


@dataclass
class Unit:
    """One thing read as a whole: a file of a folder, or the configured table."""

    scope: str  # file path relative to the folder, or the table reference as configured
    path: Path  # the file (for a DuckDB table, the database file)
    table: str | None = None  # `schema.table` inside a DuckDB file

    @property
    def is_table(self) -> bool:
        return self.table is not None or self.path.suffix.lower() == ".parquet"


def units_of(source_name: str, kind: str, spec: EventsInput) -> list[Unit]:
    if spec.table is not None:
        if spec.table.startswith("duckdb:"):
            file, table = spec.table.removeprefix("duckdb:").rsplit(":", 1)
            return [Unit(spec.table, Path(file), table)]
        return [Unit(spec.table, Path(spec.table))]
    folder = Path(spec.path)
    if not folder.is_dir():
        raise EventsFileError(
            f"events source '{source_name}', {kind}: folder {folder} does not exist or is not a folder; "
            "create it or fix `path` in throughline.yml"
        )
    found = {p for pattern in spec.glob for p in folder.glob(pattern) if p.is_file()}
    return [Unit(p.relative_to(folder).as_posix(), p) for p in sorted(found)]


def fingerprint(path: Path, previous: str | None) -> str:
    """`size:mtime_ns:sha256`; the content is hashed only when size or mtime moved, so a touched but
    unchanged file keeps its hash (and is not read again)."""
    # A DuckDB file's recent writes may still sit in its write-ahead log.
    files = [path] + ([Path(f"{path}.wal")] if Path(f"{path}.wal").exists() else [])
    size = sum(f.stat().st_size for f in files)
    mtime = max(f.stat().st_mtime_ns for f in files)
    if previous is not None:
        old_size, old_mtime, _ = (previous.split(":") + ["", "", ""])[:3]
        if old_size == str(size) and old_mtime == str(mtime):
            return previous
    digest = hashlib.sha256()
    for f in files:
        with f.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return f"{size}:{mtime}:{digest.hexdigest()}"


def same_content(a: str | None, b: str) -> bool:
    return a is not None and a.rsplit(":", 1)[-1] == b.rsplit(":", 1)[-1]


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN is not JSON
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # UUID, TIME, INTERVAL, ... of a typed table


def read_rows(unit: Unit, kind: Kind) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line, row with normalized column names, problem) per row; a problem here means the line itself
    could not be read (bad JSON). Raises ValueError when the whole file cannot be parsed."""
    if unit.is_table:
        yield from _read_table(unit)
        return
    suffix = unit.path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ValueError(f"cannot tell its format from the extension '{suffix}'; name CSV files .csv, JSON Lines files .jsonl and Parquet files .parquet")
    data = unit.path.read_bytes()
    if b"\x00" in data:
        raise ValueError("it is binary, not CSV or JSON Lines text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not UTF-8 text (byte {exc.start}); export it as UTF-8") from None
    if suffix == ".csv":
        yield from _read_csv(text, kind)
    else:
        yield from _read_jsonl(text)


def _read_csv(text: str, kind: Kind) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ValueError(f"its header is not CSV ({exc})") from None
    columns = [normalize_column(c) for c in header]
    missing = [c for c in kind.required if c not in columns]
    missing += [" or ".join(g) for g in kind.one_of if not any(c in columns for c in g)]
    if missing:
        raise ValueError(
            f"its header lacks the column(s) {', '.join(missing)} every {kind.name} row needs; "
            f"it has {', '.join(columns) or 'none'} (see docs/sources/events.md)"
        )
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, None, f"not a CSV row ({exc}); check its quotes"
            line = reader.line_num + 1
            continue
        start, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue  # blank lines are not rows
        if len(cells) > len(columns):
            yield start, dict(zip(columns + [f"_extra_{i}" for i in range(len(cells) - len(columns))], cells)), (
                f"{len(cells)} fields but the header has {len(columns)}; quote values that contain commas"
            )
            continue
        yield start, dict(zip(columns, cells)), None


def _read_jsonl(text: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    if text.lstrip().startswith("["):
        try:
            json.loads(text)
        except json.JSONDecodeError:
            pass
        else:
            raise ValueError(
                "it is one JSON document, not JSON Lines; write one object per line (e.g. jq -c '.[]' file.json)"
            )
    parsed_any = False
    pending: list[tuple[int, str, str]] = []  # bad lines before the first good one: the file may not be JSON at all
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            value = json.loads(raw_line)
            problem = None if isinstance(value, dict) else "not a JSON object; write one {...} per line"
        except json.JSONDecodeError as exc:
            value, problem = None, f"not valid JSON ({exc.msg} at column {exc.colno}); write one JSON object per line"
        if problem is None:
            if not parsed_any:
                for line, bad_line, message in pending:
                    yield line, {"_line": bad_line}, message
                pending.clear()
            parsed_any = True
            yield number, {normalize_column(k): v for k, v in value.items()}, None
        elif parsed_any:
            yield number, {"_line": raw_line}, problem
        else:
            pending.append((number, raw_line, problem))
    if pending:
        raise ValueError(f"no line of it is a JSON object (line {pending[0][0]}: {pending[0][2]}); write one object per line")


def _read_table(unit: Unit) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    if not unit.path.exists():
        raise ValueError("the file does not exist; fix `table` in throughline.yml")
    con = duckdb.connect()
    try:
        try:
            if unit.table is not None:
                quoted = str(unit.path).replace("'", "''")
                con.execute(f"ATTACH '{quoted}' AS events_input (READ_ONLY)")
                cursor = con.execute(f"SELECT * FROM events_input.{unit.table}")
            else:
                cursor = con.execute("SELECT * FROM read_parquet(?)", [str(unit.path)])
            columns = [normalize_column(c[0]) for c in cursor.description]
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            raise ValueError(f"DuckDB cannot read it ({str(exc).splitlines()[0]})") from None
    finally:
        con.close()
    for number, values in enumerate(rows, start=1):
        yield number, dict(zip(columns, values)), None


# ---- extraction ------------------------------------------------------------------------------------


@dataclass
class FileLoad:
    """What reading one unit produced; written in one transaction."""

    records: list[RawRecord] = field(default_factory=list)
    rejected: list[RawRecord] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def load_unit(source_name: str, kind: Kind, unit: Unit, cursor: str) -> FileLoad:
    where = "row" if unit.is_table else "line"
    result = FileLoad()
    for line, row, problem in read_rows(unit, kind):
        problems = [problem] if problem else []
        checked: dict[str, Any] = {}
        if row is not None and not problems:
            checked, problems = validate(kind, row)
        raw_row = _json_safe(row or {})
        if problems:
            message = (
                f"events source '{source_name}', {kind.name} {'table' if unit.is_table else 'file'} {unit.scope}, "
                f"{where} {line}: " + "; ".join(problems)
            )
            result.messages.append(message)
            result.rejected.append(RawRecord(
                record_key=f"{kind.name}:{unit.scope}:{line}",
                parent_key=f"{kind.name}:{unit.scope}",
                scope=unit.scope,
                cursor_value=cursor,
                payload={"kind": kind.name, "file": unit.scope, "line": line, "reason": "; ".join(problems),
                         "row": raw_row},
            ))
            continue
        result.records.append(RawRecord(
            record_key=record_key(kind, checked),
            parent_key=unit.scope,
            scope=unit.scope,
            cursor_value=cursor,
            payload={**raw_row, "_throughline": {"file": unit.scope, "line": line, **checked}},
        ))
    return result


def extract(group: str, source: EventsSource, store: RawStore) -> list[StreamResult]:
    if group not in SOURCE.groups:
        raise ValueError(f"events has no extraction group '{group}'")
    rejected_table = raw_table(TYPE, REJECTED)
    store.ensure_table(rejected_table)
    results: list[StreamResult] = []
    failures: list[str] = []
    for kind_name in KINDS:
        spec: EventsInput | None = getattr(source, kind_name)
        if spec is None:
            continue
        kind = KIND_BY_NAME[kind_name]
        table = raw_table(TYPE, kind_name)
        store.ensure_table(table)
        try:
            units = units_of(source.name, kind_name, spec)
        except EventsFileError as exc:
            failures.append(str(exc))
            continue
        for unit in units:
            started = time.monotonic()
            result = StreamResult(source.name, table, unit.scope)
            rejects = StreamResult(source.name, rejected_table, unit.scope)
            result.cursor_before = store.get_cursor(source.name, kind_name, unit.scope)
            try:
                current = fingerprint(unit.path, result.cursor_before)
                if same_content(result.cursor_before, current):
                    result.cursor_after = current
                    if current != result.cursor_before:  # touched, same bytes: remember the new mtime only
                        store.write([], cursor=CursorUpdate(source.name, kind_name, unit.scope, current))
                    results += [result, rejects]
                    continue
                load = load_unit(source.name, kind, unit, current)
            except (OSError, ValueError) as exc:
                failures.append(
                    f"events source '{source.name}', {kind_name} {'table' if unit.is_table else 'file'} "
                    f"{unit.scope}: cannot be read: {exc}"
                )
                continue
            # The unit's previous rows and rejects are replaced: a row fixed or removed in a changed file
            # must not linger from its earlier version.
            store.write(
                [(table, source.name, load.records), (rejected_table, source.name, load.rejected)],
                cursor=CursorUpdate(source.name, kind_name, unit.scope, current),
                replace_children=[(table, source.name, [unit.scope]),
                                  (rejected_table, source.name, [f"{kind_name}:{unit.scope}"])],
            )
            for message in load.messages[:MAX_WARNINGS_PER_FILE]:
                log.warning("%s (row kept out, see raw.%s)", message, rejected_table)
            if len(load.messages) > MAX_WARNINGS_PER_FILE:
                log.warning(
                    "events source '%s', %s %s: %d more bad rows, all in raw.%s",
                    source.name, kind_name, unit.scope, len(load.messages) - MAX_WARNINGS_PER_FILE, rejected_table,
                )
            result.records, rejects.records = len(load.records), len(load.rejected)
            result.cursor_after = current
            result.seconds = rejects.seconds = time.monotonic() - started
            results += [result, rejects]
    if failures:
        raise EventsFileError(
            f"events source '{source.name}': {len(failures)} file(s) or folder(s) could not be read; everything "
            "else was loaded, and these are read again next run:\n  " + "\n  ".join(failures)
        )
    return results


def check(source: EventsSource) -> list[Finding]:
    """Each configured folder or table exists, and how many files it offers now."""
    findings = []
    for kind in ("deployments", "incidents"):
        spec = getattr(source, kind)
        if spec is None:
            continue
        subject = f"{source.name}: {kind}"
        try:
            units = units_of(source.name, kind, spec)
        except EventsFileError as exc:
            findings.append(Finding("fail", subject, str(exc)))
            continue
        missing = [u.path for u in units if not u.path.is_file()]
        if missing:
            findings.append(Finding("fail", subject, f"{missing[0]} does not exist: fix `table` in throughline.yml"))
        elif not units:
            findings.append(Finding("warn", subject, f"no file in {spec.path} matches {', '.join(spec.glob)} yet"))
        else:
            findings.append(Finding("ok", subject, f"{len(units)} file(s) to read" if spec.path else "table file found"))
    return findings


SOURCE = SourceType(TYPE, groups={"events": ("deployments", "incidents", REJECTED)}, extract=extract, check=check)
