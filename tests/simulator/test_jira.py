"""Jira Cloud wire behaviour: enhanced search paging, JQL dates in the user's zone, changelog paging."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from simulator import SimulatorServer, tiny_org
from simulator.timefmt import parse_ms

SEARCH = "/jira/rest/api/3/search/jql"


def search_all(http, sim, jql: str, page: int = 100, **params) -> list[dict]:
    issues, token, pages = [], None, 0
    while True:
        query = {"jql": jql, "maxResults": page, **params}
        if token:
            query["nextPageToken"] = token
        response = http.get(sim.url + SEARCH, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "total" not in body
        issues.extend(body["issues"])
        pages += 1
        if body["isLast"]:
            assert "nextPageToken" not in body
            return issues
        token = body["nextPageToken"]
        assert pages < 10_000


def test_paging_walks_every_issue_once_in_updated_then_key_order(gen_sim, generated_org, http):
    issues = search_all(http, gen_sim, "project in (PAY, CHK, PLAT) ORDER BY updated ASC, key ASC", page=37,
                        fields="updated")
    ids = [i["id"] for i in issues]
    assert len(ids) == len(set(ids)) == len(generated_org.jira_issues)
    order = [(parse_ms(i["fields"]["updated"]), i["key"].split("-")[0], int(i["key"].split("-")[1]))
             for i in issues]
    assert order == sorted(order)


def test_descending_order_and_default_order(gen_sim, http):
    desc = search_all(http, gen_sim, "project = PAY ORDER BY updated DESC", page=50, fields="updated")
    default = search_all(http, gen_sim, "project = PAY", page=50, fields="updated")
    assert [i["id"] for i in desc] == [i["id"] for i in default][::-1]


def test_an_issue_updated_while_paging_is_seen_again_never_skipped(http):
    with SimulatorServer(tiny_org()) as sim:
        first = http.get(sim.url + SEARCH, params={"jql": "project = FLOW", "maxResults": 2}).json()
        returned = [i["key"] for i in first["issues"]]
        sim.org.jira_add_transition(returned[0], "Done", "2026-02-01T10:00Z")
        rest = search_all(http, sim, "project = FLOW", page=2, nextPageToken=first["nextPageToken"])
        keys = returned + [i["key"] for i in rest]
        assert sorted(set(keys)) == [f"FLOW-{n}" for n in range(1, 6)]
        assert keys[-1] == returned[0]


def test_fields_are_returned_only_when_asked(tiny_sim, http):
    bare = http.get(tiny_sim.url + SEARCH, params={"jql": "project = FLOW"}).json()["issues"][0]
    assert set(bare) == {"id", "key", "self"}
    some = http.get(tiny_sim.url + SEARCH, params={"jql": "project = FLOW", "fields": "summary,status"}).json()
    assert set(some["issues"][0]["fields"]) == {"summary", "status"}
    full = http.get(tiny_sim.url + SEARCH, params={"jql": "project = FLOW", "fields": "*all"}).json()
    for issue in full["issues"]:
        assert issue == tiny_sim.org.jira_issue(issue["key"])  # raw payload == ground truth
    minus = http.get(tiny_sim.url + SEARCH, params={"jql": "project = FLOW", "fields": "*all,-labels"}).json()
    assert "labels" not in minus["issues"][0]["fields"] and "status" in minus["issues"][0]["fields"]


def test_post_search_takes_the_same_parameters(tiny_sim, http):
    body = http.post(tiny_sim.url + SEARCH, json={"jql": "project = FLOW", "maxResults": 3,
                                                  "fields": ["summary"], "expand": "changelog"}).json()
    assert len(body["issues"]) == 3 and body["isLast"] is False
    assert set(body["issues"][0]["fields"]) == {"summary"} and "changelog" in body["issues"][0]


def test_page_size_is_capped(gen_sim, http):
    body = http.get(gen_sim.url + SEARCH, params={"jql": "project = CHK", "maxResults": 5000}).json()
    assert len(body["issues"]) == 100 and body["isLast"] is False


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        # FLOW-4 was last updated 2026-01-08T12:00Z, which is 07:00 in New York (EST, UTC-5).
        ("2026-01-08 07:00", {"FLOW-4", "FLOW-1", "FLOW-5", "FLOW-2", "FLOW-3"}),
        ("2026-01-08 07:01", {"FLOW-1", "FLOW-5", "FLOW-2", "FLOW-3"}),
        # A client that writes the UTC time into JQL asks for five hours later than it meant.
        ("2026-01-08 12:00", {"FLOW-1", "FLOW-5", "FLOW-2", "FLOW-3"}),
        ("2026/01/09 04:00", {"FLOW-1", "FLOW-5", "FLOW-2", "FLOW-3"}),  # FLOW-1: 09:00Z = 04:00 EST
        ("2026-01-09 04:01", {"FLOW-5", "FLOW-2", "FLOW-3"}),
        ("2026-01-12 05:00", {"FLOW-2", "FLOW-3"}),  # FLOW-2: 10:00Z = 05:00 EST
        ("2026-01-13", {"FLOW-3"}),  # a date alone is midnight in New York, 05:00Z
    ],
)
def test_jql_dates_are_read_in_the_users_time_zone(tiny_sim, http, literal, expected):
    assert http.get(tiny_sim.url + "/jira/rest/api/3/myself").json()["timeZone"] == "America/New_York"
    issues = search_all(http, tiny_sim, f'project = FLOW AND updated >= "{literal}" ORDER BY updated ASC')
    assert {i["key"] for i in issues} == expected


def test_jql_date_bounds_and_the_zone_setting(http):
    with SimulatorServer(tiny_org(), jira_time_zone="UTC") as sim:
        issues = search_all(http, sim,
                            'project = FLOW AND updated >= "2026-01-08 12:00" AND updated < "2026-01-12 10:00"')
        assert [i["key"] for i in issues] == ["FLOW-4", "FLOW-1", "FLOW-5"]
        issues = search_all(http, sim,
                            "project = FLOW AND updated > '2026-01-08 12:00' AND updated <= '2026-01-12 10:00'")
        assert [i["key"] for i in issues] == ["FLOW-1", "FLOW-5", "FLOW-2"]


def test_summer_time_applies_in_the_users_zone(gen_sim, generated_org, http):
    # An issue last updated in July, when New York is on EDT (UTC-4).
    issue = min((i for i in generated_org.jira_issues.values() if i["fields"]["updated"].startswith("2026-07-15")),
                key=lambda i: i["fields"]["updated"])
    project = issue["fields"]["project"]["key"]
    utc_minute = parse_ms(issue["fields"]["updated"]) // 60_000 * 60_000

    def keys_since(ms: int) -> set[str]:
        local = datetime.fromtimestamp(ms / 1000, tz=ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M")
        found = search_all(http, gen_sim, f'project = {project} AND updated >= "{local}"', fields="updated")
        return {i["key"] for i in found}

    assert issue["key"] in keys_since(utc_minute)
    assert issue["key"] not in keys_since(utc_minute + 60_000)


@pytest.mark.parametrize(
    ("jql", "status", "fragment"),
    [
        ("project = NOPE", 400, "does not exist for the field 'project'"),
        ("order by updated", 400, "Unbounded JQL"),
        ("project = FLOW OR project = FLOW", 400, "supports"),
        ("assignee = currentUser()", 400, "supports"),
        ('project = FLOW AND updated >= "2026-01-08 12:00:00"', 400, "Valid formats include"),
        ("project = FLOW ORDER BY created ASC", 400, "supports"),
    ],
)
def test_unsupported_or_invalid_jql_is_a_400_with_jira_error_shape(tiny_sim, http, jql, status, fragment):
    response = http.get(tiny_sim.url + SEARCH, params={"jql": jql})
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"errorMessages", "errors"} and fragment in body["errorMessages"][0]


def test_a_foreign_page_token_is_refused(tiny_sim, http):
    token = http.get(tiny_sim.url + SEARCH, params={"jql": "project = FLOW", "maxResults": 1}).json()["nextPageToken"]
    response = http.get(tiny_sim.url + SEARCH, params={"jql": "project = FLOW AND updated >= '2026-01-01'",
                                                       "nextPageToken": token})
    assert response.status_code == 400


def test_key_clause_and_project_by_name(tiny_sim, http):
    issues = search_all(http, tiny_sim, 'project = "Flow" AND key in (FLOW-3, FLOW-1, FLOW-99)')
    assert [i["key"] for i in issues] == ["FLOW-1", "FLOW-3"]


def test_embedded_changelog_is_truncated_to_the_newest_and_the_rest_is_paged(http):
    with SimulatorServer(tiny_org(), changelog_embed_limit=2) as sim:
        issue = http.get(sim.url + SEARCH, params={"jql": "key = FLOW-2", "expand": "changelog",
                                                   "fields": "status"}).json()["issues"][0]
        truth = sim.org.jira_histories("FLOW-2")
        embedded = issue["changelog"]
        assert (embedded["startAt"], embedded["maxResults"], embedded["total"]) == (0, 2, 4)
        assert embedded["histories"] == [truth[3], truth[2]]  # newest first, as Jira Cloud sends them
        paged, url = [], f"{sim.url}/jira/rest/api/3/issue/{issue['id']}/changelog?maxResults=1"
        while url:
            body = http.get(url).json()
            assert body["total"] == 4 and len(body["values"]) <= 1
            paged.extend(body["values"])
            url = body.get("nextPage")
            assert body["isLast"] is (url is None)
        assert paged == truth  # the changelog endpoint is oldest first


def test_embed_order_can_be_switched_to_oldest_first(http):
    with SimulatorServer(tiny_org(), changelog_embed_limit=2, changelog_embed_order="oldest_first") as sim:
        issue = http.get(sim.url + SEARCH, params={"jql": "key = FLOW-2", "expand": "changelog"}).json()["issues"][0]
        assert issue["changelog"]["histories"] == sim.org.jira_histories("FLOW-2")[:2]


def test_generated_long_changelogs_overflow_the_default_embed(gen_sim, generated_org, http):
    issue_id = max(generated_org.jira_changelogs, key=lambda i: len(generated_org.jira_changelogs[i]))
    truth = generated_org.jira_changelogs[issue_id]
    key = generated_org.jira_issues[issue_id]["key"]
    issue = http.get(gen_sim.url + SEARCH, params={"jql": f"key = {key}", "expand": "changelog"}).json()["issues"][0]
    assert issue["changelog"]["total"] == len(truth) > 100 == issue["changelog"]["maxResults"]
    first = http.get(f"{gen_sim.url}/jira/rest/api/3/issue/{key}/changelog", params={"maxResults": 500}).json()
    assert first["maxResults"] == 100 and first["values"] == truth[:100] and "nextPage" in first
    second = http.get(first["nextPage"]).json()
    assert second["values"] == truth[100:200] and second["startAt"] == 100


def test_changelog_of_an_unknown_issue_is_404(tiny_sim, http):
    response = http.get(tiny_sim.url + "/jira/rest/api/3/issue/FLOW-99/changelog")
    assert response.status_code == 404 and response.json()["errorMessages"]


def test_bulk_changelog_fetch_pages_and_filters(tiny_sim, http):
    url = tiny_sim.url + "/jira/rest/api/3/changelog/bulkfetch"
    request = {"issueIdsOrKeys": ["FLOW-1", "FLOW-2", "FLOW-3"], "fieldIds": ["status"], "maxResults": 4}
    seen = []
    while True:
        body = http.post(url, json=request).json()
        for log in body["issueChangeLogs"]:
            seen.extend((log["issueId"], h["id"]) for h in log["changeHistories"])
            assert all(item["fieldId"] == "status" for h in log["changeHistories"] for item in h["items"])
        if "nextPageToken" not in body:
            break
        request["nextPageToken"] = body["nextPageToken"]
    # Jira's order: by changelog date, then issue id (not issue by issue)
    dated = sorted((h["created"], int(tiny_sim.org.jira_issue(k)["id"]), n, h["id"])
                   for k in ("FLOW-1", "FLOW-2", "FLOW-3") for n, h in enumerate(tiny_sim.org.jira_histories(k)))
    assert seen == [(str(issue), history) for _, issue, _, history in dated]
    # 11 status histories, interleaved across the issues (FLOW-1's first, then FLOW-3's, then FLOW-2's)
    assert len(seen) == 11 and seen[:3] == [("10001", "100001"), ("10003", "100008"), ("10002", "100004")]


def test_bulk_changelog_fetch_refuses_more_than_1000_issues_as_jira_does(tiny_sim, http):
    url = tiny_sim.url + "/jira/rest/api/3/changelog/bulkfetch"
    response = http.post(url, json={"issueIdsOrKeys": [str(n) for n in range(1001)]})
    assert response.status_code == 400
    assert response.json() == {"errorMessages": ["issueIdsOrKeys must list between 1 and 1000 issue ids or keys."],
                               "errors": {}}


def test_reference_endpoints(tiny_sim, http):
    base = tiny_sim.url + "/jira"
    statuses = http.get(base + "/rest/api/3/status").json()
    assert {(s["name"], s["id"], s["statusCategory"]["key"]) for s in statuses} >= {
        ("To Do", "1", "new"), ("Won't Do", "10004", "done")}
    assert any(f["id"] == "customfield_10016" for f in http.get(base + "/rest/api/3/field").json())
    projects = http.get(base + "/rest/api/3/project/search", params={"maxResults": 1}).json()
    assert projects["values"][0]["key"] == "FLOW" and projects["isLast"] is True and projects["total"] == 1
    boards = http.get(base + "/rest/agile/1.0/board").json()
    assert boards["values"][0]["location"]["projectKey"] == "FLOW"
    sprints = http.get(f"{base}/rest/agile/1.0/board/{boards['values'][0]['id']}/sprint").json()
    assert sprints == {"self": sprints["self"], "maxResults": 50, "startAt": 0, "isLast": True, "values": []}
    assert http.get(base + "/rest/agile/1.0/board/999/sprint").status_code == 404


def test_generated_sprints_page_with_is_last(gen_sim, http):
    board = http.get(gen_sim.url + "/jira/rest/agile/1.0/board", params={"projectKeyOrId": "PAY"}).json()["values"][0]
    url = f"{gen_sim.url}/jira/rest/agile/1.0/board/{board['id']}/sprint"
    first = http.get(url, params={"maxResults": 5}).json()
    assert len(first["values"]) == 5 and first["isLast"] is False and "total" not in first
    states = {s["state"] for s in http.get(url, params={"maxResults": 50}).json()["values"]}
    assert states == {"closed", "active", "future"}


def test_old_v3_search_is_gone_and_v2_search_pages_by_offset(gen_sim, generated_org, http):
    gone = http.get(gen_sim.url + "/jira/rest/api/3/search", params={"jql": "project = PAY"})
    assert gone.status_code == 410
    seen, start = [], 0
    while True:
        body = http.get(gen_sim.url + "/jira/rest/api/2/search",
                        params={"jql": "project in (PAY, CHK)", "startAt": start, "maxResults": 100}).json()
        seen.extend(i["id"] for i in body["issues"])
        start += len(body["issues"])
        if start >= body["total"]:
            break
    expected = [i for i in generated_org.jira_issues.values() if i["fields"]["project"]["key"] in ("PAY", "CHK")]
    assert len(seen) == len(set(seen)) == len(expected) == body["total"]
    assert "fields" in body["issues"][0]  # Data Center returns all navigable fields by default
    one = http.get(gen_sim.url + "/jira/rest/api/2/search",
                   params={"jql": "project = PLAT ORDER BY updated DESC", "startAt": 10, "maxResults": 5}).json()
    walked = search_all(http, gen_sim, "project = PLAT ORDER BY updated DESC", page=100)
    assert [i["id"] for i in one["issues"]] == [i["id"] for i in walked[10:15]]


def test_mutations_are_visible_to_incremental_queries(tiny_sim, http):
    org = tiny_sim.org
    assert len(search_all(http, tiny_sim, "project = FLOW")) == 5  # builds the index the mutations patch
    history = org.jira_add_transition("FLOW-4", "In Review", "2026-01-20T15:00Z")
    issues = search_all(http, tiny_sim, 'project = FLOW AND updated >= "2026-01-20 10:00"', fields="status",
                        expand="changelog")
    assert [i["key"] for i in issues] == ["FLOW-4"]
    assert issues[0]["fields"]["status"]["name"] == "In Review"
    assert issues[0]["changelog"]["histories"][0] == history
    org.jira_create_issue("FLOW", "Bug", "New bug", "2026-01-21T09:00Z")
    issues = search_all(http, tiny_sim, 'project = FLOW AND updated >= "2026-01-20 10:00"')
    assert [i["key"] for i in issues] == ["FLOW-4", "FLOW-6"]
    org.jira_delete_issue("FLOW-6")
    assert len(search_all(http, tiny_sim, "project = FLOW")) == 5
