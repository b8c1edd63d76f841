"""Contract of the Opsgenie source with the documented API shapes (there are no recorded Opsgenie answers in
../shared/fixtures): the staging models read only documented fields, the simulator's Opsgenie mount answers
with documented fields of the documented types in the documented page envelope, and the connector's
paginator follows that envelope.

Where the field lists come from (public references, read 2026-11):
- Incident: opsgenie-python-sdk docs/Incident.md (id, tinyId, message, status, isSeen, tags, createdAt,
  updatedAt, source, owner, priority, responders, ownerTeam, extraProperties), opsgenie-go-sdk-v2
  incident/result.go (serviceId), the Incident API's create request and schema (description,
  impactedServices: service ids). `links` ({"web", "api"}) is in the Get Incident sample answer of the
  Incident API page as we remember it, but not in the SDK models: staging reads `links.web` NULL-safely.
- Incident log entry: opsgenie-go-sdk-v2 incident/result.go LogResult (log, type, owner, createdAt, offset).
- Service: opsgenie-go-sdk-v2 service/service_result.go (id, name, description, visibility, teamId, tags).
- Alert: opsgenie-python-sdk docs/BaseAlert.md (id, tinyId, alias, message, status, acknowledged, isSeen, tags,
  snoozed, snoozedUntil, count, lastOccurredAt, createdAt, updatedAt, source, owner, priority, responders,
  integration, report) and docs/AlertReport.md (ackTime, closeTime: integers, acknowledgedBy, closedBy).
- Page envelope: docs.opsgenie.com/docs/pagination: `data`, `paging` {next, first, last} (next absent on the
  last page), `took`, `requestId`; offset/limit, limit at most 100, `sort` and `order` (desc by default).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.opsgenie import PAGES
from simulator import SimulatorServer, tiny_org
from connectors.kit.http import Request
from simulator.timefmt import parse_ms

STAGING = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "staging" / "opsgenie"

DOCUMENTED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "incidents": {
        "id": str, "tinyId": str, "message": str, "description": str, "status": str, "isSeen": bool, "tags": list,
        "createdAt": str, "updatedAt": str, "source": str, "owner": str, "priority": str, "responders": list,
        "ownerTeam": str, "extraProperties": dict, "serviceId": str, "impactedServices": list, "links": dict,
    },
    "incident_logs": {"log": str, "type": str, "owner": str, "createdAt": str, "offset": str},
    "services": {"id": str, "name": str, "description": str, "visibility": str, "teamId": str, "tags": list},
    "alerts": {
        "id": str, "tinyId": str, "alias": str, "message": str, "status": str, "acknowledged": bool, "isSeen": bool,
        "tags": list, "snoozed": bool, "snoozedUntil": str, "count": int, "lastOccurredAt": str, "createdAt": str,
        "updatedAt": str, "source": str, "owner": str, "priority": str, "responders": list, "integration": dict,
        "report": dict,
    },
}
ALERT_REPORT = {"ackTime": int, "closeTime": int, "acknowledgedBy": str, "closedBy": str}
STAGING_MODEL = {"incidents": "stg_opsgenie__incidents", "incident_logs": "stg_opsgenie__incident_logs",
                 "services": "stg_opsgenie__services", "alerts": "stg_opsgenie__alerts"}


def fields_read(stream: str) -> set[str]:
    """The top-level payload fields a staging model reads through the portable JSON macros
    (`json_text('payload', 'links.web')` reads `links`)."""
    sql = (STAGING / f"{STAGING_MODEL[stream]}.sql").read_text()
    return set(re.findall(r"json_(?:text|get|wildcard_texts|wildcard_first_text)\('payload', '(\w+)", sql))


@pytest.mark.parametrize("stream", sorted(DOCUMENTED))
def test_staging_reads_only_documented_fields(stream):
    read = fields_read(stream)
    assert read, f"{STAGING_MODEL[stream]} reads no payload field: the pattern above no longer matches"
    assert read <= set(DOCUMENTED[stream]), f"undocumented: {sorted(read - set(DOCUMENTED[stream]))}"


@pytest.fixture(scope="module")
def mount():
    org = tiny_org()
    org.github_add_issue("acme/checkout", "Checkout down", "2026-01-08T16:00:00Z", labels=["incident", "sev1"],
                         closed_at="2026-01-08T17:00:00Z")
    with SimulatorServer(org) as sim:
        api = sim.mounts["opsgenie"]
        api.add_incident("acme/payments", "Payments slow", parse_ms("2026-01-09T10:00:00Z"))
        api.add_alert("CPU high", parse_ms("2026-01-09T11:00:00Z"), priority="P1", tags=["service:acme/payments"],
                      closed_ms=parse_ms("2026-01-09T11:20:00Z"))
        api.add_alert("Disk full", parse_ms("2026-01-09T12:00:00Z"))
        yield api


def get(api, path: str, **query: str) -> dict:
    return api.serve(Request("GET", path, list(query.items()), {}, b"", "http://sim/opsgenie")).body


def objects(api, stream: str) -> list[dict]:
    if stream == "incidents":
        return get(api, "/v1/incidents", query="createdAt>=0")["data"]
    if stream == "services":
        return get(api, "/v1/services")["data"]
    if stream == "alerts":
        return get(api, "/v2/alerts")["data"]
    return [log for i in api.incidents for log in get(api, f"/v1/incidents/{i}/logs")["data"]]


@pytest.mark.parametrize("stream", sorted(DOCUMENTED))
def test_the_simulator_answers_documented_fields_of_documented_types(mount, stream):
    found = objects(mount, stream)
    assert len(found) >= 2
    for obj in found:
        assert set(obj) <= set(DOCUMENTED[stream]), sorted(set(obj) - set(DOCUMENTED[stream]))
        assert fields_read(stream) <= set(obj) | {"serviceId"}  # serviceId: only older answers carry it
        for name, value in obj.items():
            assert isinstance(value, DOCUMENTED[stream][name]), (name, value)
        for name, value in (obj.get("report") or {}).items() if stream == "alerts" else ():
            assert isinstance(value, ALERT_REPORT[name]), (name, value)


def test_an_alerts_close_time_is_milliseconds_after_its_creation(mount):
    closed = next(a for a in objects(mount, "alerts") if a["status"] == "closed")
    assert closed["report"]["closeTime"] == 20 * 60 * 1000  # 11:00 -> 11:20


def test_the_page_envelope_is_the_documented_one_and_the_connector_follows_it(mount):
    first = get(mount, "/v1/incidents", query="createdAt>=0", limit="1", order="asc")
    assert set(first) == {"data", "paging", "took", "requestId"} and set(first["paging"]) == {"first", "next", "last"}
    last = get(mount, "/v1/incidents", query="createdAt>=0", limit="1", offset="1", order="asc")
    assert "next" not in last["paging"]
    assert "limit=100" in get(mount, "/v1/incidents", query="createdAt>=0", limit="500")["paging"]["first"]  # capped
    # The connector's paginator: the next page is the URL the body names, and a page without one is the last.
    assert PAGES.first_params(100) == {"offset": 0, "limit": 100}
    assert PAGES.next_request({}, first, None, 1, 1) == (first["paging"]["next"], {})
    assert PAGES.next_request({}, last, None, 1, 1) is None
    assert PAGES.next_request({}, {**first, "data": []}, None, 0, 1) is None  # an empty page ends the list
    # (A page whose incidents `keep` dropped is not empty: the engine counts what the page listed,
    # tests/unit/test_engine.py.)
