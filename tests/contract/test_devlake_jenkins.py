"""Real recorded Jenkins objects (../shared/fixtures/devlake/jenkins) through the connector and the models.

The recordings hold two instances' worth of objects, served here as one Jenkins:
  * a folder `github_org` with the multibranch project `github_org/devlake-jenkins` and its 4 branch jobs
    (main, PR-2, feature-1, feature-2; jobs_multibranch), their 15 builds (builds_multibranch: main #1-#4,
    PR-2 #1-#2, feature-1 #1-#3, feature-2 #1-#6) and the 65 stages of 13 of them (stages_multibranch: 5 each;
    feature-2 #4 and #5 failed before any stage);
  * the freestyle job `Test-jenkins-dir/test-jenkins-sub-dir/test-sub-sub-dir/devlake` three folders deep with
    13 builds (builds: #11 #17 #21 #23 #27 #31 #37 #47 and #10001-#10005, with made-up results such as
    NOT_BUILD and `building: true` on #27, #10001 and #10002), and the pipeline `pipeline-test2` at the root
    whose build #1 (builds, the row recorded under the other job's params) has the 2 stages recorded from
    `pipeline-test2/1/wfapi/describe` (stages ids 9 and 10, both "Hello").
Folders are not in the recordings: the listings above them are written here, as Jenkins would answer them.
Every expected value below is worked out by hand from those rows.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from urllib.parse import urlparse

import duckdb
import pytest

from connectors import jenkins
from connectors.config import parse_config
from connectors.core.raw import RawStore
from tests.dbt.warehouse import RAW_TABLES, run_dbt
from tests.support.devlake import devlake_rows
from connectors.kit import ApiServer as RoutesServer

FOLDER_CLASS = "com.cloudbees.hudson.plugins.folder.Folder"
MULTIBRANCH = "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
DEEP = "Test-jenkins-dir/test-jenkins-sub-dir/test-sub-sub-dir/devlake"
MB = "github_org/devlake-jenkins"
PAGE = 4


@pytest.fixture(scope="module")
def recorded():
    builds: dict[str, list[dict]] = {}
    for row in devlake_rows("jenkins", "builds_multibranch"):
        builds.setdefault(json.loads(row["input"])["FullName"], []).append(row["data"])
    for row in devlake_rows("jenkins", "builds"):
        job = "pipeline-test2" if row["data"]["fullDisplayName"].startswith("pipeline-test2") else DEEP
        builds.setdefault(job, []).append(row["data"])
    stages: dict[tuple[str, int], list[dict]] = {}
    for row in devlake_rows("jenkins", "stages_multibranch"):
        job, number = json.loads(row["input"])["FullName"].split("#")
        stages.setdefault((job, int(number)), []).append(row["data"])
    for row in devlake_rows("jenkins", "stages"):
        if urlparse(row["url"]).path == "/job/pipeline-test2/1/wfapi/describe":
            stages.setdefault(("pipeline-test2", 1), []).append(row["data"])
    branch_jobs = [row["data"] for row in devlake_rows("jenkins", "jobs_multibranch")]

    def folder(name: str, cls: str = FOLDER_CLASS) -> dict:
        return {"_class": cls, "name": name.rsplit("/", 1)[-1], "fullName": name, "jobs": []}

    def job(data: dict) -> dict:
        # The recorded listing did not ask for lastBuild; Jenkins answers it from the job's builds.
        return {**data, "lastBuild": {"number": max(b["number"] for b in builds[data["fullName"]])}}

    listings = {
        "": [folder("Test-jenkins-dir"), job({"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
                                              "name": "pipeline-test2", "fullName": "pipeline-test2"}),
             folder("github_org")],
        "Test-jenkins-dir": [folder("Test-jenkins-dir/test-jenkins-sub-dir")],
        "Test-jenkins-dir/test-jenkins-sub-dir": [folder("Test-jenkins-dir/test-jenkins-sub-dir/test-sub-sub-dir")],
        "Test-jenkins-dir/test-jenkins-sub-dir/test-sub-sub-dir": [
            job({"_class": "hudson.model.FreeStyleProject", "name": "devlake", "fullName": DEEP})],
        "github_org": [folder(MB, MULTIBRANCH)],
        MB: [job(j) for j in branch_jobs],
    }
    return {"builds": builds, "stages": stages, "listings": listings}


def routes(data):
    def full_name(path: str) -> str:
        return "/".join(re.findall(r"/job/([^/]+)", path))

    def api_json(q, m, base):
        name = full_name(m.group(1))
        if name in data["listings"]:
            return 200, {}, {"_class": "x", "jobs": data["listings"][name]}
        start, end = re.search(r"\{(\d+),(\d+)\}$", q["tree"]).groups()
        newest_first = sorted(data["builds"][name], key=lambda b: b["number"], reverse=True)
        return 200, {}, {"_class": "x", "allBuilds": newest_first[int(start):int(end)]}

    def describe(q, m, base):
        return 200, {}, {"id": m.group(2), "stages": data["stages"].get((full_name(m.group(1)), int(m.group(2))), [])}

    return [(r"((?:/job/[^/]+)*)/api/json", api_json), (r"((?:/job/[^/]+)+)/(\d+)/wfapi/describe", describe)]


@pytest.fixture(scope="module")
def loaded(recorded, tmp_path_factory):
    work = tmp_path_factory.mktemp("jenkins-contract")
    warehouse = work / "throughline.duckdb"
    with RoutesServer(routes(recorded)) as server:
        config = parse_config({"sources": [{
            "type": "jenkins", "name": "jk", "base_url": server.url, "auth": {"user": "u", "api_token": "t"},
            "options": {"page_size": PAGE, "backoff_seconds": 0},
        }]}, env={})
        with RawStore(warehouse) as store:
            for table in RAW_TABLES:
                store.ensure_table(table)
            results = {r.scope: r for r in jenkins.extract("builds", config.sources[0], store)}
            cursors = {job: store.get_cursor("jk", "builds", job) for job in results if job != "/"}
        requests = list(server.requests)
    run_dbt(["build", "--select", "staging.jenkins", "+int_jenkins__deployments"], warehouse, work)
    con = duckdb.connect(str(warehouse), read_only=True)
    yield {"results": results, "cursors": cursors, "requests": requests, "con": con}
    con.close()


def one(con, sql):
    return con.execute(sql).fetchall()[0][0]


def test_every_job_build_and_stage_arrives_once(loaded):
    con, results = loaded["con"], loaded["results"]
    # items: 4 folders + devlake + pipeline-test2 + the multibranch project + its 4 branch jobs
    assert one(con, "SELECT count(*) FROM raw.jenkins__jobs") == 11
    # 15 multibranch builds + 13 of devlake + 1 of pipeline-test2; 65 + 2 stages
    assert one(con, "SELECT count(*) FROM raw.jenkins__builds") == 29
    assert one(con, "SELECT count(*) FROM raw.jenkins__stages") == 67
    # devlake's 13 builds in ranges of 4: {0,4} {4,8} {8,12} {12,16} (the last one short); its #23 is a
    # pipeline run: one describe (no stages recorded)
    assert (results[DEEP].pages, results[DEEP].stats.requests) == (4, 4 + 1)
    # feature-2's 6 builds: {0,4} {4,8}, then a describe for each of its 6 pipeline runs
    assert (results[f"{MB}/feature-2"].pages, results[f"{MB}/feature-2"].stats.requests) == (2, 2 + 6)
    assert results[f"{MB}/feature-2"].child_records == {"stages": 20}  # #1 #2 #3 #6, 5 each; #4 #5 none


def test_state_is_the_highest_finished_build_below_the_oldest_running_one(loaded):
    assert loaded["cursors"] == {
        "pipeline-test2": "1",
        # finished up to #10005, but #27, #10001 and #10002 say `building`: held at 26
        DEEP: "26",
        f"{MB}/main": "4", f"{MB}/PR-2": "2", f"{MB}/feature-1": "3", f"{MB}/feature-2": "6",
    }


def test_staged_builds_and_stages(loaded):
    con = loaded["con"]
    main4 = con.execute(f"""SELECT build_number, is_pipeline, result, is_running, started_at, finished_at, sha, branch,
                                   repo FROM staging.stg_jenkins__builds WHERE build_id = '{MB}/main#4'""").fetchall()
    # timestamp 1711277551963 ms = 2024-03-24 10:52:31.963 UTC; duration 30415 ms -> 10:53:02.378
    assert main4 == [(4, True, "SUCCESS", False, datetime(2024, 3, 24, 10, 52, 31, 963000),
                      datetime(2024, 3, 24, 10, 53, 2, 378000), "c83ae02076382670e286ac2474b7a7327fc28cde", "main",
                      "gustavobini/devlake-jenkins")]
    deep11 = con.execute(f"""SELECT sha, branch, repo, cause FROM staging.stg_jenkins__builds
                             WHERE build_id = '{DEEP}#11'""").fetchall()
    assert deep11 == [("ceeffdfdd06bce232f9adb3a656265bad13a8473", "main", "merico-dev/lake", "Started by user abc")]
    running = con.execute("""SELECT build_number FROM staging.stg_jenkins__builds
                             WHERE is_running ORDER BY 1""").fetchall()
    assert running == [(27,), (10001,), (10002,)]
    assert one(con, f"SELECT finished_at FROM staging.stg_jenkins__builds WHERE build_id = '{DEEP}#27'") is None
    results = con.execute(f"""SELECT result, count(*) FROM staging.stg_jenkins__builds
                              WHERE job_full_name = '{DEEP}' GROUP BY 1 ORDER BY 1""").fetchall()
    assert results == [("ABORTED", 1), ("FAILURE", 1), ("NOT_BUILD", 1), ("SUCCESS", 9), ("UNSTABLE", 1)]
    statuses = con.execute("SELECT status, count(*) FROM staging.stg_jenkins__stages GROUP BY 1 ORDER BY 1").fetchall()
    # aborted: PR-2 #1 and feature-2 #6, 4 stages each after a successful checkout; the rest succeeded
    assert statuses == [("ABORTED", 8), ("SUCCESS", 59)]
    jobs = con.execute("""SELECT count(*) FILTER (WHERE is_folder), count(*) FILTER (WHERE NOT is_folder)
                          FROM staging.stg_jenkins__jobs""").fetchall()
    assert jobs == [(5, 6)]


def test_deploy_stages_become_deployments(loaded):
    con = loaded["con"]
    rows = con.execute("""SELECT service, status, count(*) FROM intermediate.int_jenkins__deployments
                          GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    # The stage `deploy` of every build that reached it (13); no job name matches the default job_pattern.
    # No environment in the name: the default, production. ABORTED (PR-2 #1, feature-2 #6) is unknown.
    assert rows == [(f"{MB}/PR-2", "success", 1), (f"{MB}/PR-2", "unknown", 1),
                    (f"{MB}/feature-1", "success", 3),
                    (f"{MB}/feature-2", "success", 3), (f"{MB}/feature-2", "unknown", 1),
                    (f"{MB}/main", "success", 4)]
    assert one(con, "SELECT count(*) FROM intermediate.int_jenkins__deployments "
                    "WHERE NOT is_production OR environment <> 'production'") == 0
    main4 = con.execute(f"""SELECT sha, ref, repo, started_at, finished_at FROM intermediate.int_jenkins__deployments
                            WHERE deployment_id = '{MB}/main#4:28'""").fetchall()
    # deploy stage: start 1711277578791 ms = 2024-03-24 10:52:58.791, 3551 ms long
    assert main4 == [("c83ae02076382670e286ac2474b7a7327fc28cde", "main", "gustavobini/devlake-jenkins",
                      datetime(2024, 3, 24, 10, 52, 58, 791000), datetime(2024, 3, 24, 10, 53, 2, 342000))]
