"""Opsgenie (REST API, US or EU instance) as endpoint descriptions (started by `make new-source NAME=opsgenie`).

Streams, one scope (`all`, the whole account the API key sees):
- `incidents`: `GET /v1/incidents`, oldest first (`sort=createdAt&order=asc`). Opsgenie filters by a search
  query, not by parameters, so the lower bound is `query=createdAt>=<epoch ms>` (cursor minus the lookback,
  or `start_date`) and a history window adds `AND createdAt<<epoch ms>`. The cursor is `createdAt`; an
  incident not yet resolved or closed holds it below itself, so every run reads it again until it ends
  (its status, priority and services can still change).
- `incident_logs`: `GET /v1/incidents/{id}/logs` of every resolved or closed incident read, in its page's
  transaction: the incident's own history ("Incident resolved by ..."), which is where its resolve time is
  (the incident object has none). Logs have no id; their `offset` is unique per incident, so the key is `<incident>:<offset>`.
- `alerts` (only with `options.alert_priorities`): `GET /v2/alerts`, like incidents (`createdAt` query,
  oldest first, held by an alert not yet closed), keeping the alerts of those priorities; an alert's
  `report.closeTime` (milliseconds after its creation) is when it was closed.
- `services`: `GET /v1/services`, read whole each run (a few hundred at most): id -> name, which dbt maps
  onto Throughline services (`options.deployments.services`).

Every list answers `{"data": [...], "paging": {"next": "<url>", ...}, "took": ..., "requestId": ...}` with
offset/limit pages (limit at most 100); the last page has no `paging.next`: the engine's `NextUrlPaginator`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr

from connectors.core.endpoint import Child, Endpoint
from connectors.core.engine import StreamResult
from connectors.core.errors import FatalError
from connectors.core.options import BaseUrl, DeploymentRules, HttpOptions, SourceConfig, StrictModel
from connectors.core.paginators import NextUrlPaginator, dig
from connectors.core.raw import raw_table
from connectors.core.source import Finding, SourceType, each_scope, engine_for, probe_client

# The whole account is one scope.
SCOPE = "all"
US_API = "https://api.opsgenie.com"
EU_API = "https://api.eu.opsgenie.com"
# Incident statuses after which an incident no longer changes for our purposes (`open` still does).
FINAL_STATUSES = ("resolved", "closed")


class OpsgenieAuth(StrictModel):
    api_key: SecretStr = Field(
        description="API key of an API integration (Settings > API key management, or a team's API "
        "integration) with read access, written as ${OPSGENIE_API_KEY}; sent as `Authorization: GenieKey ...`."
    )


class OpsgenieOptions(HttpOptions):
    """Paging, retries, lookback and start_date (HttpOptions), plus which services and how they are named."""

    page_size: int = Field(100, ge=1, le=100, description="Incidents per page; Opsgenie allows at most 100.")
    services: list[str] = Field(
        default_factory=list,
        description="Only incidents impacting one of these Opsgenie service ids; empty: every incident.",
    )
    alert_priorities: list[Literal["P1", "P2", "P3", "P4", "P5"]] = Field(
        default_factory=list,
        description="Also read the alerts of these priorities, as incidents (e.g. [P1]): for teams that page on "
        "alerts alone, or a plan without the Incident API. An alert names its service with a `service:<name>` "
        "tag. Empty (the default): alerts are not read.",
    )
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Only `services` is used: Opsgenie service name (globs allowed) -> the service name your "
        "deployments use, so an incident is attributed to that service's deployments. Unlisted names stay as "
        "Opsgenie writes them.",
    )


class OpsgenieSource(SourceConfig):
    """One `type: opsgenie` entry of throughline.yml."""

    type: Literal["opsgenie"]
    base_url: BaseUrl = Field(US_API, description=f"{US_API} (default), or {EU_API} for an EU account.")
    auth: OpsgenieAuth
    options: OpsgenieOptions = OpsgenieOptions()


def auth_headers(source: OpsgenieSource):
    key = source.auth.api_key
    return lambda: {"Authorization": f"GenieKey {key.get_secret_value()}"}


PAGES = NextUrlPaginator(next_path="paging.next")


def _epoch_ms(at: datetime) -> int:
    # timedelta arithmetic is exact (timestamp() goes through a float and can lose the last millisecond)
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def since_query(since: datetime) -> dict[str, str]:
    return {"query": f"createdAt>={_epoch_ms(since)}"}


def window_query(start: datetime, end: datetime) -> dict[str, str]:
    return {"query": f"createdAt>={_epoch_ms(start)} AND createdAt<{_epoch_ms(end)}"}


def is_final(incident: Mapping[str, Any]) -> bool:
    return str(incident.get("status") or "").lower() in FINAL_STATUSES


def impacted_services(incident: Mapping[str, Any]) -> list[str]:
    """The service ids an incident names: `impactedServices` (the list API) and `serviceId` (older answers)."""
    ids = [str(s) for s in incident.get("impactedServices") or []]
    if incident.get("serviceId"):
        ids.append(str(incident["serviceId"]))
    return ids


INCIDENTS = Endpoint(
    stream="incidents",
    path="v1/incidents",
    records_path="data",
    primary_key="id",
    cursor_field="createdAt",
    # `query` is mandatory; createdAt>=0 (every incident) is replaced by the lower bound when there is one.
    params={"query": "createdAt>=0", "sort": "createdAt", "order": "asc"},
    paginator=PAGES,
    max_page_size=100,
    since_params=since_query,
    window_params=window_query,
    order="ascending",
    is_complete=is_final,
)

INCIDENT_LOGS = Endpoint(
    stream="incident_logs",
    path="v1/incidents/{incident_id}/logs",
    records_path="data",
    primary_key="offset",
    params={"order": "asc"},
    # A log's `offset` is an opaque position (the previous entry's `offset`), not a count: the first page is
    # asked without one, the next ones by the URL in `paging.next`.
    paginator=NextUrlPaginator(next_path="paging.next", offset_param=None),
    max_page_size=100,
)

# Alerts page and bound like incidents; an alert ends when it is closed.
ALERTS = dataclasses.replace(INCIDENTS, stream="alerts", path="v2/alerts",
                             is_complete=lambda alert: str(alert.get("status") or "").lower() == "closed")

SERVICES = Endpoint(stream="services", path="v1/services", records_path="data", paginator=PAGES, max_page_size=100)

# The log is read for resolved and closed incidents only: an open one's log holds no resolve time yet, and an
# open incident is read again every run until it ends (counted as an embedded, complete, empty log: no
# request). A resolved incident's log replaces what was stored of it (a reopening and second resolve included).
LOGS_CHILD = Child(INCIDENT_LOGS, path_vars=lambda incident: {"incident_id": incident["id"]}, key_with_parent=True,
                   replace=True, embedded=lambda incident: ([], not is_final(incident)))


def incidents_endpoint(source: OpsgenieSource) -> Endpoint:
    """INCIDENTS, keeping only the configured services' incidents (the list cannot filter by service)."""
    wanted = set(source.options.services)
    if not wanted:
        return INCIDENTS
    return dataclasses.replace(INCIDENTS, keep=lambda incident: bool(wanted & set(impacted_services(incident))))


