"""The Jira connector beyond issues: entities, unknown projects, request counts, long changelogs,
interrupted runs, reconciliation of deleted issues and the option to store account ids only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors import jira
from connectors.config import parse_config
from connectors.core.errors import FatalError
from connectors.core.raw import RawStore
from simulator.scenarios import tiny_org
from simulator.server import SimulatorServer

SEARCH = "/jira/rest/api/3/search/jql"


def source(url: str, projects=("FLOW",), **options):
    entry = {"type": "jira", "name": "j", "base_url": f"{url}/jira", "scope": {"projects": list(projects)},
             "auth": {"email": "me@example.com", "api_token": "good"},
             "options": {"backoff_seconds": 0, "start_date": "2026-01-01", **options}}
    return parse_config({"sources": [entry]}, env={}).sources[0]


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), jira_tokens={"good"}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as s:
        yield s


def rows(store, sql, *params):
    return store.con.execute(sql, list(params)).fetchall()


def test_projects_fields_boards_and_sprints(sim, store):
    org = sim.org
    [board] = org.jira_boards
    org.jira_add_sprint(board["id"], "FLOW Sprint 1", "2026-01-05T09:00Z", "2026-01-19T09:00Z", "closed",
                        complete="2026-01-19T10:00Z", goal="Cart and tax")
    org.jira_add_sprint(board["id"], "FLOW Sprint 2", "2026-01-19T09:00Z", "2026-02-02T09:00Z", "active")
    # A kanban board has no sprints: Jira answers its /sprint with 400, so it must not be asked.
    org.jira_add_board("FLOW", "FLOW kanban")["type"] = "kanban"

    results = jira.extract("projects", source(sim.url), store)

    assert rows(store, "SELECT record_key, payload->>'$.key' FROM raw.jira__projects") == [("10000", "FLOW")]
    assert len(rows(store, "SELECT 1 FROM raw.jira__fields")) == len(org.jira_fields)
    assert sorted(rows(store, "SELECT payload->>'$.type', scope FROM raw.jira__boards")) == [
        ("kanban", "FLOW"), ("scrum", "FLOW")]
    assert sorted(rows(store, """SELECT payload->>'$.name', payload->>'$.state', payload->>'$.goal',
                                        payload->>'$.completeDate', parent_key FROM raw.jira__sprints""")) == [
        ("FLOW Sprint 1", "closed", "Cart and tax", "2026-01-19T10:00:00.000Z", str(board["id"])),
        ("FLOW Sprint 2", "active", "", None, str(board["id"])),
    ]
    assert [r.table for r in results] == ["jira__projects", "jira__fields", "jira__boards"]
    assert results[2].child_records == {"sprints": 2}
    assert sim.request_count("/jira/rest/api/3/project/search") == 1
    assert sim.request_count("/jira/rest/api/3/field") == 1
    assert sim.request_count("/jira/rest/agile/1.0/board") == 2  # the board list, one sprint list
    assert sim.request_count(f"/jira/rest/agile/1.0/board/{board['id']}/sprint") == 1


@pytest.mark.parametrize("group", ["issues", "projects"])
def test_a_project_that_does_not_exist_is_a_clear_error_not_an_empty_load(sim, store, group):
    with pytest.raises(FatalError) as err:
        jira.extract(group, source(sim.url, projects=("FLOW", "NOPE")), store)
    message = str(err.value)
    assert "source 'j'" in message and "project 'NOPE'" in message and "scope.projects" in message
    assert "good" not in message  # the token
    if group == "issues":
        # FLOW was loaded before NOPE failed: what is committed stays
        assert len(rows(store, "SELECT 1 FROM raw.jira__issues")) == 5


def test_a_nightly_run_with_nothing_changed_costs_one_search_per_project(sim, store):
    sim.org.jira_add_project("OPS", "Operations")  # a second, empty project
    config = source(sim.url, projects=("FLOW", "OPS"))
    jira.extract("issues", config, store)
    sim.reset_stats()

    results = jira.extract("issues", config, store)

    assert sim.request_count(SEARCH) == 2  # one per project
    assert sim.request_count("/jira/rest/api/3/myself") == 1
    assert sim.request_count("/jira/rest/api/3/field") == 1  # story points / epic link discovery
    assert sim.request_count("/jira") == 4  # nothing else: no changelog page, no reconciliation
    # the 3 h lookback re-reads FLOW-3, the last issue updated before the cursor, and only it
    assert [(r.scope, r.records) for r in results] == [("FLOW", 1), ("OPS", 0)]


def test_a_full_load_costs_one_search_per_page_plus_one_bulkfetch_for_the_long_changelog(sim, store):
    # 5 issues in pages of 2; FLOW-2 gets 350 more histories: 354 in all, 100 embedded; bulkfetch pages
    # hold up to 10000 histories, so one request reads the whole changelog
    start = datetime(2026, 1, 14, tzinfo=UTC)
    for n in range(350):
        sim.org.jira_add_transition("FLOW-2", "In Review" if n % 2 == 0 else "In Progress", start + timedelta(minutes=n))

    [result] = jira.extract("issues", source(sim.url, page_size=2), store)

    flow2 = sim.org.jira_issue("FLOW-2")["id"]
    stored = rows(store, "SELECT record_key FROM raw.jira__changelogs WHERE parent_key = ?", flow2)
    assert sorted(r[0] for r in stored) == sorted(h["id"] for h in sim.org.jira_histories("FLOW-2"))
    assert len(stored) == 354
    assert sim.request_count(SEARCH) == 3  # ceil(5 / 2)
    assert sim.request_count(f"/jira/rest/api/3/issue/{flow2}/changelog") == 0  # Data Center's endpoint
    assert sim.request_count("/jira/rest/api/3/changelog/bulkfetch") == 1  # ceil(354 / 10000)
    assert result.stats.requests == 3 + 1


def test_429_storm_is_survived(sim, store):
    # The first search is refused as often as max_retries allows; the last retry gets through.
    sim.faults.add(SEARCH, "rate_limit", times=6, retry_after=0)
    [result] = jira.extract("issues", source(sim.url, page_size=2, max_retries=6), store)
    assert len(rows(store, "SELECT 1 FROM raw.jira__issues")) == 5
    assert result.stats.retry_reasons == {"http 429": 6}
    assert sim.request_count(SEARCH, status=429) == 6
    assert sim.request_count(SEARCH) == 6 + 3  # ceil(5 / 2) pages


class _Killed(BaseException):
    """Stands for the process dying: not an error the engine or the asset would handle."""


class _DiesOnSearchPage(requests.Session):
    def __init__(self, page: int):
        super().__init__()
        self.left = page

    def get(self, url, *args, **kwargs):
        if "/search/jql" in url:
            self.left -= 1
            if self.left == 0:
                raise _Killed()
        return super().get(url, *args, **kwargs)


def test_a_run_interrupted_after_page_three_resumes_without_loss_or_duplicates(sim, store):
    config = source(sim.url, page_size=1, lookback_hours=0)
    with pytest.raises(_Killed):
        jira.extract("issues", config, store, session=_DiesOnSearchPage(4))
    # Ascending by `updated`: FLOW-4 (01-08 12:00), FLOW-1 (01-09 09:00), FLOW-5 (01-09 12:00) committed.
    assert sorted(r[0] for r in rows(store, "SELECT payload->>'$.key' FROM raw.jira__issues")) == [
        "FLOW-1", "FLOW-4", "FLOW-5"]
    assert store.get_cursor("j", "issues", "FLOW") == "2026-01-09T12:00:00.000000Z"

    sim.reset_stats()
    [result] = jira.extract("issues", config, store)

    # resumed at the cursor: FLOW-5 again (the bound is inclusive), then FLOW-2 and FLOW-3
    assert result.records == 3
    assert sim.request_count(SEARCH) == 3
    issues = rows(store, "SELECT count(*), count(DISTINCT payload->>'$.key') FROM raw.jira__issues")
    assert issues == [(5, 5)]
    histories = sorted(r[0] for r in rows(store, "SELECT record_key FROM raw.jira__changelogs"))
    assert histories == sorted(h["id"] for hs in sim.org.jira_changelogs.values() for h in hs)
    assert len(histories) == 13


def test_reconciliation_tombstones_deleted_and_moved_issues_once_a_week(sim, store):
    org = sim.org
    config = source(sim.url)
    monday = datetime(2026, 2, 2, 2, 0, tzinfo=UTC)
    jira.extract("issues", config, store, now=monday)  # the first load starts the weekly clock
    deleted, moved = org.jira_issue("FLOW-5")["id"], org.jira_issue("FLOW-4")["id"]
    org.jira_delete_issue("FLOW-5")
    # Moving an issue to a project we do not load looks the same to us: it leaves FLOW's search.
    org.jira_delete_issue("FLOW-4")

    sim.reset_stats()
    results = jira.extract("issues", config, store, now=monday + timedelta(days=6))
    assert [r.table for r in results] == ["jira__issues"]  # not due yet
    assert rows(store, "SELECT count(*) FROM raw.jira__deleted_issues") == [(0,)]

    sim.reset_stats()
    results = jira.extract("issues", config, store, now=monday + timedelta(days=7))
    assert [r.table for r in results] == ["jira__issues", "jira__deleted_issues"]
    tombstones = rows(store, "SELECT record_key, payload FROM raw.jira__deleted_issues ORDER BY record_key")
    assert [(key, json.loads(p)["key"], json.loads(p)["project"]) for key, p in tombstones] == sorted(
        [(moved, "FLOW-4", "FLOW"), (deleted, "FLOW-5", "FLOW")])
    assert json.loads(tombstones[0][1])["missingSince"] == "2026-02-09T02:00:00.000000Z"
    # the incremental search, then one keys-only search (3 live issues fit one page)
    assert sim.request_count(SEARCH) == 2
    keys_only = [r for r in sim.requests if r.path == SEARCH][-1]
    assert "fields=id&" in keys_only.query + "&"

    # A week later nothing new is missing: the existing tombstones are not written again.
    results = jira.extract("issues", config, store, now=monday + timedelta(days=14))
    assert results[-1].records == 0


def test_drop_user_names_keeps_account_ids_only(sim, store):
    sim.org.jira_add_history("FLOW-5", "2026-01-10T09:00Z", [{
        "field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
        "from": None, "fromString": None, "to": "acct-ada", "toString": "Ada Lovelace"}])
    jira.extract("issues", source(sim.url, drop_user_names=True), store)

    payloads = [r[0] for r in rows(store, "SELECT payload::VARCHAR FROM raw.jira__issues UNION ALL "
                                          "SELECT payload::VARCHAR FROM raw.jira__changelogs")]
    for needle in ("displayName", "emailAddress", "Ada Lovelace", "Automation for Jira"):
        assert not any(needle in p for p in payloads), needle
    assignees = rows(store, """SELECT DISTINCT payload->'$.fields.assignee' FROM raw.jira__issues
                               WHERE payload->>'$.key' = 'FLOW-1'""")
    assert list(json.loads(assignees[0][0])) == ["accountId", "accountType", "active"]
    item = rows(store, """SELECT payload->'$.items[0]' FROM raw.jira__changelogs
                          WHERE payload->>'$.items[0].field' = 'assignee'""")
    assert json.loads(item[0][0])["to"] == "acct-ada" and json.loads(item[0][0])["toString"] is None


def test_story_points_and_epic_link_are_found_by_name():
    fields = [
        {"id": "summary", "name": "Summary", "custom": False},
        {"id": "customfield_10016", "name": "Story point estimate", "custom": True},
        {"id": "customfield_10002", "name": "Story Points", "custom": True},
        {"id": "customfield_10014", "name": "Epic Link", "custom": True},
    ]
    found = jira.discover_fields(fields, None)
    assert found.story_points == ("customfield_10002", "customfield_10016")  # classic name first
    assert found.epic_link == "customfield_10014"
    assert jira.discover_fields(fields, "customfield_12345").story_points == ("customfield_12345",)
    assert jira.discover_fields([], None) == jira.CustomFields((), None)


def test_data_center_reads_the_same_streams_through_api_v2(sim, store):
    entry = {"type": "jira", "name": "dc", "base_url": f"{sim.url}/jira", "flavour": "datacenter",
             "scope": {"projects": ["FLOW"]}, "auth": {"token": "good"},
             "options": {"backoff_seconds": 0, "page_size": 2}}
    config = parse_config({"sources": [entry]}, env={}).sources[0]
    monday = datetime(2026, 2, 2, 2, 0, tzinfo=UTC)

    jira.extract("projects", config, store)
    jira.extract("issues", config, store, now=monday)
    sim.org.jira_delete_issue("FLOW-1")
    results = jira.extract("issues", config, store, now=monday + timedelta(days=7))

    assert rows(store, "SELECT payload->>'$.key' FROM raw.jira__projects") == [("FLOW",)]
    assert len(rows(store, "SELECT 1 FROM raw.jira__issues")) == 5
    assert len(rows(store, "SELECT 1 FROM raw.jira__changelogs")) == 13  # embedded whole on Data Center
    assert rows(store, "SELECT payload->>'$.key' FROM raw.jira__deleted_issues") == [("FLOW-1",)]
    assert results[-1].table == "jira__deleted_issues"
    assert sim.request_count("/jira/rest/api/3") == 0
    assert sim.request_count("/jira/rest/api/2/project") == 1
    # every search went to /rest/api/2/search: 3 pages of 2 for the first load, then the re-read
    # (1 page) and the keys-only search of the 4 live issues (1 page: up to 1000 per page)
    assert sim.request_count("/jira/rest/api/2/search") == 3 + 1 + 1


def test_the_new_options_are_validated_with_the_source_and_field_named():
    from connectors.core.errors import ConfigError

    entry = {"type": "jira", "name": "acme", "base_url": "https://acme.atlassian.net", "scope": {"projects": ["P"]},
             "auth": {"email": "a@b.c", "api_token": "t"},
             "options": {"story_points_field": "Story Points", "reconcile_every_days": -1}}
    with pytest.raises(ConfigError) as err:
        parse_config({"sources": [entry]}, env={})
    message = str(err.value)
    assert "source 'acme', field 'options.story_points_field': 'Story Points' is not a custom field id" in message
    assert "source 'acme', field 'options.reconcile_every_days'" in message
    options = parse_config({"sources": [{**entry, "options": {}}]}, env={}).sources[0].options
    assert (options.story_points_field, options.drop_user_names, options.reconcile_every_days) == (None, False, 7)
