"""Real recorded CircleCI objects (../shared/fixtures/devlake/circleci) in their page envelopes, through
the connector, the staging views and int_circleci__deployments.

What the recording holds (worked out from the CSVs by reading them):
  * project gh/coldgust/coldgust.github.io, pipelines 1-10 (10 is `errored`: no `vcs`, only the trigger's
    checkout sha 6ba0cdaf...); 1-3 on branch circleci-project-setup, 4-9 on master;
  * one workflow per pipeline 1-9: `say-hello-workflow` (1-3, success) with job `say-hello`, and
    `workflow` (4-9) with job `build`: failed for 4-8, success for 9;
  * workflows and jobs recorded twice (a full and an incremental collection): the objects are equal
    except workflow fc76deef (pipeline 8), whose first recording stops at 18:05:28, before it was created
    (18:06:13); the later one says 18:06:28. The server answers the latest recording of each object, as
    the API would today;
  * one more workflow (b3b77371, pipeline 16) whose pipeline was not recorded and whose times are empty:
    no pipeline list leads to it, so it is not served.
No job or workflow is named like a deployment, so the build runs with rules for this source that make
the master `build` job the deployment: job_pattern ^build$, branches [master], and the project mapped to
service `coldgust-site`. Hand-worked result: 6 production deployments (pipelines 4-9), 5 failed, 1 success.
"""

from __future__ import annotations

import base64
import json
import math

import duckdb
import pytest

from connectors import circleci
from connectors.config import parse_config
from connectors.core.options import DeploymentRules
from connectors.core.raw import RawStore
from tests.dbt.warehouse import RAW_TABLES, run_dbt
from tests.support.devlake import devlake_rows
from connectors.kit import ApiServer as RoutesServer

SLUG = "gh/coldgust/coldgust.github.io"
PAGE = 4


def _latest(*names: str) -> dict[str, dict]:
    """Objects by id, a later recording replacing an earlier one."""
    objects: dict[str, dict] = {}
    for name in names:
        for row in devlake_rows("circleci", name):
            objects[row["data"]["id"]] = {**row["data"], "_url": row["url"]}
    return objects


@pytest.fixture(scope="module")
def recorded():
    pipelines = sorted((r["data"] for r in devlake_rows("circleci", "pipelines")),
                       key=lambda p: p["created_at"], reverse=True)
    workflows: dict[str, list[dict]] = {}
    for w in _latest("workflows", "workflows_incremental").values():
        workflows.setdefault(w["pipeline_id"], []).append({k: v for k, v in w.items() if k != "_url"})
    jobs: dict[str, list[dict]] = {}
    for j in _latest("jobs", "jobs_incremental").values():
        jobs.setdefault(j["_url"].rstrip("/").split("/")[-2], []).append({k: v for k, v in j.items() if k != "_url"})
    return {"pipelines": pipelines, "workflows": workflows, "jobs": jobs}


def routes(data):
    def paged(items, query):
        token = query.get("page-token")
        offset = int(base64.b64decode(token).decode()) if token else 0
        end = offset + PAGE
        following = base64.b64encode(str(end).encode()).decode() if end < len(items) else None
        return 200, {}, {"items": items[offset:end], "next_page_token": following}

    return [
        (f"/api/v2/project/{SLUG}/pipeline", lambda q, m, b: paged(data["pipelines"], q)),
        (r"/api/v2/pipeline/([^/]+)/workflow", lambda q, m, b: paged(data["workflows"].get(m.group(1), []), q)),
        (r"/api/v2/workflow/([^/]+)/job", lambda q, m, b: paged(data["jobs"].get(m.group(1), []), q)),
    ]


@pytest.fixture(scope="module")
def loaded(recorded, tmp_path_factory):
    work = tmp_path_factory.mktemp("circleci-contract")
    warehouse = work / "throughline.duckdb"
    with RoutesServer(routes(recorded)) as server:
        config = parse_config({"sources": [{
            "type": "circleci", "name": "cc", "base_url": server.url, "auth": {"token": "t"},
            "scope": {"projects": [SLUG]}, "options": {"backoff_seconds": 0},
        }]}, env={})
        with RawStore(warehouse) as store:
            for table in RAW_TABLES:
                store.ensure_table(table)
            results = circleci.extract("pipelines", config.sources[0], store)
    rules = DeploymentRules(job_pattern="^build$", branches=["master"], services={"gh/coldgust/*": "coldgust-site"})
    variables = json.dumps({"deployment_rules": {"cc": rules.for_dbt()}})
    run_dbt(["build", "--select", "+int_circleci__deployments", "--vars", variables], warehouse, work)
    con = duckdb.connect(str(warehouse), read_only=True)
    yield {"results": results, "con": con}
    con.close()


