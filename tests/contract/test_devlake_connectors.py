"""Real recorded Jira and GitHub objects, re-wrapped in each endpoint's page envelope, through the connectors."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest

from connectors import github, jira
from connectors.config import parse_config
from connectors.core.endpoint import format_cursor, parse_timestamp
from connectors.core.raw import RawStore
from tests.support.devlake import devlake_rows
from connectors.kit import ApiServer as RoutesServer

# The recorded changelog pages belong to three issues that are not among the recorded board
# issues; stand-ins carry the first TRUNCATED histories so the connector must read the rest (bulkfetch).
TRUNCATED = 20
CHANGELOG_PAGE = 50


def jira_routes(issues: list[dict], changelogs: dict[str, list[dict]]):
    def search(q, m, base):
        size = int(q.get("maxResults", 50))
        start = int(q.get("nextPageToken", 0))
        page = issues[start : start + size]
        body = {"issues": page, "isLast": start + size >= len(issues)}
        if not body["isLast"]:
            body["nextPageToken"] = str(start + size)
        return 200, {}, body

    def bulkfetch(q, m, base):
        # Jira Cloud's POST /changelog/bulkfetch: the asked issues' histories oldest first (then by issue id),
        # grouped per issue within a page, paged by nextPageToken; this server caps a page at CHANGELOG_PAGE.
        ordered = sorted(((parse_timestamp(h["created"]), int(i), h) for i in q["issueIdsOrKeys"]
                          for h in changelogs.get(str(i), [])), key=lambda t: t[:2])
        start, size = int(q.get("nextPageToken") or 0), min(int(q.get("maxResults", 1000)), CHANGELOG_PAGE)
        groups: dict[str, list[dict]] = {}
        for _, issue_id, history in ordered[start:start + size]:
            groups.setdefault(str(issue_id), []).append(history)
        body = {"issueChangeLogs": [{"issueId": i, "changeHistories": h} for i, h in groups.items()]}
        if start + size < len(ordered):
            body["nextPageToken"] = str(start + size)
        return 200, {}, body

    return [
        (r"/rest/api/3/myself", lambda q, m, b: (200, {}, {"accountId": "x", "timeZone": "Asia/Shanghai"})),
        # The recorded /field list names no story points or epic link field (test_devlake_jira reads it).
        (r"/rest/api/3/field", lambda q, m, b: (200, {}, [])),
        (r"/rest/api/3/search/jql", search),
        (r"/rest/api/3/changelog/bulkfetch", bulkfetch),
        (r"/rest/api/3/status", lambda q, m, b: (200, {}, [r["data"] for r in devlake_rows("jira", "status")])),
    ]


@pytest.fixture(scope="module")
def jira_objects():
    issues = [r["data"] for r in devlake_rows("jira", "issues")]
    changelogs: dict[str, list[dict]] = defaultdict(list)
    for row in devlake_rows("jira", "issue_changelogs"):
        changelogs[re.search(r"/issue/(\d+)/changelog", row["url"]).group(1)].append(row["data"])
    stand_ins = [
        {"id": issue_id, "key": f"EE-{issue_id}", "fields": {"updated": "2022-06-01T00:00:00.000+0800"},
         "changelog": {"startAt": 0, "maxResults": TRUNCATED, "total": len(h), "histories": h[:TRUNCATED]}}
        for issue_id, h in changelogs.items()
    ]
    return issues + stand_ins, dict(changelogs)


def test_jira_issues_statuses_and_every_changelog_entry_arrive_once(tmp_path, jira_objects):
    issues, changelogs = jira_objects
    with RoutesServer(jira_routes(issues, changelogs)) as server:
        config = parse_config({"sources": [{
            "type": "jira", "name": "merico", "base_url": server.url,
            "auth": {"email": "a@b.c", "api_token": "t"}, "scope": {"projects": ["EE"]},
            "options": {"page_size": 10, "backoff_seconds": 0},
        }]}, env={})
        source = config.sources[0]
        with RawStore(tmp_path / "w.duckdb") as store:
            [issues_result] = jira.extract("issues", source, store)
            [statuses_result] = jira.extract("statuses", source, store)
            con = store.con
            raw_issues = con.execute("SELECT count(*), count(DISTINCT record_key) FROM raw.jira__issues").fetchall()[0]
            raw_histories = con.execute("SELECT count(*) FROM raw.jira__changelogs").fetchall()[0][0]
            per_parent = dict(con.execute(
                "SELECT parent_key, count(*) FROM raw.jira__changelogs WHERE parent_key IN ('13383','13954','13491') GROUP BY 1"
            ).fetchall())
            with_changelog = con.execute(
                "SELECT count(*) FROM raw.jira__issues WHERE json_exists(payload, '$.changelog')").fetchall()[0][0]
            statuses = con.execute("SELECT count(*) FROM raw.jira__statuses").fetchall()[0][0]
            cursor = store.get_cursor("merico", "issues", "EE")

    embedded = sum(len(i["changelog"]["histories"]) for i in issues[:33])
    assert raw_issues == (36, 36)
    assert per_parent == {"13383": 100, "13954": 100, "13491": 79}
    assert raw_histories == embedded + 279
    assert with_changelog == 0
    assert statuses == 53
    # 36 issues in pages of 10 = 4 requests; the 3 truncated changelogs (279 histories) in one bulkfetch
    # chain, capped at 50 a page: 6 pages
    assert issues_result.stats.requests == 4 + 6
    assert issues_result.child_records == {"changelogs": embedded + 279}
    assert statuses_result.records == 53
    # The cursor is the newest `updated` read, in UTC (recorded values carry +0800).
    assert cursor == format_cursor(max(parse_timestamp(i["fields"]["updated"]) for i in issues))
    assert cursor == "2022-07-15T22:31:38.612000Z"


def github_routes(pulls: list[dict], runs: list[dict]):
    def paged(items, q, base, path, envelope=None):
        size, page = int(q.get("per_page", 30)), int(q.get("page", 1))
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(items):
            headers["Link"] = f'<{base}{path}?per_page={size}&page={page + 1}>; rel="next"'
        return 200, headers, ({envelope: chunk, "total_count": len(items)} if envelope else chunk)

    return [
        (r"/repos/panjf2000/ants/pulls", lambda q, m, b: paged(pulls, q, b, "/repos/panjf2000/ants/pulls")),
        (r"/repos/panjf2000/ants/actions/runs",
         lambda q, m, b: paged(runs, q, b, "/repos/panjf2000/ants/actions/runs", "workflow_runs")),
        (r"/repos/panjf2000/ants/deployments", lambda q, m, b: (200, {}, [])),
        # Children of PRs and runs: tests/contract/test_devlake_github.py serves the recorded ones.
        (r"/repos/panjf2000/ants/pulls/\d+/(reviews|commits)", lambda q, m, b: (200, {}, [])),
        (r"/repos/panjf2000/ants/issues/\d+/timeline", lambda q, m, b: (200, {}, [])),
        (r"/repos/panjf2000/ants/actions/runs/\d+/jobs", lambda q, m, b: (200, {}, {"total_count": 0, "jobs": []})),
    ]


def test_github_pulls_and_runs_dedupe_on_id(tmp_path):
    pulls = sorted((r["data"] for r in devlake_rows("github", "pull_requests")), key=lambda p: p["updated_at"], reverse=True)
    runs = [r["data"] for r in devlake_rows("github", "runs")]
    with RoutesServer(github_routes(pulls, runs)) as server:
        config = parse_config({"sources": [{
            "type": "github", "name": "gh", "base_url": server.url, "auth": {"token": "t"},
            "scope": {"repos": ["panjf2000/ants"]}, "options": {"page_size": 20},
        }]}, env={})
        with RawStore(tmp_path / "w.duckdb") as store:
            [pr_result] = github.extract("pull_requests", config.sources[0], store)
            [run_result] = github.extract("workflow_runs", config.sources[0], store)
            counts = store.con.execute(
                "SELECT (SELECT count(*) FROM raw.github__pull_requests), (SELECT count(*) FROM raw.github__workflow_runs)"
            ).fetchall()[0]
            numbers = store.con.execute(
                "SELECT count(DISTINCT payload->>'$.number') FROM raw.github__pull_requests").fetchall()[0][0]
    assert counts == (49, 35)  # 50 recorded PR rows hold 49 distinct PRs
    assert numbers == 49
    # ceil(50/20) pages + reviews, commits and timeline per distinct PR (the duplicate row is one PR: its
    # newest copy is kept within the run and its children read once); ceil(35/20) pages + jobs per run
    assert pr_result.stats.requests == 3 + 3 * 49 and run_result.stats.requests == 2 + 35
    assert json.loads(json.dumps(pr_result.as_metadata()))["records"] == 49
