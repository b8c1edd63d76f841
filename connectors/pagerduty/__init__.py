"""PagerDuty REST API v2 as endpoint descriptions (started by `make new-source NAME=pagerduty`).

Streams and groups:
- `incidents` (group `incidents`): `GET /incidents`, one time window of `created_at` at a time
  (`since`/`until`; PagerDuty refuses a range over 6 months and, without one, answers the last 30 days only),
  oldest first (`sort_by=created_at:asc`) in offset/limit pages that end at `total` (asked with `total=true`).
  Each incident's log entries (`GET /incidents/{id}/log_entries`, `is_overview=true`: triggers, acknowledgements,
  resolutions, ...) are a child stream written in the same transaction as the incident's page.
- `services` (group `services`): `GET /services`, read whole every run (a short list).

Incremental reading: the cursor is the newest committed incident's `created_at`; a run reads from the cursor
minus `lookback_hours` (first load: `start_date`, else `first_load_days` back) to now, in windows of at most
`window_days`, and the engine commits each page with the cursor it justifies. PagerDuty can only filter by
creation time, so an incident resolved after the run that read it would never be seen again: each run
therefore re-reads, by id, every stored incident that was still open when read and is younger than
`recheck_open_days` (with its log entries).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field, SecretStr

from connectors.core.endpoint import Child, Endpoint, format_cursor, iso_seconds
from connectors.core.engine import Engine, StreamResult
from connectors.core.errors import FatalError, NotFoundError
from connectors.core.options import BaseUrl, DeploymentRules, HttpOptions, SourceConfig, StrictModel
from connectors.core.paginators import OffsetPaginator
from connectors.core.raw import RawStore
from connectors.core.source import Finding, SourceType, each_scope, engine_for, probe_client, windows

# The whole account is one scope; services filter it through `options.service_ids` instead.
SCOPE = "all"
# PagerDuty's own caps: 100 records a page, 6 months (we say 180 days) between `since` and `until`.
MAX_PAGE = 100
MAX_WINDOW_DAYS = 180


class PagerDutyAuth(StrictModel):
    token: SecretStr = Field(description="REST API key (read-only is enough), written as ${PAGERDUTY_TOKEN}.")


class PagerDutyOptions(HttpOptions):
    """Paging, retries, lookback and start_date (HttpOptions), and PagerDuty's own options."""

    service_ids: list[str] = Field(
        default_factory=list, description="Only incidents of these service ids (`PXXXXXX`); empty: every service."
    )
    team_ids: list[str] = Field(default_factory=list, description="Only incidents of these team ids; empty: all.")
    window_days: int = Field(
        30, ge=1, le=MAX_WINDOW_DAYS, description="Days of `created_at` asked for in one request window (<= 180)."
    )
    first_load_days: int = Field(
        90, ge=1, description="Without start_date, the first load reads the incidents created this many days back."
    )
    recheck_open_days: float = Field(
        30, ge=0, description="Incidents stored while open are read again by id while younger than this (0: never)."
    )
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Only `services` is used: PagerDuty service name (globs allowed) -> the service its "
        "deployments report, so an incident is attributed to them. Unlisted: the PagerDuty service name.",
    )


class PagerDutySource(SourceConfig):
    """One `type: pagerduty` entry of throughline.yml."""

    type: Literal["pagerduty"]
    base_url: BaseUrl = Field(
        "https://api.pagerduty.com", description="The REST API root; EU accounts: https://api.eu.pagerduty.com."
    )
    auth: PagerDutyAuth
    options: PagerDutyOptions = PagerDutyOptions()


def auth_headers(source: PagerDutySource):
    token = source.auth.token
    # Version 2 of the REST API is asked for explicitly, as PagerDuty documents.
    return lambda: {"Authorization": f"Token token={token.get_secret_value()}",
                    "Accept": "application/vnd.pagerduty+json;version=2"}


# `total=true`: PagerDuty leaves `total` null unless asked, and the paginator stops at it (or an empty page).
PAGES = OffsetPaginator(offset_param="offset", limit_param="limit", total_path="total", is_last_path=None)

INCIDENTS = Endpoint(
    stream="incidents",
    path="incidents",
    records_path="incidents",
    primary_key="id",
    cursor_field="created_at",
    params={"sort_by": "created_at:asc", "total": "true", "time_zone": "UTC"},
    paginator=PAGES,
    max_page_size=MAX_PAGE,
    window_params=lambda start, end: {"since": iso_seconds(start), "until": iso_seconds(end)},
    order="ascending",
)

# One incident by id: the re-check of incidents stored while open. Its cursor field lets the engine store
# `cursor_value` as for the list; with order "none" the cursor moves only to the newest value it has seen,
# which a re-checked (older) incident never passes.
INCIDENT = Endpoint(stream="incidents", path="incidents/{incident_id}", records_path="incident",
                    cursor_field="created_at", params={"time_zone": "UTC"}, single_object=True)

LOG_ENTRIES = Endpoint(
    stream="log_entries",
    path="incidents/{incident_id}/log_entries",
    records_path="log_entries",
    params={"is_overview": "true", "total": "true", "time_zone": "UTC"},
    paginator=PAGES,
    max_page_size=MAX_PAGE,
)

SERVICES = Endpoint(stream="services", path="services", records_path="services",
                    params={"total": "true", "time_zone": "UTC"}, paginator=PAGES, max_page_size=MAX_PAGE)

LOG_ENTRIES_CHILD = Child(LOG_ENTRIES, path_vars=lambda incident: {"incident_id": incident["id"]})


