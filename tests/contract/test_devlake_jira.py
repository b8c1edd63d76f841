"""Recorded Jira objects (projects, fields, sprints, statuses, issues with links) in their real page
envelopes, through the connector and then through the staging views, checked against the fixtures."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

from urllib.parse import parse_qs, urlparse

import duckdb
import pytest

from connectors import jira
from connectors.config import parse_config
from connectors.core.raw import RawStore
from tests.dbt.warehouse import RAW_TABLES, run_dbt
from tests.support.devlake import FIXTURES, devlake_rows
from connectors.kit import ApiServer as RoutesServer

BOARD = 8  # every recorded sprint was read from board 8 (project EE)
SPRINT_PAGE = 20  # the agile API caps sprint pages; 30 sprints need two
LINKED_PROJECT = "DZFNK0168"  # the recorded issues with links belong to this Data Center project
GONE = "DZFNK0168-3"  # deleted before the reconciliation run (it has no links)


def recorded_fields() -> list[dict]:
    # The recorded /field file starts with an empty line before its header, unlike the other files.
    path = FIXTURES / "jira" / "_raw_jira_api_issue_fields.csv"
    if not path.exists():
        pytest.skip(f"recorded fixtures not found at {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    return [json.loads(row["data"]) for row in csv.DictReader(lines)]


@pytest.fixture(scope="module")
def recorded():
    return {
        "projects": [r["data"] for r in devlake_rows("jira", "projects")],
        "sprints": [r["data"] for r in devlake_rows("jira", "sprints")],
        "statuses": [r["data"] for r in devlake_rows("jira", "status")],
        "issues": [r["data"] for r in devlake_rows("jira", "issue_relationships")],
        "fields": recorded_fields(),
    }


def routes(objects: dict, live_issues: list[dict], sent: list[str]):
    def offset_page(items, q, cap, *, total):
        start, size = int(q.get("startAt", 0)), min(int(q.get("maxResults", 50)), cap)
        body = {"maxResults": size, "startAt": start, "isLast": start + size >= len(items),
                "values": items[start : start + size]}
        if total:
            body["total"] = len(items)
        return 200, {}, body

    def project_search(q, m, b):
        # Atlassian documents repeated `keys=A&keys=B`; the route table keeps one value per name, so
        # read them from the request line (the connector asks one request at a time).
        keys = set(parse_qs(urlparse(sent[-1]).query).get("keys", []))
        return offset_page([p for p in objects["projects"] if p["key"] in keys], q, 50, total=True)

    def boards(q, m, b):
        found = [{"id": BOARD, "name": "EE board", "type": "scrum", "location": {"projectKey": "EE"}}]
        return offset_page(found if q.get("projectKeyOrId") == "EE" else [], q, 50, total=True)

    def search(q, m, b):
        # One page: the recorded issues come from one board page; `fields=id` is the keys-only search.
        issues = live_issues if "fields" not in q or q["fields"] != "id" else [
            {"id": i["id"], "key": i["key"]} for i in live_issues]
        return 200, {}, {"issues": issues, "isLast": True}

    return [
        (r"/rest/api/3/myself", lambda q, m, b: (200, {}, {"accountId": "x", "timeZone": "Asia/Shanghai"})),
        (r"/rest/api/3/field", lambda q, m, b: (200, {}, objects["fields"])),
        (r"/rest/api/3/status", lambda q, m, b: (200, {}, objects["statuses"])),
        (r"/rest/api/3/project/search", project_search),
        (r"/rest/agile/1.0/board", boards),
        (rf"/rest/agile/1.0/board/{BOARD}/sprint", lambda q, m, b: offset_page(objects["sprints"], q, SPRINT_PAGE, total=False)),
        (r"/rest/api/3/search/jql", search),
    ]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, recorded):
    work = tmp_path_factory.mktemp("jira_contract")
    path = work / "throughline.duckdb"
    projects = [p["key"] for p in recorded["projects"]]
    live = list(recorded["issues"])
    sent: list[str] = []
    server = RoutesServer(routes(recorded, live, sent))
    server.requests = sent
    results = {}
    with server:
        config = parse_config({"sources": [{
            "type": "jira", "name": "merico", "base_url": server.url,
            "auth": {"email": "a@b.c", "api_token": "t"}, "scope": {"projects": projects},
            "options": {"backoff_seconds": 0},
        }]}, env={})
        linked = config.sources[0].model_copy(update={"scope": config.sources[0].scope.model_copy(
            update={"projects": [LINKED_PROJECT]})})
        with RawStore(path) as store:
            for table in RAW_TABLES:
                store.ensure_table(table)
            results["projects"] = jira.extract("projects", config.sources[0], store)
            results["statuses"] = jira.extract("statuses", config.sources[0], store)
            first = datetime(2023, 8, 1, tzinfo=UTC)
            results["issues"] = jira.extract("issues", linked, store, now=first)
            live[:] = [i for i in live if i["key"] != GONE]
            results["reconciled"] = jira.extract("issues", linked, store, now=first + timedelta(days=7))
        requests = list(server.requests)
    run_dbt(["build"], path, work)
    return path, results, requests


def query(path, sql):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_projects_arrive_whole_and_stage_with_their_style(warehouse, recorded):
    path, results, requests = warehouse
    projects = recorded["projects"]
    assert results["projects"][0].records == len(projects) == 12
    [search] = [r for r in requests if r.startswith("/rest/api/3/project/search")]
    assert parse_qs(urlparse(search).query)["keys"] == [p["key"] for p in projects]
    staged = dict(query(path, "SELECT project_key, is_team_managed FROM staging.stg_jira__projects"))
    assert staged == {p["key"]: p["style"] == "next-gen" for p in projects}
    assert sum(staged.values()) == 6  # DEV, DTM, DET, HEAP, HEP and ROAD are team-managed


def test_fields_keep_their_names_in_any_language(warehouse, recorded):
    path, _, _ = warehouse
    staged = query(path, "SELECT field_id, field_name, is_custom, custom_type FROM staging.stg_jira__fields ORDER BY 1")
    assert staged == sorted((f["id"], f["name"], f["custom"], f["schema"]["custom"]) for f in recorded["fields"])
    assert ("customfield_10315", "cu用户单选") in [(r[0], r[1]) for r in staged]


def test_sprints_arrive_across_pages_with_dates_and_state(warehouse, recorded):
    path, results, requests = warehouse
    sprints = recorded["sprints"]
    ee_boards = [r for r in results["projects"] if r.table == "jira__boards" and r.scope == "EE"]
    assert ee_boards[0].child_records == {"sprints": len(sprints)} == {"sprints": 30}
    assert sum(f"/board/{BOARD}/sprint" in r for r in requests) == 2  # 30 sprints in pages of 20
    staged = query(path, """SELECT sprint_id, sprint_name, sprint_state, sprint_goal, origin_board_id,
                                   started_at, planned_end_at, completed_at FROM staging.stg_jira__sprints""")
    assert len(staged) == 30
    assert Counter(r[2] for r in staged) == Counter(s["state"] for s in sprints) == Counter({"closed": 30})
    by_id = {r[0]: r for r in staged}
    assert by_id["7"][1:] == ("EE Sprint 7", "closed", None, "8", datetime(2020, 6, 12, 0, 38, 51, 882000),
                              datetime(2020, 6, 26, 0, 38), datetime(2020, 6, 22, 5, 59, 58, 980000))
    # "Emma Sprint 1" was created on board 13 and is listed on board 8 too
    assert by_id["15"][4] == "13"


def test_statuses_stage_with_their_categories(warehouse, recorded):
    path, _, _ = warehouse
    statuses = recorded["statuses"]
    staged = query(path, "SELECT status_id, status_name, status_category_key FROM staging.stg_jira__statuses")
    assert sorted(staged) == sorted((str(s["id"]), s["name"], s["statusCategory"]["key"]) for s in statuses)
    assert len(staged) == 53
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in name) for _, name, _ in staged)


def test_issue_links_stage_from_both_sides(warehouse, recorded):
    path, _, _ = warehouse
    expected = sorted(
        (issue["key"], link["id"], link["type"]["name"], "outward" if "outwardIssue" in link else "inward",
         link["type"]["outward"] if "outwardIssue" in link else link["type"]["inward"],
         (link.get("outwardIssue") or link.get("inwardIssue"))["key"])
        for issue in recorded["issues"] for link in issue["fields"].get("issuelinks", [])
    )
    staged = query(path, """SELECT issue_key, link_id, link_type, direction, relationship, other_issue_key
                            FROM staging.stg_jira__issue_links ORDER BY ALL""")
    assert staged == expected
    assert len(staged) == 16
    # link 10111 (DZFNK0168-5 blocks DZFNK0168-1) is seen from both ends
    assert [r for r in staged if r[1] == "10111"] == [
        ("DZFNK0168-1", "10111", "Blocks", "inward", "is blocked by", "DZFNK0168-5"),
        ("DZFNK0168-5", "10111", "Blocks", "outward", "blocks", "DZFNK0168-1"),
    ]


def test_a_deleted_issue_is_tombstoned_and_leaves_staging_and_the_marts(warehouse, recorded):
    path, results, requests = warehouse
    assert [r.table for r in results["reconciled"]] == ["jira__issues", "jira__deleted_issues"]
    assert results["reconciled"][-1].records == 1
    assert query(path, "SELECT issue_key, project_key FROM staging.stg_jira__deleted_issues") == [
        (GONE, LINKED_PROJECT)]
    total = len(recorded["issues"])
    assert query(path, "SELECT count(*) FROM raw.jira__issues") == [(total,)]
    assert query(path, "SELECT count(*), count(*) FILTER (WHERE issue_key = 'DZFNK0168-3') "
                       "FROM staging.stg_jira__issues") == [(total - 1, 0)]
    assert query(path, "SELECT count(*) FROM marts.work_items") == [(total - 1,)]
    assert sum("fields=id" in r for r in requests) == 1  # one keys-only search for the one project
