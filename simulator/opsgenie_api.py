"""Opsgenie REST API (api.opsgenie.com / api.eu.opsgenie.com) over an Org: incidents, their logs and services,
and alerts, mounted at /opsgenie.

Data is derived from the Org, so it is as deterministic as the Org. Every non-archived GitHub repository
`owner/name` is the Opsgenie service named `owner/name` (so a service maps onto the repository's deployments
with no `services` rule), and every GitHub issue labelled `incident` is an Opsgenie incident of that service,
as if the team opened both: created when the issue was, `resolved` when it was closed (`open` until then),
priority from a `sev<N>`/`P<N>` label (P3 without one). Its logs are a "created" entry and, once resolved, a
"resolved" entry at the close time. Tests add incidents with `add_incident(...)`, end one with
`resolve_incident(...)` and start it again with `reopen_incident(...)`; alerts exist only as tests add them
(`add_alert(...)`, `close_alert(...)`).

Wire behaviours kept on purpose (Opsgenie REST API docs: Incident API, Service API, Pagination):
  * every list answers `{"data": [...], "paging": {"first", "next"?, "last"}, "took", "requestId"}`;
    `offset`/`limit` (default 20, at most 100: a larger limit is cut to 100); `paging.next` is the full URL
    of the next page and is absent on the last one;
  * `GET /v1/incidents` needs `query` (400 without it) and understands `createdAt` comparisons with epoch
    milliseconds joined by AND, and `status:<status>`; anything else is a 422 as on the real search;
    `sort=createdAt` with `order=asc|desc` (desc is the default);
  * credentials are `Authorization: GenieKey <key>`; a missing or unknown key gets 401
    `{"message": "Could not authenticate", ...}`; an unknown incident 404;
  * a rate limit is 429 with `X-RateLimit-State: THROTTLED` (and `Retry-After` only when the fault gives one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from connectors.kit.faults import Fault
from connectors.kit.http import ApiError, Request, Response, Router

from .api import MountedApi
from .circleci_api import _uuid  # the same deterministic uuid4-shaped ids
from .model import Org
from .timefmt import ms_to_dt, parse_ms

WEB = "https://acme.app.opsgenie.com"
_TERM = re.compile(r"^\s*(?:createdAt\s*(>=|<=|>|<|=|:)\s*(\d+)|status\s*:\s*(\w+))\s*$", re.I)
_SEV = re.compile(r"^(?:sev|severity|p)[ :_-]?([1-5])$", re.I)


def og_ts(ms: int) -> str:
    """Opsgenie's format: ``2026-01-05T09:00:00.000Z`` (milliseconds, UTC)."""
    return ms_to_dt(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class _Item:
    """An incident or an alert: its answer body, creation time and (incidents) log."""

    body: dict
    created_ms: int
    logs: list[dict]


def _matches(query: str, incident: _Item) -> bool:
    for term in re.split(r"\s+AND\s+", query.strip(), flags=re.I) if query.strip() else []:
        m = _TERM.match(term)
        if m is None:
            raise ApiError(422, f"Invalid query: '{term}' (the simulator knows createdAt comparisons and status:)")
        op, value, status = m.groups()
        if status is not None:
            if incident.body["status"] != status.lower():
                return False
            continue
        at, bound = incident.created_ms, int(value)
        if not {">=": at >= bound, "<=": at <= bound, ">": at > bound, "<": at < bound}.get(op, at == bound):
            return False
    return True


class OpsgenieApi(MountedApi):
    PREFIX = "opsgenie"

    def __init__(self, org: Org, *, tokens: set[str] | list[str] | None = None, page_size: int = 20):
        self.org = org
        self.tokens = set(tokens) if tokens is not None else None
        self.default_limit = page_size
        self._incidents: dict[str, _Item] | None = None
        self.alerts: dict[str, _Item] = {}  # only those a test adds (add_alert)
        self._services: dict[str, dict] = {}
        r = self.router = Router()
        r.add("GET", "/v1/incidents", self.list_incidents)
        r.add("GET", "/v1/incidents/{incident_id}/logs", self.list_logs)
        r.add("GET", "/v1/services", self.list_services)
        r.add("GET", "/v2/alerts", self.list_alerts)

    # ------------------------------------------------------------------ data

    @property
    def incidents(self) -> dict[str, _Item]:
        """Built on first use from the Org as it is then (a benchmark-sized Org pays only if it is asked)."""
        if self._incidents is None:
            with self.org.lock:
                self._incidents = {}
                for full_name, store in sorted(self.org.repos.items()):
                    if store.repo.get("archived"):
                        continue
                    for issue in sorted(store.issues.values(), key=lambda i: i["number"]):
                        labels = [label["name"] for label in issue.get("labels") or []]
                        if "incident" not in labels:
                            continue
                        priority = next((f"P{m[1]}" for m in map(_SEV.match, labels) if m), "P3")
                        incident = self.add_incident(full_name, issue["title"], parse_ms(issue["created_at"]),
                                                     priority=priority, description=issue.get("body") or "",
                                                     key=f"{full_name}#{issue['number']}")
                        if issue.get("closed_at"):
                            self.resolve_incident(incident["id"], parse_ms(issue["closed_at"]))
        return self._incidents

    def service(self, name: str) -> dict:
        if name not in self._services:
            self._services[name] = {"id": _uuid("service", name), "name": name, "description": f"{name} service",
                                    "visibility": "OPSGENIE_USERS", "teamId": _uuid("team", name.split("/")[0]),
                                    "tags": []}
        return self._services[name]

    def add_incident(self, service: str, message: str, created_ms: int, *, priority: str = "P3",
                     description: str = "", key: str | None = None) -> dict:
        """A new open incident of ``service`` (by name); returns its body (a live dict: tests may edit it)."""
        incidents = self._incidents if self._incidents is not None else self.incidents
        ident = _uuid("incident", key or f"{service}:{message}:{created_ms}")
        tiny = str(len(incidents) + 1)
        body = {
            "id": ident, "tinyId": tiny, "message": message, "description": description, "status": "open",
            "tags": [], "isSeen": True, "createdAt": og_ts(created_ms), "updatedAt": og_ts(created_ms),
            "priority": priority, "ownerTeam": self.service(service)["teamId"],
            "responders": [{"type": "team", "id": self.service(service)["teamId"]}],
            "impactedServices": [self.service(service)["id"]], "extraProperties": {},
            "links": {"web": f"{WEB}/incident/detail/{ident}/details", "api": f"/v1/incidents/{ident}"},
        }
        logs = [{"log": f"Incident created with message: {message}", "type": "system", "owner": "System",
                 "createdAt": og_ts(created_ms), "offset": f"{created_ms}_1"}]
        incidents[ident] = _Item(body, created_ms, logs)
        return body

    def resolve_incident(self, incident_id: str, at_ms: int, *, close: bool = False) -> dict:
        """Resolve (or close) an incident at ``at_ms``: its status, updatedAt and a log entry saying so."""
        return self._change(incident_id, at_ms, "closed" if close else "resolved")

    def reopen_incident(self, incident_id: str, at_ms: int) -> dict:
        return self._change(incident_id, at_ms, "open", verb="reopened")

    def _change(self, incident_id: str, at_ms: int, status: str, verb: str | None = None) -> dict:
        incident = self.incidents[incident_id]
        incident.body.update(status=status, updatedAt=og_ts(at_ms))
        incident.logs.append({"log": f"Incident {verb or status} by admin@acme.example", "type": "system",
                              "owner": "admin@acme.example", "createdAt": og_ts(at_ms),
                              "offset": f"{at_ms}_{len(incident.logs) + 1}"})
        return incident.body

    def add_alert(self, message: str, created_ms: int, *, priority: str = "P3", tags: list[str] | None = None,
                  closed_ms: int | None = None) -> dict:
        """An alert (open, or closed ``closed_ms``); its `report.closeTime` is milliseconds after creation."""
        ident = _uuid("alert", message, created_ms)
        body = {
            "id": ident, "tinyId": str(len(self.alerts) + 1), "alias": ident, "message": message, "status": "open",
            "acknowledged": False, "isSeen": True, "tags": list(tags or []), "snoozed": False, "count": 1,
            "lastOccurredAt": og_ts(created_ms), "createdAt": og_ts(created_ms), "updatedAt": og_ts(created_ms),
            "source": "Grafana", "owner": "", "priority": priority, "responders": [],
            "integration": {"id": _uuid("integration", "grafana"), "name": "Grafana", "type": "Grafana"},
            "report": {},
        }
        self.alerts[ident] = _Item(body, created_ms, [])
        if closed_ms is not None:
            self.close_alert(ident, closed_ms)
        return body

    def close_alert(self, alert_id: str, at_ms: int) -> dict:
        alert = self.alerts[alert_id]
        alert.body.update(status="closed", updatedAt=og_ts(at_ms),
                          report={"closeTime": at_ms - alert.created_ms, "closedBy": "admin@acme.example"})
        return alert.body

    # ------------------------------------------------------------------ HTTP

    def serve(self, req: Request) -> Response:
        if not self._authorized(req):
            return self._unauthorized()
        found = self.router.resolve(req.method, req.path)
        if found is None:
            raise ApiError(404, "Not found")
        handler, req.params = found
        return handler(req)

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return self._unauthorized()
        if fault.kind == "rate_limit":
            headers = {"X-RateLimit-State": "THROTTLED", "X-RateLimit-Reason": "INTEGRATION",
                       "X-RateLimit-Period-In-Sec": "60"}
            if fault.opts.get("retry_after") is not None:
                headers["Retry-After"] = str(int(float(fault.opts["retry_after"])))
            return Response(int(fault.opts.get("status", 429)), self._envelope({"message": "Rate limit exceeded"}),
                            headers)
        if fault.kind == "server_error" and int(fault.opts.get("status", 500)) == 500:
            return Response(500, self._envelope({"message": "Internal Server Error"}))
        return None  # 502-504: the load balancer's HTML page, as the server sends for every API

    @staticmethod
    def _envelope(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "took": 0.001, "requestId": _uuid("request", repr(sorted(body.items())))}

    def _unauthorized(self) -> Response:
        return Response(401, self._envelope({"message": "Could not authenticate"}))

    def _authorized(self, req: Request) -> bool:
        if self.tokens is None:
            return True
        header = (req.headers.get("Authorization") or "").strip()
        return header[:9].lower() == "geniekey " and header[9:].strip() in self.tokens

    def _page(self, req: Request, items: list[dict]) -> Response:
        offset = req.int_arg("offset", 0, minimum=0, strict=True)
        limit = req.int_arg("limit", self.default_limit, minimum=1, maximum=100, strict=True)
        paging = {"first": req.url_with(offset=0, limit=limit),
                  "last": req.url_with(offset=max(0, (len(items) - 1) // limit * limit), limit=limit)}
        if offset + limit < len(items):
            paging["next"] = req.url_with(offset=offset + limit, limit=limit)
        return Response(200, self._envelope({"data": items[offset:offset + limit], "paging": paging}))

    def _search(self, req: Request, items: list[_Item], *, required: bool) -> Response:
        query = req.arg("query")
        if query is None and required:
            raise ApiError(400, "Query field cannot be empty.")
        if (req.arg("sort") or "createdAt") != "createdAt":
            raise ApiError(422, "The simulator sorts by createdAt only")
        chosen = sorted((i for i in items if _matches(query or "", i)),
                        key=lambda i: (i.created_ms, i.body["id"]), reverse=(req.arg("order") or "desc") == "desc")
        return self._page(req, [i.body for i in chosen])

    def list_incidents(self, req: Request) -> Response:
        return self._search(req, list(self.incidents.values()), required=True)

    def list_alerts(self, req: Request) -> Response:
        return self._search(req, list(self.alerts.values()), required=False)

    def list_logs(self, req: Request) -> Response:
        incident = self.incidents.get(req.params["incident_id"])
        if incident is None:
            raise ApiError(404, "No incident exists with id " + req.params["incident_id"])
        logs = incident.logs if (req.arg("order") or "desc") == "asc" else incident.logs[::-1]
        return self._page(req, logs)

    def list_services(self, req: Request) -> Response:
        _ = self.incidents  # services are named by the incidents' repositories
        return self._page(req, sorted(self._services.values(), key=lambda s: s["name"]))
