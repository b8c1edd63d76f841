"""File and table sources: rows from CSV / JSON Lines files in a folder, or one Parquet file or DuckDB table.

The generic events source (connectors/events) and the outcomes source (connectors/outcomes) are the same
machine with different row rules: a source type describes its kinds (required columns, how a row is checked,
what keys it) in a `FileSource`, and `extract` / `check` here do the rest. There is no HTTP, so the Engine is
not used; what the Engine guarantees still holds:

- every file is one transaction: its rows, its rejected rows and its fingerprint (the cursor) commit together,
  so a kill loses at most the file being written and the next run reads it again;
- a file whose fingerprint (size and mtime, then a content hash) is the one committed is skipped; a changed
  file is read again whole and replaces the rows it held before; rows of a removed file stay;
- a bad row never drops the good ones: it goes to `raw.<type>__rejected_rows` with its file, line and reason,
  and is logged as a warning; a file that cannot be parsed at all is one error naming it, after every other
  file was loaded.

The payload is the row as the file wrote it plus `_throughline`, the validated values, so staging does not
repeat the parsing.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from pydantic import Field, field_validator, model_validator

from connectors.core.engine import StreamResult
from connectors.core.errors import FatalError
from connectors.core.options import StrictModel
from connectors.core.raw import CursorUpdate, RawRecord, RawStore, raw_table
from connectors.core.source import Finding

REJECTED = "rejected_rows"
# Per-row warnings beyond this many per file are summed up in one line: the table holds them all.
MAX_WARNINGS_PER_FILE = 20
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}
_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")


class FileSourceError(FatalError):
    """A file or table of a file source could not be read at all; the others were loaded."""


class FileInput(StrictModel):
    """Where one kind of row (deployments, kpis, ...) is read from in throughline.yml: a folder of files, or one
    table."""

    path: str | None = Field(
        None, description="Folder of CSV and/or JSONL files (relative paths are relative to the working directory)."
    )
    glob: list[str] = Field(
        default_factory=lambda: ["*.csv", "*.jsonl"],
        description="Which files of the folder are read (globs relative to it; `**/*.csv` descends).",
    )
    table: str | None = Field(
        None,
        description="One table instead of a folder: a Parquet file (`exports/deploys.parquet`) or a DuckDB "
        "table (`duckdb:path/file.duckdb:schema.table`).",
    )

    @field_validator("glob")
    @classmethod
    def _globs(cls, globs: list[str]) -> list[str]:
        if not globs:
            raise ValueError("give at least one glob, e.g. ['*.csv', '*.jsonl']")
        for pattern in globs:
            if pattern.startswith("/") or ".." in Path(pattern).parts:
                raise ValueError(f"'{pattern}' must be relative to the folder (e.g. *.csv or exports/*.jsonl)")
        return globs

    @field_validator("table")
    @classmethod
    def _table(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value.startswith("duckdb:"):
            if not re.fullmatch(r"duckdb:.+:([A-Za-z_]\w*\.)?[A-Za-z_]\w*", value):
                raise ValueError(
                    f"'{value}' is not a DuckDB table reference; write it as duckdb:path/file.duckdb:schema.table"
                )
        elif not value.lower().endswith(".parquet"):
            raise ValueError(
                f"'{value}' is neither a .parquet file nor duckdb:path/file.duckdb:schema.table; for CSV or "
                "JSONL files give their folder as `path`"
            )
        return value

    @model_validator(mode="after")
    def _one_place(self) -> FileInput:
        if (self.path is None) == (self.table is None):
            raise ValueError("give either path (a folder of CSV/JSONL files) or table (Parquet or DuckDB), not both")
        return self


@dataclass(frozen=True)
class Kind:
    """One kind of row a file source reads (deployments, kpis, ...): one raw table."""

    name: str
    required: tuple[str, ...]  # each must have a value
    one_of: tuple[tuple[str, ...], ...] = ()  # each group needs at least one value
    # When set, two rows of one file with the same record key are an error naming both lines (this says
    # what the key is made of); when None, the later row wins silently.
    unique_as: str | None = None


@dataclass(frozen=True)
class FileSource:
    """What differs between file source types; the reading, loading and reporting is shared."""

    type: str  # `type:` in throughline.yml and the raw table prefix
    kinds: tuple[Kind, ...]
    # (kind, row with normalized column names) -> (validated values for `_throughline`, problems)
    validate: Callable[[Kind, dict[str, Any]], tuple[dict[str, Any], list[str]]]
    # (kind, validated values) -> the raw record key
    record_key: Callable[[Kind, dict[str, Any]], str]
    doc: str  # where the columns are documented
    error: type[FileSourceError]
    log: logging.Logger

    @property
    def kind_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds)

    def kind(self, name: str) -> Kind:
        return next(k for k in self.kinds if k.name == name)


# ---- values shared by the row rules ---------------------------------------------------------------


def normalize_column(name: str) -> str:
    """`Started At`, `started-at` and `started_at` are one column."""
    return re.sub(r"[\s\-]+", "_", str(name).strip()).lower()


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    out = str(value).strip()
    return out or None


def parse_utc(value: Any) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; one without an offset is taken as UTC.

    Raises ValueError with the fix when the value is not a timestamp with a time of day.
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        written = text(value)
        if written is None or _DATE_ONLY.fullmatch(written):
            raise ValueError(f"'{written}' has no time of day; write it like 2026-01-05T09:30:00Z")
        try:
            parsed = datetime.fromisoformat(written)
        except ValueError:
            raise ValueError(
                f"'{written}' is not an ISO 8601 timestamp; write it like 2026-01-05T09:30:00Z or "
                "2026-01-05T11:30:00+02:00 (no offset means UTC)"
            ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_date(value: Any) -> date:
    """A calendar date: `2026-01-05`, or a DATE / TIMESTAMP column of a table (its date part)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    written = text(value)
    try:
        if written is None or len(written) != 10:
            raise ValueError
        return date.fromisoformat(written)
    except ValueError:
        raise ValueError(f"'{written}' is not a date; write it as YYYY-MM-DD, like 2026-01-05") from None