def alerts_endpoint(source: OpsgenieSource) -> Endpoint:
    """ALERTS, keeping the configured priorities (so a noisy P5 stream is paged through but not stored)."""
    wanted = set(source.options.alert_priorities)
    return dataclasses.replace(ALERTS, keep=lambda alert: alert.get("priority") in wanted)


def _run(engine, group: str, source: OpsgenieSource, window: tuple[datetime, datetime] | None = None):
    if group == "services":
        return [engine.run(SERVICES, scope=SCOPE)]
    if group == "alerts":
        if not source.options.alert_priorities:
            return []  # alerts are opt-in
        return [engine.run(alerts_endpoint(source), scope=SCOPE, window=window)]
    return [engine.run(incidents_endpoint(source), scope=SCOPE, children=(LOGS_CHILD,), window=window)]


def extract(group: str, source: OpsgenieSource, store, **client_kw) -> list[StreamResult]:
    """Read one group of streams; ``client_kw`` reaches the HTTP client (tests pass ``sleep``)."""
    if group not in SOURCE.groups:
        raise ValueError(f"opsgenie has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    # One scope, through the shared loop all the same: a failure then carries what it cost (run report).
    return each_scope(source, raw_table(SOURCE.name, SOURCE.groups[group][0]), [SCOPE],
                      lambda _: _run(engine, group, source), engine.client)


def extract_window(group: str, source: OpsgenieSource, store, start: datetime, end: datetime,
                   **client_kw) -> list[StreamResult]:
    """A history load of the incidents (or alerts) created in [start, end)."""
    if group not in SOURCE.windowed_groups:
        raise ValueError(f"opsgenie reads only {' and '.join(SOURCE.windowed_groups)} by time window, not '{group}'")
    return _run(engine_for(source, store, auth_headers(source), **client_kw), group, source, (start, end))


def check(source: OpsgenieSource, **client_kw) -> list[Finding]:
    """`throughline doctor`: the key can list incidents (and which region answered), services and (when asked
    for) alerts."""
    client = probe_client(source, auth_headers(source), **client_kw)
    region = "EU" if ".eu." in source.base_url else "US" if source.base_url.startswith(US_API) else source.base_url
    try:
        client.get_json(INCIDENTS.path, {"query": "createdAt>=0", "limit": 1})
    except FatalError as exc:
        hint = (f"check auth.api_key (an API integration key with read access), and base_url: an EU account "
                f"answers only at {EU_API}")
        return [Finding("fail", f"{source.name}: credentials", f"{exc}; {hint}")]
    findings = [Finding("ok", f"{source.name}: credentials", f"incidents readable ({region} instance)")]
    try:
        body, _ = client.get_json(SERVICES.path, {"limit": 100})
        known = {str(s.get("id")) for s in (body or {}).get("data") or []}
        missing = [s for s in source.options.services if s not in known]
        if missing and not dig(body, "paging.next"):
            findings.append(Finding("warn", f"{source.name}: services", f"no service with id {', '.join(missing)}: "
                                    "fix options.services (Opsgenie service ids, not names)"))
        else:
            findings.append(Finding("ok", f"{source.name}: services", f"{len(known)} service(s) readable"))
    except FatalError as exc:
        findings.append(Finding("warn", f"{source.name}: services", f"{exc}; incidents keep their service ids "
                                "but not their names: give the key read access to services"))
    if source.options.alert_priorities:
        try:
            client.get_json(ALERTS.path, {"query": "createdAt>=0", "limit": 1})
            findings.append(Finding("ok", f"{source.name}: alerts", "alerts readable"))
        except FatalError as exc:
            findings.append(Finding("fail", f"{source.name}: alerts", f"{exc}; give the key's integration access to "
                                    "alerts, or remove options.alert_priorities"))
    return findings


SOURCE = SourceType(
    name="opsgenie",
    groups={"incidents": ("incidents", "incident_logs"), "alerts": ("alerts",), "services": ("services",)},
    extract=extract,
    check=check,
    windowed_groups=("incidents", "alerts"),
    extract_window=extract_window,
    config_model=OpsgenieSource,
)