def incidents_endpoint(source: PagerDutySource) -> Endpoint:
    """The incident list with the source's filters (PagerDuty's array parameters end in `[]`)."""
    params = dict(INCIDENTS.params)
    if source.options.service_ids:
        params["service_ids[]"] = list(source.options.service_ids)
    if source.options.team_ids:
        params["team_ids[]"] = list(source.options.team_ids)
    return replace(INCIDENTS, params=params)


def one_result(results: list[StreamResult], source: PagerDutySource, table: str) -> StreamResult:
    """Several engine runs of one stream and scope (windows, re-checks) as the one result per table and scope
    that the run report and the Dagster metadata expect (they would count each run's rows again)."""
    total = StreamResult(source.name, table, SCOPE)
    for result in results:
        total.records += result.records
        total.pages += result.pages
        total.seconds += result.seconds
        for child, n in result.child_records.items():
            total.child_records[child] = total.child_records.get(child, 0) + n
        for name in ("requests", "retries", "waited_seconds", "not_modified", "rate_limit_waits"):
            setattr(total.stats, name, getattr(total.stats, name) + getattr(result.stats, name))
        for reason, n in result.stats.retry_reasons.items():
            total.stats.retry_reasons[reason] = total.stats.retry_reasons.get(reason, 0) + n
    if results:
        total.cursor_before, total.cursor_after = results[0].cursor_before, results[-1].cursor_after
    return total


def read_windows(engine: Engine, source: PagerDutySource, start: datetime, end: datetime) -> list[StreamResult]:
    endpoint = incidents_endpoint(source)
    return [engine.run(endpoint, scope=SCOPE, children=(LOG_ENTRIES_CHILD,), window=window)
            for window in windows(start, end, timedelta(days=source.options.window_days))]


def recheck_open(engine: Engine, source: PagerDutySource, started: datetime) -> list[StreamResult]:
    """Read again, by id, the incidents stored while open (not read by this run) younger than recheck_open_days."""
    days = source.options.recheck_open_days
    if days <= 0:
        return []
    table = engine.table(INCIDENTS)
    with engine.store.lock:
        ids = [row[0] for row in engine.store.con.execute(
            f"""SELECT record_key FROM raw.{table}
                WHERE source_instance = ? AND payload ->> '$.status' <> 'resolved' AND extracted_at < ?
                  AND try_cast(cursor_value AS TIMESTAMPTZ) >= try_cast(? AS TIMESTAMPTZ)
                ORDER BY cursor_value, record_key""",
            [source.name, started.replace(tzinfo=None), format_cursor(started - timedelta(days=days))],
        ).fetchall()]
    return [engine.run(INCIDENT, scope=SCOPE, path_vars={"incident_id": incident_id}, children=(LOG_ENTRIES_CHILD,))
            for incident_id in ids]


def extract(group: str, source: PagerDutySource, store: RawStore, **client_kw) -> list[StreamResult]:
    """Read one group of streams; ``client_kw`` reaches the HTTP client (tests pass ``sleep``)."""
    if group not in SOURCE.groups:
        raise ValueError(f"pagerduty has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    if group == "services":
        return each_scope(source, engine.table(SERVICES), [SCOPE], lambda _: [engine.run(SERVICES, scope=SCOPE)],
                          engine.client)

    def incidents(_: str) -> list[StreamResult]:
        started = datetime.now(UTC)
        cursor = store.get_cursor(source.name, INCIDENTS.stream, SCOPE)
        since = engine.since(cursor) or started - timedelta(days=source.options.first_load_days)
        results = read_windows(engine, source, since, started)
        results += recheck_open(engine, source, started)  # after the windows: skips what they just read
        return [one_result(results, source, engine.table(INCIDENTS))]

    # One scope, through the shared loop all the same: a failure then carries what it cost (run report).
    return each_scope(source, engine.table(INCIDENTS), [SCOPE], incidents, engine.client)


def extract_window(group: str, source: PagerDutySource, store: RawStore, start: datetime, end: datetime,
                   **client_kw) -> list[StreamResult]:
    """One time window of a history load: the incidents (with log entries) created in [start, end)."""
    if group != "incidents":
        raise ValueError(f"pagerduty reads only 'incidents' by time window, not '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    return [one_result(read_windows(engine, source, start, end), source, engine.table(INCIDENTS))]


def check(source: PagerDutySource, **client_kw) -> list[Finding]:
    """`throughline doctor`: the key can list incidents, and every configured service id exists."""
    client = probe_client(source, auth_headers(source), **client_kw)
    subject = f"{source.name}: credentials"
    try:
        client.get_json(INCIDENTS.path, {"limit": 1, "date_range": "all"})
    except FatalError as exc:
        return [Finding("fail", subject, f"{exc}; use a REST API key (Integrations > API Access Keys) in auth.token")]
    findings = [Finding("ok", subject, "incidents readable")]
    for service_id in source.options.service_ids:
        try:
            body, _ = client.get_json(f"services/{service_id}")
            name = (body or {}).get("service", {}).get("name", service_id)
            findings.append(Finding("ok", f"{source.name}: service {service_id}", f"visible ({name})"))
        except NotFoundError:
            findings.append(Finding("fail", f"{source.name}: service {service_id}",
                                    "not found: check options.service_ids (the id in the service's URL, PXXXXXX)"))
    return findings


SOURCE = SourceType(
    name="pagerduty",
    groups={"incidents": ("incidents", "log_entries"), "services": ("services",)},
    extract=extract,
    check=check,
    windowed_groups=("incidents",),
    extract_window=extract_window,
    config_model=PagerDutySource,
)
