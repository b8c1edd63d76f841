"""The generic events source through dbt: files read by the connector, GitHub deployments beside them, and
the same deployment reported by both counted once when the config maps both to one service.

Hand-worked history (all times UTC):

GitHub source `gh`, repository acme/payments:
  deployment 501 to production, sha A; statuses in_progress 09:01, success 09:10 on 2026-01-05
  -> started 09:01, finished 09:10, success.
Events source `argo` (deployments CSV, incidents JSONL):
  e1 payments-api production succeeded, 09:05 -> 09:12 on 2026-01-05, sha A: the same deployment as gh:501
     (same service once mapped, same environment and sha, starts 4 minutes apart, inside the 30-minute window);
     both finished, so GitHub's report is kept and lists `argo:e1`.
  e2 payments-api production FAILED 2026-01-06 10:00 -> 10:20 (written 11:00+01:00), sha B: a failure, kept.
  e3 web staging ok 2026-01-06 11:00 -> 11:05, sha C: kept, not production.
  e4 payments-api production success 2026-01-05 14:00 -> 14:10, sha A again: a redeploy five hours later, kept.
  line 6: status `exploded`: rejected, visible in stg_events__rejected_rows.
  incident i1 on payments-api, SEV2, 10:30 -> 11:00 on 2026-01-06, caused by e2.

With `services` mapping payments-api (argo) and acme/payments (gh) to `payments`: 4 deployments (gh:501
listing argo:e1, argo:e2, argo:e3, argo:e4). Without the mapping: 5 (the services differ, nothing merges).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.config import parse_config
from connectors.core.options import DeploymentRules
from connectors.core.raw import RawRecord, RawStore
from connectors.events import extract

from .warehouse import RAW_TABLES, query_dicts, run_dbt

SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40

DEPLOYMENTS_CSV = f"""\
id,service,environment,status,started_at,finished_at,sha
e1,payments-api,production,succeeded,2026-01-05T09:05:00Z,2026-01-05T09:12:00Z,{SHA_A}
e2,payments-api,production,FAILED,2026-01-06T11:00:00+01:00,2026-01-06T11:20:00+01:00,{SHA_B}
e3,web,staging,ok,2026-01-06T11:00:00Z,2026-01-06T11:05:00Z,{SHA_C}
e4,payments-api,production,success,2026-01-05T14:00:00Z,2026-01-05T14:10:00Z,{SHA_A}
e5,payments-api,production,exploded,2026-01-07T14:00:00Z,2026-01-07T14:10:00Z,{SHA_A}
"""
INCIDENT = {"id": "i1", "service": "payments-api", "severity": "SEV2", "started_at": "2026-01-06T10:30:00Z",
            "resolved_at": "2026-01-06T11:00:00Z", "caused_by_deployment": "e2", "title": "Card payments fail"}

GITHUB = [
    ("github__deployments", "gh", [RawRecord("501", {
        "id": 501, "sha": SHA_A, "ref": "main", "environment": "production", "task": "deploy",
        "description": "Deploy", "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-01-05T09:10:00Z",
        "repository_url": "https://api.github.com/repos/acme/payments",
    }, scope="acme/payments")]),
    ("github__deployment_statuses", "gh", [
        RawRecord("5011", {"id": 5011, "state": "in_progress", "created_at": "2026-01-05T09:01:00Z"}, "501", "acme/payments"),
        RawRecord("5012", {"id": 5012, "state": "success", "created_at": "2026-01-05T09:10:00Z"}, "501", "acme/payments"),
    ]),
]


def build(work_dir: Path, services: bool) -> Path:
    folder = work_dir / "argo"
    (folder / "deployments").mkdir(parents=True)
    (folder / "incidents").mkdir()
    (folder / "deployments" / "2026-01.csv").write_text(DEPLOYMENTS_CSV)
    (folder / "incidents" / "pagerduty.jsonl").write_text(json.dumps(INCIDENT) + "\n")
    argo_services = {"payments-api": "payments"} if services else {}
    gh_services = {"acme/payments": "payments"} if services else {}
    config = parse_config({"sources": [{
        "type": "events", "name": "argo",
        "deployments": {"path": str(folder / "deployments")},
        "incidents": {"path": str(folder / "incidents")},
        "options": {"deployments": {"services": argo_services}},
    }]})
    warehouse = work_dir / "throughline.duckdb"
    with RawStore(warehouse) as store:
        for table in RAW_TABLES:
            store.ensure_table(table)
        extract("events", config.sources[0], store)
        store.write(GITHUB)
    rules = {
        "argo": config.sources[0].options.deployments.for_dbt(),
        "gh": DeploymentRules(services=gh_services).for_dbt(),
    }
    run_dbt(
        ["build", "--select", "+int_deployments_unioned", "+int_incidents_unioned", "stg_events__rejected_rows",
         "--exclude", "test_type:unit", "--vars", json.dumps({"deployment_rules": rules})],
        warehouse, work_dir,
    )
    return warehouse


@pytest.fixture(scope="module")
def mapped(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("events_mapped"), services=True)


def deployments(warehouse: Path) -> list[dict]:
    return query_dicts(
        warehouse,
        "SELECT deployment_key, source, service, environment, is_production, status, sha, started_at, "
        "finished_at, duplicate_keys FROM intermediate.int_deployments_unioned "
        "WHERE source_instance IN ('gh', 'argo') ORDER BY deployment_key",
    )


def test_the_same_deployment_from_events_and_github_counts_once_when_mapped_to_one_service(mapped):
    from datetime import datetime

    rows = deployments(mapped)
    assert [(r["deployment_key"], r["service"], r["status"], r["is_production"], r["duplicate_keys"]) for r in rows] == [
        ("argo:e2", "payments", "failure", True, []),
        ("argo:e3", "web", "success", False, []),
        ("argo:e4", "payments", "success", True, []),
        ("gh:501", "payments", "success", True, ["argo:e1"]),
    ]
    e2 = rows[0]
    # 11:00+01:00 is 10:00 UTC
    assert (e2["started_at"], e2["finished_at"]) == (datetime(2026, 1, 6, 10), datetime(2026, 1, 6, 10, 20))


def test_events_incidents_and_rejected_rows_reach_dbt(mapped):
    (incident,) = query_dicts(
        mapped,
        "SELECT incident_key, source, service, severity, caused_by_deployment_id, is_rollback "
        "FROM intermediate.int_incidents_unioned WHERE source = 'events'",
    )
    assert incident == {"incident_key": "argo:i1", "source": "events", "service": "payments", "severity": "SEV2",
                        "caused_by_deployment_id": "e2", "is_rollback": False}
    (rejected,) = query_dicts(mapped, "SELECT kind, file, line, reason FROM staging.stg_events__rejected_rows")
    assert (rejected["kind"], rejected["file"], rejected["line"]) == ("deployments", "2026-01.csv", 6)
    assert rejected["reason"].startswith("column status: 'exploded' is not a known status")


def test_without_the_service_mapping_both_reports_stay(tmp_path_factory):
    rows = deployments(build(tmp_path_factory.mktemp("events_unmapped"), services=False))
    assert [(r["deployment_key"], r["service"]) for r in rows] == [
        ("argo:e1", "payments-api"), ("argo:e2", "payments-api"), ("argo:e3", "web"), ("argo:e4", "payments-api"),
        ("gh:501", "acme/payments"),
    ]
