"""Jenkins deployments end to end: the simulator's tiny organisation through the GitHub and Jenkins connectors
and dbt, with the same Jenkins loaded twice, once with `services` naming the GitHub repository.

Hand-worked from scenarios.tiny_org (GitHub deployments of acme/checkout, all on main):
  101 production c1 created 2026-01-05T15:00, success 15:10    -> Jenkins acme/checkout/main #1
  102 staging    c2 created 2026-01-06T15:00, success 15:05    -> #2 (stage "Deploy to staging")
  103 production c3 created 2026-01-07T15:00, failure 15:20    -> #3
  104 production c4 created 2026-01-08T15:00, success 15:10    -> #4
  105 production c5 created 2026-01-13T15:00, success 15:10    -> #5
Each build's deploy stage (flow node 21, after Checkout SCM, Build and Test) starts when the deployment was
created, which is also GitHub's first in_progress status, and ends at its final status.
  jk-mapped: services {"acme/checkout/*": acme/checkout} -> the same service, environment, sha and start as
             GitHub's deployment: each is one deployment, kept as GitHub's (both finished; GitHub preferred).
  jk-plain:  no mapping -> service acme/checkout/main, a different service: 5 more deployments.
  jk-mapped's rollback_pattern is "to staging": its #2 is a rollback, jk-plain's #2 (the default pattern) is not.
So int_deployments_unioned holds 5 (gh) + 0 (jk-mapped) + 5 (jk-plain) = 10 rows.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from connectors import github, jenkins
from connectors.config import parse_config
from connectors.core.options import DeploymentRules
from connectors.core.raw import RawStore
from simulator import SimulatorServer, tiny_org
from tests.dbt.warehouse import RAW_TABLES, query, run_dbt

SERVICES = {"acme/checkout/*": "acme/checkout"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("jenkins-deployments")
    path = work / "throughline.duckdb"
    with SimulatorServer(tiny_org()) as sim:
        sources = parse_config({"sources": [
            {"type": "github", "name": "gh", "base_url": f"{sim.url}/github", "auth": {"token": "t"},
             "scope": {"repos": ["acme/checkout"]}},
            *[{"type": "jenkins", "name": name, "base_url": f"{sim.url}/jenkins",
               "auth": {"user": "u", "api_token": "t"}} for name in ("jk-mapped", "jk-plain")],
        ]}, env={}).sources
        with RawStore(path) as store:
            for table in RAW_TABLES:
                store.ensure_table(table)
            github.extract("deployments", sources[0], store)
            for source in sources[1:]:
                jenkins.extract("builds", source, store)
    rules = {"jk-mapped": DeploymentRules(services=SERVICES, rollback_pattern="to staging").for_dbt()}
    run_dbt(["build", "--select", "+int_deployments_unioned", "--vars", json.dumps({"deployment_rules": rules})],
            path, work)
    return path


def test_jenkins_deploy_stages_with_the_rules_applied(warehouse):
    rows = query(warehouse, """
        SELECT source_instance, deployment_id, service, environment, is_production, status, ref, is_rollback,
               started_at, finished_at
        FROM intermediate.int_jenkins__deployments ORDER BY source_instance, deployment_id""")
    expected = []
    for name, service in (("jk-mapped", "acme/checkout"), ("jk-plain", "acme/checkout/main")):
        expected += [
            (name, "acme/checkout/main#1:21", service, "production", True, "success", "main", False,
             datetime(2026, 1, 5, 15), datetime(2026, 1, 5, 15, 10)),
            (name, "acme/checkout/main#2:21", service, "staging", False, "success", "main", name == "jk-mapped",
             datetime(2026, 1, 6, 15), datetime(2026, 1, 6, 15, 5)),
            (name, "acme/checkout/main#3:21", service, "production", True, "failure", "main", False,
             datetime(2026, 1, 7, 15), datetime(2026, 1, 7, 15, 20)),
            (name, "acme/checkout/main#4:21", service, "production", True, "success", "main", False,
             datetime(2026, 1, 8, 15), datetime(2026, 1, 8, 15, 10)),
            (name, "acme/checkout/main#5:21", service, "production", True, "success", "main", False,
             datetime(2026, 1, 13, 15), datetime(2026, 1, 13, 15, 10)),
        ]
    assert rows == expected


def test_the_same_deployment_from_github_and_jenkins_counts_once_when_mapped_to_one_service(warehouse):
    counts = query(warehouse, """SELECT source_instance, count(*) FROM intermediate.int_deployments_unioned
                                 WHERE source_instance IN ('gh', 'jk-mapped', 'jk-plain') GROUP BY 1 ORDER BY 1""")
    assert counts == [("gh", 5), ("jk-plain", 5)]
    merged = query(warehouse, """SELECT deployment_id, duplicate_keys FROM intermediate.int_deployments_unioned
                                 WHERE source_instance = 'gh' ORDER BY deployment_id""")
    assert merged == [(str(ident), [f"jk-mapped:acme/checkout/main#{n}:21"])
                      for n, ident in enumerate((101, 102, 103, 104, 105), start=1)]
