"""The bitbucket connector's Data Center flavour against the source kit's loopback API (connectors/kit), with
objects shaped as Bitbucket Data Center's REST 1.0 reference documents them (RestPullRequest,
RestPullRequestActivity, RestCommit) in its paged envelope `{"size", "limit", "start", "isLastPage",
"nextPageStart", "values"}`: every record arrives once, the cursor is right, a rerun changes nothing and asks
no child list of an unchanged pull request, a 429 with Retry-After is waited out, a bad token is one clear
error without the secret, config errors name the field.

Project `MOB`, repository `app` (all 2026, UTC):
  pull requests, newest update first: #3 DECLINED updated 01-07 08:00, #2 OPEN 01-06 12:00, #1 MERGED
  01-05 15:00; with limit 2 that is 2 pages. Activities (newest first, each with its own id): #1 MERGED 105
  (with the merge commit), APPROVED 104 by bo, COMMENTED 103 by bo (comment 501), OPENED 101; #2 OPENED
  201; #3 DECLINED 302, OPENED 301. Commits: #1 two, #2 one, #3 one.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from connectors import bitbucket
from connectors.core.errors import AuthError
from connectors.core.raw import RawStore
from connectors.kit import ApiServer, assert_cursor, assert_each_record_once, assert_rerun_idempotent, source_config

TOKEN = "good-token"
SCOPE = "MOB/app"
REPO = r"/rest/api/1\.0/projects/MOB/repos/app"
PR_PATH = "/rest/api/1.0/projects/MOB/repos/app/pull-requests"


class DataCenterPages:
    """Data Center's paged API: `start`/`limit` in the query (limit capped by the server), `size` the values on
    this page, `nextPageStart` on every page but the last, which says `isLastPage`."""

    records_key = "values"

    def __init__(self, max_limit: int = 1000):
        self.max_limit = max_limit

    def reply(self, records, query, url):
        start = int(query.get("start") or 0)
        limit = min(int(query.get("limit") or 25), self.max_limit)
        chunk = records[start:start + limit]
        last = start + len(chunk) >= len(records)
        body = {"size": len(chunk), "limit": limit, "start": start, "isLastPage": last, "values": chunk}
        if not last:
            body["nextPageStart"] = start + len(chunk)
        return 200, {}, body


def ms(text: str) -> int:
    return int(datetime.fromisoformat(f"2026-{text}:00+00:00").timestamp() * 1000)


def user(name: str, ident: int) -> dict:
    return {"name": name, "emailAddress": f"{name}@acme.example", "id": ident, "displayName": name.title(),
            "active": True, "slug": name, "type": "NORMAL"}


def ref(branch: str, commit: str) -> dict:
    return {"id": f"refs/heads/{branch}", "displayId": branch, "latestCommit": commit,
            "repository": {"slug": "app", "name": "app", "project": {"key": "MOB"}}}


MERGE = "fedcba9876543210fedcba9876543210fedcba98"


def pull_request(number: int, state: str, created: str, updated: str) -> dict:
    pr = {"id": number, "version": 2, "title": f"Change {number}", "description": "", "state": state,
          "open": state == "OPEN", "closed": state != "OPEN", "createdDate": ms(created), "updatedDate": ms(updated),
          "fromRef": ref(f"feature/{number}", "abc123" * 6 + "ab"), "toRef": ref("main", "def456" * 6 + "de"),
          "locked": False, "author": {"user": user("ann", 1), "role": "AUTHOR", "approved": False,
                                      "status": "UNAPPROVED"},
          "reviewers": [], "participants": [],
          "links": {"self": [{"href": f"https://bitbucket.acme.example/projects/MOB/repos/app/pull-requests/{number}"}]}}
    if state != "OPEN":
        pr["closedDate"] = ms(updated)
    if state == "MERGED":
        pr["properties"] = {"mergeCommit": {"displayId": MERGE[:11], "id": MERGE}}
    return pr


def activity(ident: int, action: str, at: str, who: str = "ann", **extra) -> dict:
    return {"id": ident, "createdDate": ms(at), "user": user(who, 1 if who == "ann" else 2), "action": action, **extra}


def commit(sha: str, at: str) -> dict:
    person = {"name": "Ann", "emailAddress": "ann@acme.example"}
    return {"id": sha, "displayId": sha[:11], "author": person, "authorTimestamp": ms(at), "committer": person,
            "committerTimestamp": ms(at), "message": "work", "parents": [{"id": "0" * 40, "displayId": "0" * 11}]}


A1, A2, B1, C1 = ("a1" * 20, "a2" * 20, "b1" * 20, "c1" * 20)


def world():
    prs = [pull_request(1, "MERGED", "01-05T09:00", "01-05T15:00"),
           pull_request(2, "OPEN", "01-06T10:00", "01-06T12:00"),
           pull_request(3, "DECLINED", "01-07T07:00", "01-07T08:00")]
    comment = {"id": 501, "version": 0, "text": "Looks right", "author": user("bo", 2), "createdDate": ms("01-05T12:00"),
               "updatedDate": ms("01-05T12:00"), "comments": [], "tasks": []}
    activities = {  # newest first, as Data Center lists them
        "1": [activity(105, "MERGED", "01-05T15:00", commit=commit(MERGE, "01-05T15:00")),
              activity(104, "APPROVED", "01-05T13:00", "bo"),
              activity(103, "COMMENTED", "01-05T12:00", "bo", commentAction="ADDED", comment=comment),
              activity(101, "OPENED", "01-05T09:00")],
        "2": [activity(201, "OPENED", "01-06T10:00")],
        "3": [activity(302, "DECLINED", "01-07T08:00"), activity(301, "OPENED", "01-07T07:00")],
    }
    commits = {"1": [commit(A2, "01-05T08:30"), commit(A1, "01-05T08:00")], "2": [commit(B1, "01-06T09:00")],
               "3": [commit(C1, "01-07T06:00")]}
    return prs, activities, commits


def serve(api, data, repo="app", max_limit=1000):
    prs, activities, commits = data
    base = rf"/rest/api/1\.0/projects/MOB/repos/{repo}"
    newest_first = lambda match: sorted(prs, key=lambda pr: (pr["updatedDate"], pr["id"]), reverse=True)  # noqa: E731
    api.add_list(base + "/pull-requests", newest_first, pages=DataCenterPages(max_limit))
    api.add_list(base + r"/pull-requests/(?P<id>\d+)/activities", lambda m: activities[m["id"]],
                 pages=DataCenterPages(max_limit))
    api.add_list(base + r"/pull-requests/(?P<id>\d+)/commits", lambda m: commits[m["id"]],
                 pages=DataCenterPages(max_limit))


def repository(ident: int, slug: str) -> dict:
    return {"id": ident, "slug": slug, "name": slug, "scmId": "git", "state": "AVAILABLE", "forkable": True,
            "public": False, "archived": False, "project": {"key": "MOB", "id": 7, "name": "Mobile", "type": "NORMAL"},
            "links": {"self": [{"href": f"https://bitbucket.acme.example/projects/MOB/repos/{slug}/browse"}]}}


@pytest.fixture
def data():
    return world()


@pytest.fixture
def api(data):
    with ApiServer(auth={"Authorization": f"Bearer {TOKEN}"}) as server:
        serve(server, data)
        server.add_list(r"/rest/api/1\.0/projects/MOB/repos", [repository(11, "app"), repository(12, "archive-old")],
                        pages=DataCenterPages())
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "warehouse.duckdb") as raw_store:
        yield raw_store


def config(api, token=TOKEN, scope=None, **options):
    return source_config({"type": "bitbucket", "flavour": "datacenter", "name": "bbdc", "base_url": api.url,
                          "auth": {"token": "${BITBUCKET_TOKEN}"},
                          "scope": scope or {"project": "MOB", "repositories": ["app"]},
                          "options": {"page_size": 2, "backoff_seconds": 0, **options}},
                         env={"BITBUCKET_TOKEN": token})


PR_KEYS = ["MOB/app:1", "MOB/app:2", "MOB/app:3"]
PR_TABLES = ["bitbucket__pull_requests", "bitbucket__pull_request_activity", "bitbucket__pull_request_commits"]
ACTIVITY_KEYS = ["MOB/app:1:105", "MOB/app:1:104", "MOB/app:1:103", "MOB/app:1:101", "MOB/app:2:201",
                 "MOB/app:3:302", "MOB/app:3:301"]
COMMIT_KEYS = [f"MOB/app:1:{A2}", f"MOB/app:1:{A1}", f"MOB/app:2:{B1}", f"MOB/app:3:{C1}"]


def test_pull_requests_arrive_once_with_their_activities_and_commits(api, store):
    (result,) = bitbucket.extract("pull_requests", config(api), store)
    assert_each_record_once(store, "bitbucket__pull_requests", PR_KEYS)
    assert_each_record_once(store, "bitbucket__pull_request_activity", ACTIVITY_KEYS)
    assert_each_record_once(store, "bitbucket__pull_request_commits", COMMIT_KEYS)
    # every state (the list shows OPEN only by default), newest first; 3 pull requests in pages of 2,
    # the second asked at the first's nextPageStart
    assert result.pages == 2
    assert [r for r in api.requests if r.startswith(PR_PATH + "?")] == [
        PR_PATH + "?state=ALL&order=NEWEST&start=0&limit=2", PR_PATH + "?state=ALL&order=NEWEST&start=2&limit=2"]
    # updatedDate is epoch milliseconds; the cursor is #3's, as an ISO timestamp
    assert_cursor(store, "bitbucket__pull_requests", source_instance="bbdc", stream="pull_requests", scope=SCOPE,
                  equals="2026-01-07T08:00:00.000000Z")


def test_a_rerun_reads_down_to_the_lookback_and_asks_no_child_list_of_an_unchanged_pull_request(api, store):
    bitbucket.extract("pull_requests", config(api), store)
    api.reset_stats()
    assert_rerun_idempotent(store, PR_TABLES, lambda: bitbucket.extract("pull_requests", config(api), store))
    # the cursor 01-07 08:00 less the 3 h lookback is 05:00: the first page (#3, #2) reaches #2 (01-06 12:00),
    # older, so the list stops there; #3 is listed as stored and #2 is before the bound: no child is asked
    assert api.requests == [PR_PATH + "?state=ALL&order=NEWEST&start=0&limit=2"]


def test_a_changed_pull_request_has_its_activities_read_again(api, store, data):
    bitbucket.extract("pull_requests", config(api), store)
    prs, activities, _commits = data
    prs[0]["updatedDate"] = ms("01-08T09:00")  # #1 approved again after the merge: updatedDate moves
    activities["1"].insert(0, activity(106, "APPROVED", "01-08T09:00", "cy"))
    api.reset_stats()
    (result,) = bitbucket.extract("pull_requests", config(api), store)
    # newest first now #1, #3, #2: the second page (#2, before the bound) ends the list
    assert result.pages == 2
    assert api.request_count(PR_PATH + "/1/activities") == 1 and api.request_count(PR_PATH + "/1/commits") == 1
    assert api.request_count(PR_PATH + "/3/") == 0 and api.request_count(PR_PATH + "/2/") == 0
    assert_each_record_once(store, "bitbucket__pull_request_activity", ["MOB/app:1:106", *ACTIVITY_KEYS])
    assert_cursor(store, "bitbucket__pull_requests", source_instance="bbdc", stream="pull_requests", scope=SCOPE,
                  equals="2026-01-08T09:00:00.000000Z")


def test_pages_follow_next_page_start_under_the_servers_limit(data, store):
    # the server caps limit at 1 whatever is asked: every page is one record, each asked at nextPageStart
    with ApiServer(auth={"Authorization": f"Bearer {TOKEN}"}) as server:
        serve(server, data, max_limit=1)
        (result,) = bitbucket.extract("pull_requests", config(server), store)
        assert result.pages == 3
        assert [r.split("&", 2)[2] for r in server.requests if r.startswith(PR_PATH + "?")] == [
            "start=0&limit=2", "start=1&limit=2", "start=2&limit=2"]
    assert_each_record_once(store, "bitbucket__pull_request_activity", ACTIVITY_KEYS)


def test_pull_requests_of_two_repositories_with_one_number_are_kept_apart(api, store):
    other = {**pull_request(1, "OPEN", "01-06T09:00", "01-06T09:30"), "title": "Web change 1"}
    serve(api, ([other], {"1": [activity(901, "OPENED", "01-06T09:00")]}, {"1": [commit("f1" * 20, "01-06T08:00")]}),
          repo="web")
    bitbucket.extract("pull_requests", config(api, scope={"project": "MOB", "repositories": ["app", "web"]}), store)
    assert_each_record_once(store, "bitbucket__pull_requests", [*PR_KEYS, "MOB/web:1"])
    with store.lock:
        titles = store.con.execute("SELECT record_key, payload->>'$.title' FROM raw.bitbucket__pull_requests "
                                   "WHERE record_key LIKE '%:1' ORDER BY 1").fetchall()
    assert titles == [("MOB/app:1", "Change 1"), ("MOB/web:1", "Web change 1")]


def test_the_project_listing_keeps_the_scope_and_data_center_has_no_pipelines_or_deployments(api, store):
    cfg = config(api, scope={"project": "MOB", "exclude": ["archive-*"]})
    (repos,) = bitbucket.extract("repositories", cfg, store)
    assert_each_record_once(store, "bitbucket__repositories", ["11"])  # archive-old is excluded
    api.reset_stats()
    assert bitbucket.extract("pipelines", cfg, store) == [] and bitbucket.extract("deployments", cfg, store) == []
    assert api.requests == []
    bitbucket.extract("pull_requests", cfg, store)
    assert api.requests[0] == "/rest/api/1.0/projects/MOB/repos?start=0&limit=2"
    assert_each_record_once(store, "bitbucket__pull_requests", PR_KEYS)


def test_a_429_with_retry_after_is_honoured(api, store):
    waits: list[float] = []
    api.faults.add(r"/pull-requests\?", "rate_limit", times=1, retry_after=3)
    bitbucket.extract("pull_requests", config(api, max_backoff_seconds=5), store, sleep=waits.append)
    assert waits == [3.0]
    assert_each_record_once(store, "bitbucket__pull_requests", PR_KEYS)


def test_a_username_sends_basic_auth(data, store):
    basic = "Basic " + base64.b64encode(f"ann:{TOKEN}".encode()).decode()
    with ApiServer(auth={"Authorization": basic}) as server:
        serve(server, data)
        cfg = source_config({"type": "bitbucket", "flavour": "datacenter", "name": "bbdc", "base_url": server.url,
                             "auth": {"username": "ann", "token": "${T}"},
                             "scope": {"project": "MOB", "repositories": ["app"]}}, env={"T": TOKEN})
        bitbucket.extract("pull_requests", cfg, store)
    assert_each_record_once(store, "bitbucket__pull_requests", PR_KEYS)


def test_a_bad_token_is_one_fatal_error_without_the_secret(api, store):
    with pytest.raises(AuthError) as failure:
        bitbucket.extract("pull_requests", config(api, token="wrong-s3cret"), store)
    assert "source 'bbdc'" in str(failure.value) and "wrong-s3cret" not in str(failure.value)
    assert api.request_count() == 1  # not retried


def test_the_doctor_check_tells_a_good_token_from_a_bad_one(api):
    assert [f.level for f in bitbucket.check(config(api))] == ["ok", "ok"]
    assert [f.level for f in bitbucket.check(config(api, token="nope"))] == ["fail"]


def test_an_epoch_millisecond_cursor_reads_as_utc():
    from connectors.bitbucket.datacenter import PULL_REQUESTS
    noon = int(datetime(2026, 1, 5, 12, tzinfo=UTC).timestamp()) * 1000
    assert PULL_REQUESTS.cursor_of({"updatedDate": noon + 123}) == "2026-01-05T12:00:00.123000Z"
    # not milliseconds: given to the engine as it is, which rejects the record by name
    assert PULL_REQUESTS.cursor_of({"updatedDate": "yesterday"}) == "yesterday"


DC = {"type": "bitbucket", "flavour": "datacenter", "name": "bbdc", "base_url": "https://bitbucket.acme.example",
      "auth": {"token": "x"}, "scope": {"project": "MOB"}}


@pytest.mark.parametrize("entry, field", [
    ({"scope": {"workspace": "acme"}}, "scope.workspace"),
    ({"scope": {"project": "Mobile team"}}, "project"),
    ({"scope": {"repositories": ["app"]}}, "scope.project"),
    ({"base_url": "https://bitbucket.acme.example/rest/api/1.0"}, "base_url"),
    ({"flavour": "server"}, "flavour"),
    ({"flavour": "cloud"}, "scope.project"),
])
def test_config_errors_name_the_field(entry, field):
    with pytest.raises(Exception, match=field):
        source_config({**DC, **entry})


def test_a_data_center_source_needs_its_servers_url():
    entry = {k: v for k, v in DC.items() if k != "base_url"}
    with pytest.raises(Exception, match="base_url"):
        source_config(entry)


def test_the_next_page_starts_where_the_server_says():
    from connectors.bitbucket.datacenter import PAGES
    # a page of 2 whose nextPageStart is 5 (the server passed positions it did not send): asked at 5, not 2
    body = {"size": 2, "limit": 2, "start": 0, "isLastPage": False, "nextPageStart": 5, "values": [{}, {}]}
    assert PAGES.next_request({"start": 0, "limit": 2}, body, None, 2, 2) == (None, {"start": 5, "limit": 2})
    assert PAGES.next_request({"start": 5, "limit": 2}, {**body, "isLastPage": True}, None, 2, 2) is None
