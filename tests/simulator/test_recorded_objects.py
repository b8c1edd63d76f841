"""Recorded real Jira issues (DevLake fixtures) load into an Org and come back out unchanged."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from simulator import Org, SimulatorServer

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "devlake" / "jira"


def rows(name: str) -> list[dict]:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"recorded fixtures not found at {path} (they live in ../shared beside the project)")
    csv.field_size_limit(1 << 30)
    with path.open(newline="", encoding="utf-8") as handle:
        return [json.loads(row["data"]) for row in csv.DictReader(handle)]


def test_recorded_issues_are_served_as_recorded(http):
    org = Org()
    for status in rows("_raw_jira_api_status.csv"):
        org.jira_load_status(status)
    recorded = rows("_raw_jira_api_issues.csv")
    unique = {issue["id"]: issue for issue in recorded}
    for issue in unique.values():
        org.jira_load_issue(issue)
    with SimulatorServer(org) as sim:
        served, token = [], None
        while True:
            params = {"jql": "project in (EE, K5)", "fields": "*all", "expand": "changelog", "maxResults": 10}
            if token:
                params["nextPageToken"] = token
            body = http.get(sim.url + "/jira/rest/api/3/search/jql", params=params).json()
            served.extend(body["issues"])
            token = body.get("nextPageToken")
            if body["isLast"]:
                break
        assert len(served) == len(unique)
        for issue in served:
            original = unique[issue["id"]]
            assert issue["fields"] == original["fields"]
            # Jira's own order: newest first, as recorded.
            assert issue["changelog"]["histories"] == original["changelog"]["histories"]
        statuses = http.get(sim.url + "/jira/rest/api/3/status").json()
        assert any(s["name"] == "已完成" for s in statuses)
