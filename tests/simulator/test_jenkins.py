"""The Jenkins mount: the instance derived from the Org, the tree parameter and its ranges, auth and faults.

tiny_org's acme/checkout has five GitHub deployments (scenarios.py); Jenkins shows them as builds #1-#5 of
acme/checkout/main, each starting 4 minutes (10 s + 90 s + 140 s of Checkout SCM, Build, Test) before its
deployment was created, its deploy stage running from the deployment's creation to its final status.
"""

from __future__ import annotations

import pytest

from simulator import SimulatorServer, tiny_org
from simulator.jenkins_api import FOLDER, FREESTYLE_JOB, MULTIBRANCH, PIPELINE_JOB, apply_tree, parse_tree
from connectors.kit.http import ApiError
from simulator.timefmt import parse_ms

AUTH = ("bot", "s3cret")
MAIN = "/jenkins/job/acme/job/checkout/job/main"


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), mount_options={"jenkins": {"users": {"bot": "s3cret"}}}) as server:
        yield server


def get(sim, http, path, **params):
    return http.get(sim.url + path, params=params, auth=AUTH)


def test_folders_are_listed_one_level_at_a_time_and_filtered_by_tree(sim, http):
    root = get(sim, http, "/jenkins/api/json", tree="jobs[name,fullName,jobs[name]]").json()
    assert root == {"_class": "hudson.model.Hudson", "jobs": [
        {"_class": "jenkins.branch.OrganizationFolder", "name": "acme", "fullName": "acme",
         "jobs": [{"_class": MULTIBRANCH, "name": "checkout"}]}]}
    project = get(sim, http, "/jenkins/job/acme/job/checkout/api/json", tree="jobs[fullName,color,lastBuild[number]]")
    # build #5 (deployment 105) succeeded last: a blue ball
    assert project.json()["jobs"] == [{"_class": PIPELINE_JOB, "fullName": "acme/checkout/main", "color": "blue",
                                       "lastBuild": {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                                                     "number": 5}}]


def test_all_builds_newest_first_in_ranges_with_the_git_action(sim, http):
    tree = "allBuilds[number,result,timestamp,duration,building,actions[lastBuiltRevision[SHA1,branch[name]]]]"
    first = get(sim, http, MAIN + "/api/json", tree=tree + "{0,2}").json()["allBuilds"]
    second = get(sim, http, MAIN + "/api/json", tree=tree + "{2,4}").json()["allBuilds"]
    rest = get(sim, http, MAIN + "/api/json", tree=tree + "{4,}").json()["allBuilds"]
    assert [b["number"] for b in first + second + rest] == [5, 4, 3, 2, 1]
    assert [b["result"] for b in first + second + rest] == ["SUCCESS", "SUCCESS", "FAILURE", "SUCCESS", "SUCCESS"]
    one = rest[0]
    # deployment 101: created 2026-01-05T15:00Z, success at 15:10Z; the build starts at 14:56 and lasts 14 min
    assert one["timestamp"] == parse_ms("2026-01-05T14:56:00Z") and one["duration"] == 14 * 60_000
    git = [a for a in one["actions"] if "lastBuiltRevision" in a]
    assert git == [{"_class": "hudson.plugins.git.util.BuildData",
                    "lastBuiltRevision": {"SHA1": sim.org.repos["acme/checkout"].deployments[101]["sha"],
                                          "branch": [{"name": "main"}]}}]
    assert "remoteUrls" not in git[0]  # not asked for in the tree


def test_wfapi_describe_has_the_stages_of_pipeline_runs_only(sim, http):
    run = get(sim, http, MAIN + "/3/wfapi/describe").json()
    # deployment 103: production, created 2026-01-07T15:00Z, failure at 15:20Z
    assert run["status"] == "FAILED"
    assert [(s["name"], s["status"]) for s in run["stages"]] == [
        ("Checkout SCM", "SUCCESS"), ("Build", "SUCCESS"), ("Test", "SUCCESS"), ("Deploy to production", "FAILED")]
    deploy = run["stages"][-1]
    assert deploy["startTimeMillis"] == parse_ms("2026-01-07T15:00:00Z") and deploy["durationMillis"] == 20 * 60_000
    assert deploy["error"]["type"] == "hudson.AbortException"
    assert get(sim, http, MAIN + "/2/wfapi/describe").json()["stages"][-1]["name"] == "Deploy to staging"

    jenkins = sim.mounts["jenkins"]
    jenkins.add_item("ops", FOLDER)
    jenkins.add_item("ops/backup", FREESTYLE_JOB)
    jenkins.add_build("ops/backup", timestamp_ms=0, duration_ms=1000, result="SUCCESS")
    assert get(sim, http, "/jenkins/job/ops/job/backup/1/wfapi/describe").status_code == 404
    assert get(sim, http, "/jenkins/job/ops/job/backup/1/api/json").json()["result"] == "SUCCESS"