def rows(con, sql):
    return con.execute(sql).fetchall()


def test_every_recorded_object_arrives_once(recorded, loaded):
    con = loaded["con"]
    pipelines, rechecked, jobs = loaded["results"]
    served = {p["id"] for p in recorded["pipelines"]}
    reachable = [w for pipeline_id, ws in recorded["workflows"].items() if pipeline_id in served for w in ws]
    assert (len(recorded["pipelines"]), len(reachable), len(recorded["jobs"])) == (10, 9, 9)
    assert rows(con, "SELECT count(*) FROM raw.circleci__pipelines") == [(10,)]
    assert rows(con, "SELECT count(*) FROM raw.circleci__workflows") == [(9,)]
    assert rows(con, "SELECT count(*) FROM raw.circleci__jobs") == [(9,)]
    # 10 pipelines in pages of 4; one workflow list per pipeline (10, the errored one's empty); one job list
    # per workflow.
    assert pipelines.stats.requests == math.ceil(10 / PAGE) + 10
    assert (rechecked.records, jobs.records, jobs.stats.requests) == (0, 9, 9)


def test_staging_reads_real_shapes(loaded):
    con = loaded["con"]
    staged = rows(con, """SELECT pipeline_number, state, branch, left(revision, 7), repo
                          FROM staging.stg_circleci__pipelines ORDER BY pipeline_number""")
    assert [r[0] for r in staged] == list(range(1, 11))
    assert {r[4] for r in staged} == {"coldgust/coldgust.github.io"}
    assert [r[2] for r in staged] == ["circleci-project-setup"] * 3 + ["master"] * 6 + [None]
    # the errored pipeline has no vcs: its sha comes from the trigger parameters
    assert staged[-1][1:4] == ("errored", None, "6ba0cda")
    assert rows(con, """SELECT status, count(*) FROM staging.stg_circleci__workflows GROUP BY 1 ORDER BY 1""") == [
        ("failed", 5), ("success", 4)]
    # The latest recording of fc76deef: stopped 15 s after it was created, not 45 s before.
    assert rows(con, """SELECT date_diff('second', created_at, stopped_at) FROM staging.stg_circleci__workflows
                        WHERE workflow_id LIKE 'fc76deef%'""") == [(15,)]
    assert rows(con, """SELECT count(*) FROM staging.stg_circleci__workflows WHERE stopped_at < created_at""") == [(0,)]
    assert rows(con, """SELECT job_name, job_type, status, count(*) FROM staging.stg_circleci__jobs
                        GROUP BY ALL ORDER BY ALL""") == [
        ("build", "build", "failed", 5), ("build", "build", "success", 1), ("say-hello", "build", "success", 3)]


def test_deployment_rules_pick_the_master_build_jobs(loaded):
    con = loaded["con"]
    deployments = rows(con, """
        SELECT p.pipeline_number, d.service, d.environment, d.is_production, d.status, d.source_status,
               d.sha = p.revision, d.ref, strftime(d.started_at, '%H:%M:%S'), strftime(d.finished_at, '%H:%M:%S')
        FROM intermediate.int_circleci__deployments d
        JOIN staging.stg_circleci__jobs j ON j.job_id = d.deployment_id
        JOIN staging.stg_circleci__workflows w ON w.workflow_id = j.workflow_id
        JOIN staging.stg_circleci__pipelines p ON p.pipeline_id = w.pipeline_id
        ORDER BY 1""")
    site = ("coldgust-site", "production", True)
    assert deployments == [
        (4, *site, "failure", "failed", True, "master", "17:50:22", "17:50:25"),
        (5, *site, "failure", "failed", True, "master", "17:52:20", "17:52:23"),
        (6, *site, "failure", "failed", True, "master", "17:54:11", "17:54:23"),
        (7, *site, "failure", "failed", True, "master", "17:56:27", "17:56:43"),
        (8, *site, "failure", "failed", True, "master", "18:06:15", "18:06:28"),
        (9, *site, "success", "success", True, "master", "18:13:25", "18:13:38"),
    ]
