"""The generic events source: deployments and incidents from files or a table, for any system without a connector.

A source names, per kind (deployments, incidents), a folder of CSV / JSON Lines files or one Parquet file or
DuckDB table (docs/sources/events.md has the columns). Reading, fingerprints (one transaction per file),
rejected rows and `throughline doctor` are connectors/core/files.py, shared with the outcomes source; this
module holds the row rules.

The payload is the row as the file wrote it plus `_throughline`, the validated values (UTC timestamps, the
status in the documented vocabulary, booleans), so staging does not repeat the parsing.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from connectors.core import files
from connectors.core.engine import StreamResult
from connectors.core.files import Kind, RowCheck, hashed_key, parse_bool, parse_utc, text
from connectors.core.raw import RawStore
from connectors.core.source import Finding, SourceType
from connectors.events.config import EventsSource

log = logging.getLogger(__name__)

TYPE = "events"
KINDS = ("deployments", "incidents")
REJECTED = files.REJECTED

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
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")


class EventsFileError(files.FileSourceError):
    """A file or table of an events source could not be read at all; the others were loaded."""


# ---- validation of one row -------------------------------------------------------------------------


DEPLOYMENTS = Kind("deployments", ("service", "environment", "status"), (("started_at", "finished_at"), ("sha", "version")))
INCIDENTS = Kind("incidents", ("id", "service", "started_at"), ())
KIND_BY_NAME = {k.name: k for k in (DEPLOYMENTS, INCIDENTS)}


def deployment_status(value: Any) -> str:
    written = text(value) or ""
    status = DEPLOYMENT_STATUSES.get(re.sub(r"[\s\-]+", "_", written.lower()))
    if status is None:
        raise ValueError(
            f"'{written}' is not a known status; write success, failure, rolled_back, in_progress or cancelled "
            "(synonyms such as succeeded, ok, failed, error, running, aborted are accepted)"
        )
    return status


def _sha(value: Any) -> str | None:
    written = text(value)
    if written is None:
        return None
    if not _SHA.fullmatch(written):
        raise ValueError(f"'{written}' is not a commit sha (7 to 64 hex digits); put release names in `version`")
    return written.lower()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def validate(kind: Kind, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The row's validated values (for `_throughline`) and its problems, each naming the column and the fix."""
    row_check = RowCheck(kind, row)
    values, convert = row_check.values, row_check.convert
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
        row_check.problem(
            f"column {end_name}: {finished.isoformat()} is before started_at {started.isoformat()} (both in UTC); "
            "swap them or fix the time zone offset"
        )
    return out, row_check.problems


def record_key(kind: Kind, checked: dict[str, Any]) -> str:
    """The row's id; without one, a hash of what identifies a deployment (it stays the same when a
    deployment first exported while running is exported again finished)."""
    if checked.get("id") is not None:
        return checked["id"]
    identity = [checked.get("service"), checked.get("environment"), checked.get("started_at") or checked.get("finished_at"),
                checked.get("sha"), checked.get("version")]
    return hashed_key(*identity)


FILES = files.FileSource(TYPE, (DEPLOYMENTS, INCIDENTS), validate, record_key, "docs/sources/events.md",
                         EventsFileError, log)


def extract(group: str, source: EventsSource, store: RawStore) -> list[StreamResult]:
    if group not in SOURCE.groups:
        raise ValueError(f"events has no extraction group '{group}'")
    return files.extract(FILES, source, store)


def check(source: EventsSource) -> list[Finding]:
    """Each configured folder or table exists, and how many files it offers now."""
    return files.check(FILES, source)


SOURCE = SourceType(TYPE, groups={"events": ("deployments", "incidents", REJECTED)}, extract=extract, check=check,
                    config_model=EventsSource)
