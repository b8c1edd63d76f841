"""Opsgenie incidents through dbt, beside the tiny organisation's GitHub deployments: into the `incidents` mart,
attributed by the window rule, and into recovery time and change failure rate (dora_metrics_weekly).

GitHub source `g`, repository acme/checkout (simulator/scenarios.tiny_org), production deployments
(service `acme/checkout`, started-finished):
  101 01-05 15:00-15:10 success    103 01-07 15:00-15:20 FAILURE    104 01-08 15:00-15:10 success
  105 01-13 15:00-15:10 success    (102 is staging: in no DORA count)
Opsgenie source `og` (the simulator's Opsgenie mount), its `services` rule mapping the Opsgenie service
names `Checkout*` to `acme/checkout`; incidents in the order added (tinyId 1..4):
  #1 Checkout Web P1 01-08 16:00, resolved 18:30                       -> restore 2.5 h
  #2 Billing      P3 01-09 12:00, resolved 13:00 (no rule: stays `Billing`, which deploys nothing)
  #3 Checkout Web P2 01-13 16:00, resolved 16:30, reopened 16:45, resolved 17:15, closed 17:30
                  -> resolved at the first resolve after the last reopening, 17:15: restore 1.25 h
  #4 Checkout Web P2 01-20 09:00, still open                           -> restore NULL
and alerts, of which the source reads priority P1 only (`alert_priorities: [P1]`):
  alert #1 P1 tagged service:acme/checkout 01-05 15:30, closed 16:15 (report.closeTime 45 min) -> 0.75 h
  alert #2 P3 tagged service:acme/checkout 01-06 10:00, closed 11:00: not read, in no count.
Attribution (window 24 h, the default): alert #1 -> 101 (finished 01-05 15:10); #1 -> 104 (finished 01-08
15:10, 50 min before); #3 -> 105 (01-13 15:10); #4: the latest success, 105, finished 6 days before ->
unattributed; #2: no deployment of Billing.

Weekly DORA metrics of service acme/checkout:
  week 01-05: attempts 101, 103, 104 = 3; change failures 101 (alert #1), 103 (failed) and 104 (incident
    #1) = 3, rate 3/3. Recoveries: 101 15:30 -> 16:15 = 0.75 h; 103 failed 01-07 15:20 -> next success 104
    finished 01-08 15:10 = 23 h 50 min = 23.8333 h; 104 from its first incident 01-08 16:00 -> resolved 18:30
    = 2.5 h; median of (0.75, 2.5, 23.8333) = 2.5 h. Incidents: alert #1 and #1 = 2.
  week 01-12: attempt 105 = 1; change failure 105 (incident #3) = 1, rate 1.0; recovery 16:00 -> 17:15 = 1.25 h.
  week 01-19: no deployment; 1 incident (#4), unattributed.
Without Opsgenie, 101, 104 and 105 would not be change failures (week 01-05 rate 1/3, week 01-12 rate 0).
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from connectors import github, opsgenie
from connectors.config import parse_config
from connectors.core.options import DeploymentRules
from connectors.core.raw import RawStore
from simulator.scenarios import tiny_org
from simulator.server import SimulatorServer
from simulator.timefmt import parse_ms
from tests.dbt.warehouse import RAW_TABLES, query, run_dbt

T = datetime.fromisoformat


def _incidents(api) -> None:
    def at(text: str) -> int:
        return parse_ms(f"2026-01-{text}:00Z")

    first = api.add_incident("Checkout Web", "Checkout returns 500", at("08T16:00"), priority="P1")
    api.resolve_incident(first["id"], at("08T18:30"))
    billing = api.add_incident("Billing", "Invoices late", at("09T12:00"))
    api.resolve_incident(billing["id"], at("09T13:00"))
    third = api.add_incident("Checkout Web", "Slow cart", at("13T16:00"), priority="P2")
    api.resolve_incident(third["id"], at("13T16:30"))
    api.reopen_incident(third["id"], at("13T16:45"))
    api.resolve_incident(third["id"], at("13T17:15"))
    api.resolve_incident(third["id"], at("13T17:30"), close=True)
    api.add_incident("Checkout Web", "Payments time out", at("20T09:00"), priority="P2")
    api.add_alert("Checkout errors spike", at("05T15:30"), priority="P1", tags=["team:web", "service:acme/checkout"],
                  closed_ms=at("05T16:15"))
    api.add_alert("Disk 80%", at("06T10:00"), priority="P3", tags=["service:acme/checkout"], closed_ms=at("06T11:00"))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("opsgenie-dbt")
    path = work / "throughline.duckdb"
    with SimulatorServer(tiny_org()) as sim:
        _incidents(sim.mounts["opsgenie"])
        config = parse_config({"sources": [
            {"type": "github", "name": "g", "base_url": f"{sim.url}/github", "auth": {"token": "t"},
             "scope": {"repos": ["acme/checkout"]}, "options": {"backoff_seconds": 0}},
            {"type": "opsgenie", "name": "og", "base_url": f"{sim.url}/opsgenie", "auth": {"api_key": "k"},
             "options": {"backoff_seconds": 0, "alert_priorities": ["P1"],
                         "deployments": {"services": {"Checkout*": "acme/checkout"}}}},
        ]}, env={})
        with RawStore(path) as store:
            for table in RAW_TABLES:
                store.ensure_table(table)
            github.extract("deployments", config.sources[0], store)
            for group in ("incidents", "alerts", "services"):
                opsgenie.extract(group, config.sources[1], store)
    rules = {"og": config.sources[1].options.deployments.for_dbt()}
    assert rules["og"]["services"] == DeploymentRules(services={"Checkout*": "acme/checkout"}).services
    # The marts and what they need (seeds included) without the other models' data tests, which are theirs to
    # keep green; then the Opsgenie models' own data tests.
    variables = ["--vars", json.dumps({"deployment_rules": rules})]
    run_dbt(["build", "--select", "+incidents", "+dora_metrics_weekly", "--exclude", "resource_type:test",
             "resource_type:unit_test", *variables], path, work)
    run_dbt(["test", "--select", "staging.opsgenie", "int_opsgenie__incidents", *variables], path, work)
    return path


def test_opsgenie_incidents_reach_the_incidents_mart(warehouse):
    rows = query(warehouse, """
        SELECT display_key, title, service, severity, started_at, resolved_at, round(restore_hours, 4), attribution,
               split_part(caused_by_deployment_key, ':', -1), url LIKE 'https://%/incident/detail/%'
        FROM marts.incidents WHERE source = 'opsgenie' ORDER BY started_at""")
    assert rows == [
        ("alert #1", "Checkout errors spike", "acme/checkout", "P1", T("2026-01-05 15:30"), T("2026-01-05 16:15"),
         0.75, "window", "101", None),  # an alert has no web link in its list answer
        ("#1", "Checkout returns 500", "acme/checkout", "P1", T("2026-01-08 16:00"), T("2026-01-08 18:30"), 2.5,
         "window", "104", True),
        ("#2", "Invoices late", "Billing", "P3", T("2026-01-09 12:00"), T("2026-01-09 13:00"), 1.0,
         "unattributed", None, True),
        ("#3", "Slow cart", "acme/checkout", "P2", T("2026-01-13 16:00"), T("2026-01-13 17:15"), 1.25,
         "window", "105", True),
        ("#4", "Payments time out", "acme/checkout", "P2", T("2026-01-20 09:00"), None, None,
         "unattributed", None, True),
    ]


def test_opsgenie_incidents_count_in_recovery_time_and_change_failure_rate(warehouse):
    rows = query(warehouse, """
        SELECT period_start, deployment_attempts, change_failures, round(change_failure_rate, 4), recoveries,
               round(recovery_time_p50_hours, 4), incidents, unattributed_incidents
        FROM marts.dora_metrics_weekly
        WHERE grouping_level = 'service' AND service = 'acme/checkout' ORDER BY period_start""")
    assert rows == [
        (date(2026, 1, 5), 3, 3, 1.0, 3, 2.5, 2, 0),
        (date(2026, 1, 12), 1, 1, 1.0, 1, 1.25, 1, 0),
        (date(2026, 1, 19), 0, 0, None, 0, None, 1, 1),
    ]


def test_the_log_decides_the_resolve_time_and_staging_keeps_the_services(warehouse):
    logs = query(warehouse, """SELECT count(*), count(DISTINCT incident_id) FROM staging.stg_opsgenie__incident_logs""")
    # created + resolved (#1, #2: 2 each), created + 4 changes (#3: 5); #4 is open: its log is not read
    assert logs == [(2 + 2 + 5, 3)]
    services = query(warehouse, "SELECT service_name FROM staging.stg_opsgenie__services ORDER BY 1")
    assert services == [("Billing",), ("Checkout Web",)]