def parse_number(value: Any) -> float:
    """A finite number: 1234.5, -3, 1e6; a string with a unit, a comma or a percent sign is refused."""
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is a boolean, not a number")
    if isinstance(value, int | float | Decimal):
        number = float(value)
    else:
        written = text(value)
        try:
            number = float(written or "")
        except ValueError:
            raise ValueError(
                f"'{written}' is not a number; write it like 1234.5 (a dot for decimals, no thousands "
                "separators, units or % signs: put the unit in `unit`)"
            ) from None
    if not math.isfinite(number):
        raise ValueError(f"'{value}' is not a finite number")
    return number


def parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    written = text(value)
    if written is None:
        return None
    if written.lower() in TRUE_WORDS:
        return True
    if written.lower() in FALSE_WORDS:
        return False
    raise ValueError(f"'{written}' is not a boolean; write true or false (yes/no and 1/0 work too)")


class RowCheck:
    """Collects a row's problems while its columns are converted: every problem is reported at once."""

    def __init__(self, kind: Kind, row: dict[str, Any]):
        self.row = row
        self.values = {name: text(row.get(name)) for name in row}
        self.problems: list[str] = []
        for name in kind.required:
            if self.values.get(name) is None:
                self.problems.append(f"column {name}: required but empty or missing; give it a value")
        for group in kind.one_of:
            if all(self.values.get(name) is None for name in group):
                self.problems.append(f"columns {' / '.join(group)}: give at least one of them")

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def convert(self, name: str, parse: Callable[[Any], Any]) -> Any:
        """The column parsed, or None when empty or wrong (then the problem is recorded)."""
        if self.values.get(name) is None:
            return None
        try:
            return parse(self.row[name])
        except ValueError as exc:
            self.problems.append(f"column {name}: {exc}")
            return None

    def problem(self, message: str) -> None:
        self.problems.append(message)


