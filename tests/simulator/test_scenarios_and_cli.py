"""tiny_org holds exactly the documented history; the command line starts, announces and stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from simulator import tiny_org

ROOT = Path(__file__).resolve().parents[2]


def status_path(org, key: str) -> list[tuple[str, str]]:
    return [(h["created"], item["toString"]) for h in org.jira_histories(key) for item in h["items"]
            if item["field"] == "status"]


def test_tiny_jira_facts():
    org = tiny_org()
    assert [(s["name"], s["id"], s["statusCategory"]["key"]) for s in org.jira_statuses] == [
        ("To Do", "1", "new"), ("In Progress", "3", "indeterminate"), ("Blocked", "10001", "indeterminate"),
        ("In Review", "10002", "indeterminate"), ("Done", "10003", "done"), ("Won't Do", "10004", "done")]
    assert org.jira_projects["FLOW"]["id"] == "10000"
    t = "2026-01-{}:00:00.000+0000".format
    expected = {
        "FLOW-1": ("Story", t("05T09"), [(t("06T09"), "In Progress"), (t("08T09"), "In Review"), (t("09T09"), "Done")]),
        "FLOW-2": ("Bug", t("05T10"), [(t("07T10"), "In Progress"), (t("08T10"), "Blocked"),
                                       (t("10T10"), "In Progress"), (t("12T10"), "Done")]),
        "FLOW-3": ("Story", t("06T08"), [(t("07T08"), "In Progress"), (t("08T08"), "Done"),
                                         (t("09T08"), "In Progress"), (t("13T08"), "Done")]),
        "FLOW-4": ("Task", t("07T12"), [(t("08T12"), "In Progress")]),
        "FLOW-5": ("Story", t("07T12"), [(t("09T12"), "Won't Do")]),
    }
    assert sorted(i["key"] for i in org.jira_issues.values()) == sorted(expected)
    for key, (issue_type, created, moves) in expected.items():
        fields = org.jira_issue(key)["fields"]
        assert fields["issuetype"]["name"] == issue_type and fields["created"] == created
        assert status_path(org, key) == moves
        assert fields["updated"] == moves[-1][0]
        assert fields["status"]["name"] == moves[-1][1]
        done = moves[-1][1] in ("Done", "Won't Do")
        assert fields["resolutiondate"] == (moves[-1][0] if done else None)
    assert org.jira_issue("FLOW-5")["fields"]["resolution"]["name"] == "Won't Do"
    assert [org.jira_issue(f"FLOW-{n}")["id"] for n in range(1, 6)] == [str(10000 + n) for n in range(1, 6)]


def test_tiny_github_facts():
    org = tiny_org()
    store = org.repos["acme/checkout"]
    assert store.repo["default_branch"] == "main"
    deployments = [(d["id"], d["environment"], d["created_at"]) for d in store.deployments.values()]
    assert deployments == [
        (101, "production", "2026-01-05T15:00:00Z"), (102, "staging", "2026-01-06T15:00:00Z"),
        (103, "production", "2026-01-07T15:00:00Z"), (104, "production", "2026-01-08T15:00:00Z"),
        (105, "production", "2026-01-13T15:00:00Z")]
    finals = {i: (s[-1]["state"], s[-1]["created_at"]) for i, s in store.deployment_statuses.items()}
    assert finals == {101: ("success", "2026-01-05T15:10:00Z"), 102: ("success", "2026-01-06T15:05:00Z"),
                      103: ("failure", "2026-01-07T15:20:00Z"), 104: ("success", "2026-01-08T15:10:00Z"),
                      105: ("success", "2026-01-13T15:10:00Z")}
    assert all(s[0]["state"] == "in_progress" for s in store.deployment_statuses.values())
    pulls = {n: (p["title"], p["created_at"], p["merged_at"], p["state"]) for n, p in store.pulls.items()}
    assert pulls == {1: ("FLOW-1 add cart", "2026-01-06T10:00:00Z", "2026-01-08T12:00:00Z", "closed"),
                     2: ("FLOW-2 fix tax", "2026-01-10T11:00:00Z", "2026-01-12T09:00:00Z", "closed"),
                     3: ("FLOW-4 wip", "2026-01-08T13:00:00Z", None, "open")}
    assert all(p["title"].split()[0] in p["body"] for p in store.pulls.values())
    assert store.deployments[104]["sha"] == store.pulls[1]["merge_commit_sha"]
    assert store.deployments[105]["sha"] == store.pulls[2]["merge_commit_sha"]
    runs = sorted(store.runs.values(), key=lambda r: r["id"])
    assert [(r["head_sha"], r["conclusion"], r["head_branch"]) for r in runs] == [
        (store.deployments[101]["sha"], "success", "main"), (store.deployments[103]["sha"], "failure", "main"),
        (store.deployments[104]["sha"], "success", "main")]


def test_tiny_is_stable_between_calls():
    a, b = tiny_org(), tiny_org()
    assert a.jira_issues == b.jira_issues and a.jira_changelogs == b.jira_changelogs
    assert a.repos["acme/checkout"].pulls == b.repos["acme/checkout"].pulls


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_command_line_announces_its_url_and_stops_on_signals(tmp_path, sig):
    url_file = tmp_path / "url"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--scenario", "tiny",
         "--url-file", str(url_file)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # As if started with `&` from a script: SIGINT ignored unless the program installs a handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("simulator listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        deadline = time.monotonic() + 10
        while not url_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert url_file.read_text().strip() == url
        assert requests.get(url + "/jira/rest/api/3/myself", timeout=5).status_code == 200
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_command_line_serves_the_history_of_an_as_of_day(tmp_path):
    url_file = tmp_path / "url"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--as-of", "2026-12-04", "--url-file", str(url_file)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        sprints = requests.get(url + "/jira/rest/agile/1.0/board/1/sprint", params={"state": "active"},
                               timeout=5).json()["values"]
        # two-week sprints from Monday 2026-06-08 (the first Monday of the 26 weeks before 12-04): the 13th
        assert [(s["name"], s["startDate"]) for s in sprints] == [("PAY Sprint 13", "2026-11-23T09:00:00.000Z")]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_command_line_rejects_an_as_of_that_is_not_a_date():
    done = subprocess.run([sys.executable, "-m", "simulator", "--as-of", "2026-13-01"], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--as-of wants a date as YYYY-MM-DD, not '2026-13-01'" in done.stderr