def test_a_branch_with_a_slash_is_encoded_twice_in_its_url(sim, http):
    jenkins = sim.mounts["jenkins"]
    jenkins.add_item("acme/checkout/feature%2Fcart", PIPELINE_JOB)
    jenkins.add_build("acme/checkout/feature%2Fcart", timestamp_ms=0, duration_ms=None, result=None)
    build = get(sim, http, "/jenkins/job/acme/job/checkout/job/feature%252Fcart/api/json",
                tree="allBuilds[number,building,result]").json()["allBuilds"]
    assert build == [{"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": 1, "building": True,
                      "result": None}]
    assert get(sim, http, "/jenkins/job/acme/job/checkout/job/nope/api/json").status_code == 404


def test_running_builds_can_finish(sim, http):
    jenkins = sim.mounts["jenkins"]
    jenkins.add_build("acme/checkout/main", timestamp_ms=1000, duration_ms=None, result=None,
                      stages=[("Deploy to production", "IN_PROGRESS", 2000, 0)])
    assert get(sim, http, MAIN + "/6/wfapi/describe").json()["status"] == "IN_PROGRESS"
    jenkins.finish_build("acme/checkout/main", 6, "SUCCESS", 60_000)
    stage = get(sim, http, MAIN + "/6/wfapi/describe").json()["stages"][0]
    assert (stage["status"], stage["durationMillis"]) == ("SUCCESS", 59_000)


def test_bad_or_missing_credentials(sim, http):
    wrong = http.get(sim.url + "/jenkins/api/json", auth=("bot", "nope"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == 'Basic realm="Jenkins"'
    assert "Invalid password/token for user: bot" in wrong.text
    anonymous = http.get(sim.url + "/jenkins/api/json")
    assert anonymous.status_code == 403 and anonymous.headers["X-You-Are-Authenticated-As"] == "anonymous"


def test_faults_answer_as_jenkins_or_its_proxy(sim, http):
    sim.faults.add(r"^/jenkins/", "rate_limit", times=1, retry_after=7)
    sim.faults.add(r"^/jenkins/", "rate_limit", times=1, retry_after=None)
    sim.faults.add(r"^/jenkins/", "server_error", times=1, status=503)
    sim.faults.add(r"^/jenkins/", "server_error", times=1)
    sim.faults.add(r"^/jenkins/", "unauthorized", times=1)
    answers = [get(sim, http, "/jenkins/api/json") for _ in range(6)]
    assert [a.status_code for a in answers] == [429, 429, 503, 500, 401, 200]
    assert answers[0].headers["Retry-After"] == "7" and "Retry-After" not in answers[1].headers
    assert "getting ready" in answers[2].text and answers[2].headers["Retry-After"] == "1"
    assert answers[3].headers["Content-Type"].startswith("text/html")


def test_tree_expressions():
    spec = parse_tree("jobs[name,lastBuild[number]]{1,},x")
    value = {"_class": "R", "x": 1, "y": 2, "jobs": [{"name": "a"}, {"_class": "J", "name": "b", "z": 0,
                                                               "lastBuild": {"number": 3, "url": "u"}}]}
    assert apply_tree(value, spec) == {"_class": "R", "x": 1,
                                       "jobs": [{"_class": "J", "name": "b", "lastBuild": {"number": 3}}]}
    assert apply_tree({"l": [1, 2, 3, 4]}, parse_tree("l{,2}")) == {"l": [1, 2]}
    assert apply_tree({"l": [1, 2, 3, 4]}, parse_tree("l{2}")) == {"l": [3]}
    for bad in ("jobs[name", "jobs{1", "jobs{}", ",x"):
        with pytest.raises(ApiError):
            parse_tree(bad)