def hashed_key(*identity: Any) -> str:
    return "h:" + hashlib.sha256(json.dumps(identity, default=str).encode()).hexdigest()[:24]


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

    @property
    def noun(self) -> str:
        return "table" if self.is_table else "file"


def units_of(files: FileSource, source_name: str, kind: str, spec: FileInput) -> list[Unit]:
    """The units of one kind's input (a folder with globs, or a table)."""
    if spec.table is not None:
        if spec.table.startswith("duckdb:"):
            file, table = spec.table.removeprefix("duckdb:").rsplit(":", 1)
            return [Unit(spec.table, Path(file), table)]
        return [Unit(spec.table, Path(spec.table))]
    folder = Path(spec.path)
    if not folder.is_dir():
        raise files.error(
            f"{files.type} source '{source_name}', {kind}: folder {folder} does not exist or is not a folder; "
            "create it or fix `path` in throughline.yml"
        )
    found = {p for pattern in spec.glob for p in folder.glob(pattern) if p.is_file()}
    return [Unit(p.relative_to(folder).as_posix(), p) for p in sorted(found)]


def fingerprint(path: Path, previous: str | None) -> str:
    """`size:mtime_ns:sha256`; the content is hashed only when size or mtime moved, so a touched but
    unchanged file keeps its hash (and is not read again)."""
    # A DuckDB file's recent writes may still sit in its write-ahead log.
    parts = [path] + ([Path(f"{path}.wal")] if Path(f"{path}.wal").exists() else [])
    size = sum(f.stat().st_size for f in parts)
    mtime = max(f.stat().st_mtime_ns for f in parts)
    if previous is not None:
        old_size, old_mtime, _ = (previous.split(":") + ["", "", ""])[:3]
        if old_size == str(size) and old_mtime == str(mtime):
            return previous
    digest = hashlib.sha256()
    for f in parts:
        with f.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return f"{size}:{mtime}:{digest.hexdigest()}"


def same_content(a: str | None, b: str) -> bool:
    return a is not None and a.rsplit(":", 1)[-1] == b.rsplit(":", 1)[-1]


