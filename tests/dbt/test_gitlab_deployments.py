"""GitLab deployments and incidents through dbt, from the tiny organisation on the simulator, beside GitHub's:
hand-worked rule results, and one deployment both sources report counted once when the config names
the same service for both scopes.

The tiny organisation's GitLab project acme/checkout-infra (simulator/gitlab_api.py) deploys:
  iid 1 production success 01-05 16:00-16:10      iid 2 staging success 01-06 16:00-16:05
  iid 3 production failed  01-07 16:00-16:20      iid 4 rollback-production of iid 1's sha, 01-07 16:50-17:00
  iid 5 production success 01-08 16:00-16:10      iid 6 production success 01-13 16:00-16:10
and incident #1 opened 01-07 16:30 ("Caused by deployment <iid 3's id>"), closed 01-07 17:00.
This test adds iid 7: production, the sha GitHub deployment 105 shipped (c5), created 01-13 15:05 and
successful at 15:12. GitHub's 105 (production, c5) was created 15:00 and went in_progress at 15:00.
Both sources map their scope (acme/checkout, acme/checkout-infra) to the service `checkout`, so iid 7 and
105 are one deployment: same service, environment and sha, started 5 minutes apart (within the default
30). Both have a final outcome, so GitHub's report is kept (int_deployments_unioned's preference) and
lists GitLab's.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from connectors import github, gitlab
from connectors.config import parse_config
from connectors.core.options import DeploymentRules
from connectors.core.raw import RawStore
from simulator.scenarios import tiny_org
from simulator.server import SimulatorServer
from tests.dbt.warehouse import RAW_TABLES, query, run_dbt

T = datetime.fromisoformat


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("gitlab-dbt")
    path = work / "throughline.duckdb"
    with SimulatorServer(tiny_org()) as sim:
        c5 = sim.org.repos["acme/checkout"].commits[5]["sha"]
        sim.mounts["gitlab"].data.add_deployment("acme/checkout-infra", "production", "2026-01-13T15:05:00Z",
                                                 finished_at="2026-01-13T15:12:00Z", sha=c5)
        config = parse_config({"sources": [
            {"type": "github", "name": "g", "base_url": f"{sim.url}/github", "auth": {"token": "t"},
             "scope": {"repos": ["acme/checkout"]}, "options": {"backoff_seconds": 0}},
            {"type": "gitlab", "name": "gl", "base_url": f"{sim.url}/gitlab", "auth": {"token": "t"},
             "scope": {"groups": ["acme"]}, "options": {"backoff_seconds": 0}},
        ]}, env={})
        with RawStore(path) as store:
            for table in RAW_TABLES:
                store.ensure_table(table)
            github.extract("deployments", config.sources[0], store)
            for group in ("deployments", "issues"):
                gitlab.extract(group, config.sources[1], store)
    rules = {
        "g": DeploymentRules(services={"acme/checkout": "checkout"}).for_dbt(),
        "gl": DeploymentRules(services={"acme/checkout-infra": "checkout"}).for_dbt(),
    }
    # `run`, not `build`: the other sources' tests are theirs to keep green; this module asserts on values.
    run_dbt(["run", "--select", "+int_deployments_unioned", "+int_incidents_unioned",
             "--vars", json.dumps({"deployment_rules": rules})], path, work)
    return path


def test_gitlab_rules_on_the_tiny_history(warehouse):
    got = query(warehouse, """
        SELECT right(deployment_id, 1), service, repo, environment, is_production, status, is_rollback, started_at,
               finished_at
        FROM intermediate.int_gitlab__deployments ORDER BY created_at""")
    assert got == [
        ("1", "checkout", "acme/checkout-infra", "production", True, "success", False, T("2026-01-05 16:00"), T("2026-01-05 16:10")),
        ("2", "checkout", "acme/checkout-infra", "staging", False, "success", False, T("2026-01-06 16:00"), T("2026-01-06 16:05")),
        ("3", "checkout", "acme/checkout-infra", "production", True, "failure", False, T("2026-01-07 16:00"), T("2026-01-07 16:20")),
        # named rollback-production, and it re-ships iid 1's sha right after iid 3 shipped another
        ("4", "checkout", "acme/checkout-infra", "production", True, "success", True, T("2026-01-07 16:50"), T("2026-01-07 17:00")),
        ("5", "checkout", "acme/checkout-infra", "production", True, "success", False, T("2026-01-08 16:00"), T("2026-01-08 16:10")),
        ("7", "checkout", "acme/checkout-infra", "production", True, "success", False, T("2026-01-13 15:05"), T("2026-01-13 15:12")),
        ("6", "checkout", "acme/checkout-infra", "production", True, "success", False, T("2026-01-13 16:00"), T("2026-01-13 16:10")),
    ]


def test_the_deployment_both_sources_report_counts_once(warehouse):
    rows = query(warehouse, """SELECT source, deployment_id, duplicate_keys FROM intermediate.int_deployments_unioned
                               WHERE service = 'checkout' ORDER BY created_at, source""")
    # GitHub 101-105 and GitLab iids 1-7, less GitLab's iid 7 folded into GitHub's 105.
    assert len(rows) == 5 + 7 - 1
    assert ("gitlab", "13400007", []) not in rows
    assert ("github", "105", ["gl:13400007"]) in rows
    production = query(warehouse, """SELECT count(*) FILTER (WHERE status = 'success'), count(*) FILTER (WHERE status = 'failure')
                                     FROM intermediate.int_deployments_unioned WHERE is_production""")
    # GitHub: 101, 104, 105 success, 103 failure; GitLab: 1, 4, 5, 6 success, 3 failure (7 merged away)
    assert production == [(3 + 4, 1 + 1)]


def test_the_gitlab_incident_names_its_deployment(warehouse):
    assert query(warehouse, """SELECT source, service, display_key, started_at, resolved_at, caused_by_source_instance,
                                      caused_by_deployment_id, severity
                               FROM intermediate.int_incidents_unioned WHERE source = 'gitlab'""") == [
        ("gitlab", "checkout", "acme/checkout-infra#1", T("2026-01-07 16:30"), T("2026-01-07 17:00"), "gl",
         "13400003", "severity::2"),
    ]
