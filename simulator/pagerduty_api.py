"""PagerDuty REST API v2 (api.pagerduty.com) over an Org: services, incidents and their log entries, mounted
at /pagerduty.

Data is derived from the Org, so it is as deterministic as the Org. Every non-archived GitHub repository
`owner/name` is the PagerDuty service `name` (e.g. `payments-api`), and every `incident`-labelled GitHub issue
(the Org opens one per production failure, as `pagerduty[bot]`) is a PagerDuty incident of that service,
created when the issue was opened; a closed issue is a resolved incident (resolved when it was closed), an
open one is acknowledged. Each incident has a trigger log entry, an acknowledge entry five minutes later
(when it was still open then) and a resolve entry. A `sevN` label is priority `PN`.
So with `services: {<repo name>: <owner>/<repo name>}` the incidents attach to the GitHub deployments.

Wire behaviours kept on purpose (PagerDuty's API reference):
  * lists answer `{"<things>": [...], "limit": L, "offset": O, "total": N | null, "more": bool}`, `limit`
    25 by default and at most 100; `total` is null unless `total=true` is asked; offset + limit past 10,000
    is a 400 (classic pagination's cap);
  * `GET /incidents` filters `created_at` by `since`/`until` (a range over 6 months is a 400); without them
    and without `date_range=all` it answers the last 30 days; `statuses[]`, `service_ids[]`, `urgencies[]`
    filter; `sort_by=created_at[:asc|:desc]` or `incident_number` (default: created_at ascending);
  * credentials are `Authorization: Token token=<key>`; a missing or unknown key gets 401
    `{"error": {"message": "Unauthorized", "code": 2006}}`; an unknown object 404 (code 2100);
  * 429 `{"error": {"message": "Rate Limit Exceeded", "code": 2020}}` carries `ratelimit-limit`,
    `ratelimit-remaining: 0` and `ratelimit-reset` (seconds), not Retry-After; a fault's `retry_after` is
    the reset (None: no rate-limit headers at all).
Tests add incidents with `add_incident(...)` and resolve them with `resolve(...)`.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from connectors.kit.faults import Fault
from connectors.kit.http import Request, Response, Router

from .api import MountedApi
from .model import Org
from .timefmt import MS_PER_MINUTE, github_ts, parse_ms

WEB = "https://acme.pagerduty.com"
MAX_LIMIT = 100
MAX_OFFSET = 10_000
MAX_RANGE_MS = 183 * 24 * 60 * MS_PER_MINUTE  # "6 months"
DEFAULT_RANGE_MS = 30 * 24 * 60 * MS_PER_MINUTE


def _pd_id(*parts: object) -> str:
    """A PagerDuty-looking id: P and six upper-case letters or digits, stable for the same parts."""
    digest = hashlib.md5(":".join(map(str, parts)).encode()).digest()
    return "P" + base64.b32encode(digest).decode()[:6]


def _error(status: int, message: str, code: int, errors: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return Response(status, {"error": body})


@dataclass
class _Service:
    id: str
    name: str
    repo: str
    incidents: list[dict] = field(default_factory=list)


class PagerDutyApi(MountedApi):
    PREFIX = "pagerduty"

    def __init__(self, org: Org, *, tokens: set[str] | list[str] | None = None, now_ms: int | None = None):
        self.org = org
        self.tokens = set(tokens) if tokens is not None else None
        self.now_ms = now_ms  # "now" for the default 30-day range; None: the wall clock
        self._services: dict[str, _Service] | None = None
        self.incidents: dict[str, dict] = {}  # id -> incident, in creation order
        self.log_entries: dict[str, list[dict]] = {}  # incident id -> entries, oldest first
        r = self.router = Router()
        r.add("GET", "/incidents", self.list_incidents)
        r.add("GET", "/incidents/{incident_id}", self.get_incident)
        r.add("GET", "/incidents/{incident_id}/log_entries", self.list_log_entries)
        r.add("GET", "/services", self.list_services)
        r.add("GET", "/services/{service_id}", self.get_service)

    # ------------------------------------------------------------------ data

    @property
    def services(self) -> dict[str, _Service]:
        """Built on first use from the Org as it is then (a benchmark-sized Org pays only if it is asked)."""
        if self._services is None:
            with self.org.lock:
                self._services = {}
                found = []
                for full_name, store in sorted(self.org.repos.items()):
                    if store.repo.get("archived"):
                        continue
                    service = self._add_service(full_name)
                    for issue in store.issues.values():
                        labels = [label["name"] for label in issue.get("labels") or []]
                        if "incident" in labels:
                            found.append((issue, service, labels))
                found.sort(key=lambda x: (x[0]["created_at"], x[0]["id"]))
                for issue, service, labels in found:
                    severity = next((label for label in labels if label.lower().startswith("sev")), None)
                    self.add_incident(service.name, issue["created_at"], title=issue["title"],
                                      resolved_at=issue.get("closed_at"),
                                      priority=f"P{severity[3:]}" if severity else None, key=issue["id"])
        return self._services

    def _add_service(self, full_name: str) -> _Service:
        name = full_name.split("/", 1)[1]
        service = _Service(_pd_id("service", full_name), name, full_name)
        self._services[service.id] = service
        return service

    def _service_named(self, name: str) -> _Service:
        found = next((s for s in self.services.values() if s.name == name), None)
        if found is None:
            raise KeyError(f"no PagerDuty service named {name!r}; the simulator has "
                           f"{sorted(s.name for s in self.services.values())}")
        return found

    def _service_ref(self, service: _Service) -> dict:
        return {"id": service.id, "type": "service_reference", "summary": service.name,
                "self": f"https://api.pagerduty.com/services/{service.id}",
                "html_url": f"{WEB}/service-directory/{service.id}"}

    def add_incident(self, service_name: str, created_at, *, title: str = "Service degraded",
                     resolved_at=None, priority: str | None = None, urgency: str = "high",
                     key: object | None = None) -> dict:
        """A new incident of ``service_name`` triggered at ``created_at`` (ms or ISO text); resolved at
        ``resolved_at`` when given, else acknowledged five minutes after it started."""
        service = self._service_named(service_name)
        created_ms = created_at if isinstance(created_at, int) else parse_ms(created_at)
        number = len(self.incidents) + 1
        incident_id = _pd_id("incident", service.id, key if key is not None else number)
        created = github_ts(created_ms)
        incident = {
            "id": incident_id, "type": "incident", "summary": f"[#{number}] {title}",
            "self": f"https://api.pagerduty.com/incidents/{incident_id}",
            "html_url": f"{WEB}/incidents/{incident_id}", "incident_number": number, "title": title,
            "created_at": created, "updated_at": created, "status": "triggered",
            "incident_key": hashlib.md5(f"{incident_id}".encode()).hexdigest(),
            "service": self._service_ref(service), "assignments": [], "assigned_via": "escalation_policy",
            "last_status_change_at": created, "resolved_at": None,
            "first_trigger_log_entry": {"id": _pd_id("log", incident_id, "trigger"),
                                        "type": "trigger_log_entry_reference"},
            "alert_counts": {"all": 1, "triggered": 1, "resolved": 0},
            "urgency": urgency, "escalation_policy": {"id": _pd_id("policy", service.id),
                                                      "type": "escalation_policy_reference"},
            "teams": [], "acknowledgements": [],
            "priority": None if priority is None else {"id": _pd_id("priority", priority), "type": "priority",
                                                       "summary": priority, "name": priority},
        }
        self.incidents[incident_id] = incident
        self.log_entries[incident_id] = []
        service.incidents.append(incident)
        self._log(incident, "trigger", created_ms, "Triggered through the API.")
        ack_ms = created_ms + 5 * MS_PER_MINUTE
        resolved_ms = None if resolved_at is None else (resolved_at if isinstance(resolved_at, int)
                                                         else parse_ms(resolved_at))
        if resolved_ms is None or resolved_ms > ack_ms:
            self._log(incident, "acknowledge", ack_ms, "Acknowledged by on-call.")
            incident.update(status="acknowledged", last_status_change_at=github_ts(ack_ms),
                            updated_at=github_ts(ack_ms))
        if resolved_ms is not None:
            self.resolve(incident_id, resolved_ms)
        return incident

    def resolve(self, incident_id: str, at) -> dict:
        """Resolve an incident at ``at`` (ms or ISO text)."""
        incident = self.incidents[incident_id]
        at_ms = at if isinstance(at, int) else parse_ms(at)
        self._log(incident, "resolve", at_ms, "Resolved by on-call.")
        stamp = github_ts(at_ms)
        incident.update(status="resolved", resolved_at=stamp, last_status_change_at=stamp, updated_at=stamp,
                        alert_counts={"all": 1, "triggered": 0, "resolved": 1})
        return incident

    def _log(self, incident: dict, kind: str, at_ms: int, summary: str) -> None:
        entries = self.log_entries[incident["id"]]
        entry_id = _pd_id("log", incident["id"], kind, len(entries))
        entries.append({
            "id": entry_id, "type": f"{kind}_log_entry", "summary": summary,
            "self": f"https://api.pagerduty.com/log_entries/{entry_id}",
            "html_url": f"{WEB}/incidents/{incident['id']}/log_entries/{entry_id}",
            "created_at": github_ts(at_ms),
            "agent": {"id": _pd_id("user", "oncall"), "type": "user_reference", "summary": "On-call Engineer"},
            "channel": {"type": "api" if kind == "trigger" else "web_trigger"},
            "incident": {"id": incident["id"], "type": "incident_reference"},
            "service": incident["service"], "teams": [],
        })

    # ------------------------------------------------------------------ HTTP

    def serve(self, req: Request) -> Response:
        if not self._authorized(req):
            return _error(401, "Unauthorized", 2006)
        found = self.router.resolve(req.method, req.path)
        if found is None:
            return _error(404, "Not Found", 2100)
        handler, req.params = found
        return handler(req)

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return _error(401, "Unauthorized", 2006)
        if fault.kind == "rate_limit":
            reset = fault.opts.get("retry_after", 1)
            headers = {} if reset is None else {"ratelimit-limit": "960", "ratelimit-remaining": "0",
                                                "ratelimit-reset": str(int(float(reset)))}
            response = _error(int(fault.opts.get("status", 429)), "Rate Limit Exceeded", 2020)
            response.headers.update(headers)
            return response
        if fault.kind == "server_error" and int(fault.opts.get("status", 500)) == 500:
            return _error(500, "Internal Server Error", 2000)
        return None  # 502-504: the load balancer's HTML page

    def _authorized(self, req: Request) -> bool:
        if self.tokens is None:
            return True
        scheme, _, value = (req.headers.get("Authorization") or "").partition(" ")
        return scheme == "Token" and value.startswith("token=") and value[len("token="):] in self.tokens

    def _page(self, req: Request, key: str, items: list[dict]) -> Response:
        try:
            offset = int(req.arg("offset") or 0)
            limit = int(req.arg("limit") or 25)
        except ValueError:
            return _error(400, "Invalid Input Provided", 2001, ["offset and limit must be integers"])
        if offset < 0 or limit < 1:
            return _error(400, "Invalid Input Provided", 2001, ["offset and limit must be positive"])
        limit = min(limit, MAX_LIMIT)
        if offset + limit > MAX_OFFSET:
            return _error(400, "Invalid Input Provided", 2001,
                          [f"Offset + limit must be at most {MAX_OFFSET}: narrow the date range"])
        total = len(items) if (req.arg("total") or "").lower() == "true" else None
        return Response(200, {key: items[offset:offset + limit], "limit": limit, "offset": offset,
                              "total": total, "more": offset + limit < len(items)})

    def list_incidents(self, req: Request) -> Response:
        self.services  # noqa: B018 - build the data on first use
        since, until = req.arg("since"), req.arg("until")
        try:
            until_ms = parse_ms(until) if until else (self.now_ms or int(time.time() * 1000))
            since_ms = parse_ms(since) if since else until_ms - DEFAULT_RANGE_MS
        except ValueError:
            return _error(400, "Invalid Input Provided", 2001, ["since and until must be ISO 8601 times"])
        if req.arg("date_range") == "all":
            since_ms, until_ms = None, None
        elif until_ms - since_ms > MAX_RANGE_MS:
            return _error(400, "Invalid Input Provided", 2001, ["Date Range must be less than 6 months"])
        statuses = set(req.args("statuses[]"))
        service_ids = set(req.args("service_ids[]"))
        urgencies = set(req.args("urgencies[]"))
        items = [i for i in self.incidents.values()
                 if (since_ms is None or since_ms <= parse_ms(i["created_at"]) < until_ms)
                 and (not statuses or i["status"] in statuses)
                 and (not service_ids or i["service"]["id"] in service_ids)
                 and (not urgencies or i["urgency"] in urgencies)]
        field_name, _, direction = (req.arg("sort_by") or "created_at:asc").partition(":")
        if field_name not in ("created_at", "incident_number", "resolved_at", "urgency"):
            return _error(400, "Invalid Input Provided", 2001, [f"sort_by '{field_name}' is not supported"])
        items.sort(key=lambda i: (str(i.get(field_name) or ""), i["incident_number"]), reverse=direction == "desc")
        return self._page(req, "incidents", items)

    def get_incident(self, req: Request) -> Response:
        self.services  # noqa: B018
        incident = self.incidents.get(req.params["incident_id"])
        return Response(200, {"incident": incident}) if incident else _error(404, "Not Found", 2100)

    def list_log_entries(self, req: Request) -> Response:
        self.services  # noqa: B018
        entries = self.log_entries.get(req.params["incident_id"])
        if entries is None:
            return _error(404, "Not Found", 2100)
        return self._page(req, "log_entries", entries)

    def _service_dict(self, service: _Service) -> dict:
        return {"id": service.id, "type": "service", "name": service.name, "summary": service.name,
                "description": f"Runs {service.repo}", "status": "active",
                "self": f"https://api.pagerduty.com/services/{service.id}",
                "html_url": f"{WEB}/service-directory/{service.id}",
                "created_at": "2024-02-12T10:00:00Z", "teams": []}

    def list_services(self, req: Request) -> Response:
        return self._page(req, "services", [self._service_dict(s) for s in self.services.values()])

    def get_service(self, req: Request) -> Response:
        service = self.services.get(req.params["service_id"])
        return Response(200, {"service": self._service_dict(service)}) if service else _error(404, "Not Found", 2100)
