"""PagerDuty incidents through dbt into marts.incidents, change fail rate and recovery time, on a hand-made
history (raw objects in the API's shapes, as the connector stores them). All times UTC, week of Mon 2026-01-05.

GitHub source `gh`, repository acme/checkout, two successful production deployments:
  2001: started 2026-01-05 09:01, finished 09:10;   2002: started 2026-01-07 09:01, finished 09:10.
PagerDuty source `pd`, options.deployments.services {"Checkout*": "acme/checkout"} (a glob on the service name):
  PI1 #101 on PSVC1, created 2026-01-05 12:00 as "Checkout" and since renamed "Checkout API" (the services
      list has the current name; both match the glob), priority P1, resolved; the incident object carries no
      `resolved_at`, its log has trigger 12:00, acknowledge 12:10 and resolve 14:30 -> resolved 14:30.
      Window rule: the latest success of acme/checkout finished <= 24 h before 12:00 is 2001 (09:10).
  PI2 #102 on PSVC2 "Payments" (not mapped: service `Payments`), urgency low and no priority, created
      2026-01-06 10:00, acknowledged, still open -> severity `low`, resolved_at NULL, no deployment of
      `Payments`: unattributed.
Expected, week 2026-01-05, service acme/checkout: 2 attempts, 1 change failure (2001: one attributed
incident) -> change_failure_rate 1/2 = 0.5; recovery of 2001 from its first incident's start 12:00 to its
last incident's resolution 14:30 = 2.5 h. Overall: 2 incidents, 1 unattributed.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from connectors.config import parse_config
from connectors.core.raw import RawRecord
from operations.dbt import dbt_vars

from .warehouse import load_raw, query_dicts, run_dbt

SHA1, SHA2 = "1" * 40, "2" * 40
CONFIG = parse_config({"sources": [
    {"type": "github", "name": "gh", "auth": {"token": "${T}"}, "scope": {"repos": ["acme/checkout"]}},
    {"type": "pagerduty", "name": "pd", "auth": {"token": "${T}"},
     "options": {"deployments": {"services": {"Checkout*": "acme/checkout"}}}},
]}, env={"T": "x"})


def deployment(ident: int, sha: str, day: int) -> list[tuple[str, str, list[RawRecord]]]:
    """A GitHub production deployment of acme/checkout on 2026-01-<day>: created 09:00, in progress 09:01,
    success 09:10."""
    on = f"2026-01-{day:02d}"
    return [
        ("github__deployments", "gh", [RawRecord(str(ident), {
            "id": ident, "sha": sha, "ref": "main", "environment": "production", "task": "deploy",
            "description": "Deploy", "created_at": f"{on}T09:00:00Z", "updated_at": f"{on}T09:10:00Z",
            "repository_url": "https://api.github.com/repos/acme/checkout",
        }, scope="acme/checkout")]),
        ("github__deployment_statuses", "gh", [
            RawRecord(f"{ident}1", {"id": ident * 10 + 1, "state": "in_progress", "created_at": f"{on}T09:01:00Z"},
                      str(ident), "acme/checkout"),
            RawRecord(f"{ident}2", {"id": ident * 10 + 2, "state": "success", "created_at": f"{on}T09:10:00Z"},
                      str(ident), "acme/checkout"),
        ]),
    ]


def incident(ident: str, number: int, service: tuple[str, str], created: str, status: str, **fields) -> RawRecord:
    return RawRecord(ident, {
        "id": ident, "type": "incident", "incident_number": number, "title": f"incident {number}",
        "html_url": f"https://acme.pagerduty.com/incidents/{ident}", "created_at": created, "status": status,
        "service": {"id": service[0], "type": "service_reference", "summary": service[1]}, **fields,
    }, scope="all", cursor_value=created)


def log_entry(ident: str, kind: str, incident_id: str, at: str) -> RawRecord:
    return RawRecord(ident, {"id": ident, "type": f"{kind}_log_entry", "created_at": at,
                             "incident": {"id": incident_id, "type": "incident_reference"}}, incident_id, "all")


PAGERDUTY = [
    ("pagerduty__incidents", "pd", [
        incident("PI1", 101, ("PSVC1", "Checkout"), "2026-01-05T12:00:00Z", "resolved", urgency="high",
                 priority={"id": "PP1", "type": "priority_reference", "summary": "P1"}),
        incident("PI2", 102, ("PSVC2", "Payments"), "2026-01-06T10:00:00Z", "acknowledged", urgency="low",
                 priority=None),
    ]),
    ("pagerduty__log_entries", "pd", [
        log_entry("L1", "trigger", "PI1", "2026-01-05T12:00:00Z"),
        log_entry("L2", "acknowledge", "PI1", "2026-01-05T12:10:00Z"),
        log_entry("L3", "resolve", "PI1", "2026-01-05T14:30:00Z"),
        log_entry("L4", "trigger", "PI2", "2026-01-06T10:00:00Z"),
        log_entry("L5", "acknowledge", "PI2", "2026-01-06T10:05:00Z"),
    ]),
    ("pagerduty__services", "pd", [
        RawRecord("PSVC1", {"id": "PSVC1", "type": "service", "name": "Checkout API", "status": "active"}, scope="all"),
        RawRecord("PSVC2", {"id": "PSVC2", "type": "service", "name": "Payments", "status": "active"}, scope="all"),
    ]),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    work_dir = tmp_path_factory.mktemp("pagerduty")
    warehouse = work_dir / "throughline.duckdb"
    load_raw(warehouse, [*deployment(2001, SHA1, 5), *deployment(2002, SHA2, 7), *PAGERDUTY])
    run_dbt(["build", "--select", "+incidents", "+dora_metrics_weekly", "--exclude", "test_type:unit",
             "--vars", json.dumps(dbt_vars(CONFIG))], warehouse, work_dir)
    return warehouse


def test_pagerduty_incidents_reach_the_incidents_mart(warehouse):
    rows = query_dicts(warehouse, "SELECT incident_key, source, display_key, service, severity, started_at, "
                       "resolved_at, restore_hours, caused_by_deployment_key, attribution, is_attributed "
                       "FROM marts.incidents WHERE source = 'pagerduty' ORDER BY incident_key")
    assert rows == [
        {"incident_key": "pd:PI1", "source": "pagerduty", "display_key": "#101", "service": "acme/checkout",
         "severity": "P1", "started_at": datetime(2026, 1, 5, 12), "resolved_at": datetime(2026, 1, 5, 14, 30),
         "restore_hours": 2.5,  # 12:00 -> 14:30, from the resolve log entry
         "caused_by_deployment_key": "gh:2001", "attribution": "window",
         "is_attributed": True},
        {"incident_key": "pd:PI2", "source": "pagerduty", "display_key": "#102", "service": "Payments",
         "severity": "low", "started_at": datetime(2026, 1, 6, 10), "resolved_at": None, "restore_hours": None,
         "caused_by_deployment_key": None, "attribution": "unattributed", "is_attributed": False},
    ]


def test_change_fail_rate_and_recovery_time_count_the_pagerduty_incident(warehouse):
    (week,) = query_dicts(warehouse, "SELECT deployment_attempts, change_failures, change_failure_rate, recoveries, "
                          "recovery_time_p50_hours FROM marts.dora_metrics_weekly WHERE grouping_level = 'service' "
                          "AND service = 'acme/checkout' AND period_start = ?", [date(2026, 1, 5)])
    # 2001 failed through PI1 (1 of 2 attempts); recovered 12:00 -> 14:30.
    assert week == {"deployment_attempts": 2, "change_failures": 1, "change_failure_rate": 0.5, "recoveries": 1,
                    "recovery_time_p50_hours": 2.5}
    (overall,) = query_dicts(warehouse, "SELECT incidents, unattributed_incidents FROM marts.dora_metrics_weekly "
                             "WHERE grouping_level = 'overall' AND period_start = ?", [date(2026, 1, 5)])
    assert overall == {"incidents": 2, "unattributed_incidents": 1}  # PI1 and PI2; PI2 names no deployed service