def json_safe(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN is not JSON
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # UUID, TIME, INTERVAL, ... of a typed table


def read_rows(unit: Unit, kind: Kind, doc: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
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
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not UTF-8 text (byte {exc.start}); export it as UTF-8") from None
    if suffix == ".csv":
        yield from _read_csv(decoded, kind, doc)
    else:
        yield from _read_jsonl(decoded)


def _read_csv(content: str, kind: Kind, doc: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    reader = csv.reader(io.StringIO(content, newline=""))
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
            f"it has {', '.join(columns) or 'none'} (see {doc})"
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


def _read_jsonl(content: str) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    if content.lstrip().startswith("["):
        try:
            json.loads(content)
        except json.JSONDecodeError:
            pass
        else:
            raise ValueError(
                "it is one JSON document, not JSON Lines; write one object per line (e.g. jq -c '.[]' file.json)"
            )
    parsed_any = False
    pending: list[tuple[int, str, str]] = []  # bad lines before the first good one: the file may not be JSON at all
    for number, raw_line in enumerate(content.splitlines(), start=1):
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
                con.execute(f"ATTACH '{quoted}' AS file_input (READ_ONLY)")
                cursor = con.execute(f"SELECT * FROM file_input.{unit.table}")
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


def load_unit(files: FileSource, source_name: str, kind: Kind, unit: Unit, cursor: str) -> FileLoad:
    where = "row" if unit.is_table else "line"
    result = FileLoad()
    seen: dict[str, int] = {}  # record key -> line, for kinds whose key must be unique in a file
    for line, row, problem in read_rows(unit, kind, files.doc):
        problems = [problem] if problem else []
        checked: dict[str, Any] = {}
        key = None
        if row is not None and not problems:
            checked, problems = files.validate(kind, row)
        if not problems:
            key = files.record_key(kind, checked)
            if kind.unique_as is not None and key in seen:
                problems = [f"same {kind.unique_as} as {where} {seen[key]}; keep one of the two rows"]
        raw_row = json_safe(row or {})
        if problems:
            message = (
                f"{files.type} source '{source_name}', {kind.name} {unit.noun} {unit.scope}, {where} {line}: "
                + "; ".join(problems)
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
        seen[key] = line
        result.records.append(RawRecord(
            record_key=key,
            parent_key=unit.scope,
            scope=unit.scope,
            cursor_value=cursor,
            payload={**raw_row, "_throughline": {"file": unit.scope, "line": line, **json_safe(checked)}},
        ))
    return result


def extract(files: FileSource, source, store: RawStore) -> list[StreamResult]:
    """Read every configured kind of `source` (a config model with one optional input per kind)."""
    rejected_table = raw_table(files.type, REJECTED)
    store.ensure_table(rejected_table)
    results: list[StreamResult] = []
    failures: list[str] = []
    for kind in files.kinds:
        spec = getattr(source, kind.name)
        if spec is None:
            continue
        table = raw_table(files.type, kind.name)
        store.ensure_table(table)
        try:
            units = units_of(files, source.name, kind.name, spec)
        except FileSourceError as exc:
            failures.append(str(exc))
            continue
        for unit in units:
            started = time.monotonic()
            result = StreamResult(source.name, table, unit.scope)
            rejects = StreamResult(source.name, rejected_table, unit.scope)
            result.cursor_before = store.get_cursor(source.name, kind.name, unit.scope)
            try:
                current = fingerprint(unit.path, result.cursor_before)
                if same_content(result.cursor_before, current):
                    result.cursor_after = current
                    if current != result.cursor_before:  # touched, same bytes: remember the new mtime only
                        store.write([], cursor=CursorUpdate(source.name, kind.name, unit.scope, current))
                    results += [result, rejects]
                    continue
                load = load_unit(files, source.name, kind, unit, current)
            except (OSError, ValueError) as exc:
                failures.append(
                    f"{files.type} source '{source.name}', {kind.name} {unit.noun} {unit.scope}: cannot be read: {exc}"
                )
                continue
            # The unit's previous rows and rejects are replaced: a row fixed or removed in a changed file
            # must not linger from its earlier version.
            store.write(
                [(table, source.name, load.records), (rejected_table, source.name, load.rejected)],
                cursor=CursorUpdate(source.name, kind.name, unit.scope, current),
                replace_children=[(table, source.name, [unit.scope]),
                                  (rejected_table, source.name, [f"{kind.name}:{unit.scope}"])],
            )
            for message in load.messages[:MAX_WARNINGS_PER_FILE]:
                files.log.warning("%s (row kept out, see raw.%s)", message, rejected_table)
            if len(load.messages) > MAX_WARNINGS_PER_FILE:
                files.log.warning(
                    "%s source '%s', %s %s: %d more bad rows, all in raw.%s", files.type,
                    source.name, kind.name, unit.scope, len(load.messages) - MAX_WARNINGS_PER_FILE, rejected_table,
                )
            result.records, rejects.records = len(load.records), len(load.rejected)
            result.cursor_after = current
            result.seconds = rejects.seconds = time.monotonic() - started
            results += [result, rejects]
    if failures:
        raise files.error(
            f"{files.type} source '{source.name}': {len(failures)} file(s) or folder(s) could not be read; "
            "everything else was loaded, and these are read again next run:\n  " + "\n  ".join(failures)
        )
    return results


def check(files: FileSource, source) -> list[Finding]:
    """`throughline doctor`: each configured folder or table exists, and how many files it offers now."""
    findings = []
    for kind in files.kind_names:
        spec = getattr(source, kind)
        if spec is None:
            continue
        subject = f"{source.name}: {kind}"
        try:
            units = units_of(files, source.name, kind, spec)
        except FileSourceError as exc:
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
