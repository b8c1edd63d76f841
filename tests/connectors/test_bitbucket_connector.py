"""The bitbucket connector against the source kit's loopback API (connectors/kit), with objects shaped as
Bitbucket Cloud's REST 2.0 reference documents them (pullrequest, pullrequest activity entries, commit,
pipeline, deployment_environment, deployment) in its page envelope `{"size", "page", "pagelen", "values",
"next"}`: every record arrives once, the cursors are right, a rerun changes nothing and asks no child list
of an unchanged pull request, a 429 (with or without Retry-After) is waited out, a bad token is one clear
error without the secret.

Workspace `acme`, repository `app`:
  pull requests (updated_on): #1 MERGED 01-05 15:00, #2 OPEN 01-06 12:00, #3 DECLINED 01-07 08:00; with
  pagelen 2 that is 2 pages. Activity: #1 four entries (update OPEN, comment 501 by bo, approval by bo,
  update MERGED), #2 one update, #3 two updates. Commits: #1 two, #2 one, #3 one.
  pipelines (created_on): build 1..5 an hour apart from 01-05 10:00; build 2 IN_PROGRESS.
  environments Test, Staging, Production; deployments d1 (Production, SUCCESSFUL, of fedcba987654), d2
  (Staging, FAILED), d3 (Production, SUCCESSFUL, of 0a1b2c3d4e5f). The default branch, newest first:
  0a1b2c3d4e5f, 99aa00bb11cc, fedcba987654, 123456789abc (`commits/<rev>?exclude=<rev>` is `git log`).
"""

from __future__ import annotations

import base64
import re
from urllib.parse import urlencode

import pytest

from connectors import bitbucket
from connectors.core.endpoint import parse_timestamp
from connectors.core.errors import AuthError
from connectors.core.raw import CursorUpdate, RawRecord, RawStore
from connectors.kit import ApiServer, assert_cursor, assert_each_record_once, assert_rerun_idempotent, source_config

TOKEN = "good-token"
USER = "dev@acme.example"
SCOPE = "acme/app"
REPO = r"/2\.0/repositories/acme/app"


class BitbucketPages:
    """Bitbucket's page envelope: `page`/`pagelen` in the query, `next` the next page's full URL."""

    records_key = "values"

    def __init__(self, max_pagelen: int = 100):
        self.max_pagelen = max_pagelen

    def reply(self, records, query, url):
        pagelen = min(int(query.get("pagelen") or 10), self.max_pagelen)
        page = int(query.get("page") or 1)
        body = {"size": len(records), "page": page, "pagelen": pagelen,
                "values": records[(page - 1) * pagelen: page * pagelen]}
        if page * pagelen < len(records):
            body["next"] = f"{url}?{urlencode({**query, 'page': page + 1})}"
        return 200, {}, body


def updated_since(record, query):
    """The connector's `q`: `updated_on >= <datetime>` (Bitbucket's filter language)."""
    q = query.get("q")
    if not q:
        return True
    match = re.fullmatch(r"updated_on >= (\S+)", q)
    assert match, f"unexpected q: {q}"
    return parse_timestamp(record["updated_on"]) >= parse_timestamp(match[1])


def user(nickname):
    return {"type": "user", "uuid": "{" + f"{nickname:0>8}" + "-0000-0000-0000-000000000000}",
            "display_name": nickname.title(), "nickname": nickname, "account_id": f"557058:{nickname}"}


def pull_request(number, state, created, updated):
    return {"type": "pullrequest", "id": number, "title": f"Change {number}", "description": "", "state": state,
            "author": user("ann"), "source": {"branch": {"name": f"feature/{number}"}, "commit": {"hash": "abc123"}},
            "destination": {"branch": {"name": "main"}, "commit": {"hash": "def456"}},
            "merge_commit": {"type": "commit", "hash": "fedcba987654"} if state == "MERGED" else None,
            "comment_count": 1, "task_count": 0, "close_source_branch": True, "reason": "",
            "created_on": created, "updated_on": updated,
            "links": {"html": {"href": f"https://bitbucket.org/acme/app/pull-requests/{number}"}}}


def update(number, state, date):
    return {"update": {"state": state, "date": date, "author": user("ann"), "title": f"Change {number}"},
            "pull_request": {"type": "pullrequest", "id": number, "title": f"Change {number}"}}


def commit(sha, date):
    return {"type": "commit", "hash": sha, "date": date, "message": "work\n", "author": {"raw": "Ann <ann@acme.example>"},
            "parents": []}


def pipeline(n, state="COMPLETED"):
    created = f"2026-01-05T{9 + n:02d}:00:00.000000+00:00"
    result = {"result": {"type": "pipeline_state_completed_successful", "name": "SUCCESSFUL"}} if state == "COMPLETED" else {}
    return {"type": "pipeline", "uuid": f"{{p-{n}}}", "build_number": n, "created_on": created,
            "completed_on": created.replace(":00:00.", ":10:00.") if state == "COMPLETED" else None,
            "state": {"type": f"pipeline_state_{state.lower()}", "name": state, **result},
            "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                       "commit": {"type": "commit", "hash": f"c{n}"}},
            "trigger": {"type": "pipeline_trigger_push", "name": "PUSH"}}


def environment(name, rank):
    return {"type": "deployment_environment", "uuid": f"{{env-{name.lower()}}}", "name": name, "slug": name.lower(),
            "rank": rank, "environment_type": {"type": "deployment_environment_type", "name": name, "rank": rank}}


def deployment(ident, env, status, started, completed, sha="fedcba987654"):
    return {"type": "deployment", "uuid": f"{{{ident}}}",
            "state": {"type": "deployment_state_completed", "name": "COMPLETED",
                      "status": {"type": f"deployment_state_completed_status_{status.lower()}", "name": status},
                      "started_on": started, "completed_on": completed},
            "environment": {"type": "deployment_environment", "uuid": f"{{env-{env}}}"},
            "release": {"type": "deployment_release", "uuid": f"{{r-{ident}}}", "name": "#7",
                        "commit": {"type": "commit", "hash": sha}, "created_on": started},
            "deployable": {"pipeline": {"type": "pipeline", "uuid": "{p-7}"}, "commit": {"hash": "fedcba987654"}},
            "last_update_time": completed}


def world():
    prs = [pull_request(1, "MERGED", "2026-01-05T09:00:00.000000+00:00", "2026-01-05T15:00:00.000000+00:00"),
           pull_request(2, "OPEN", "2026-01-06T10:00:00.000000+00:00", "2026-01-06T12:00:00.000000+00:00"),
           pull_request(3, "DECLINED", "2026-01-07T07:00:00.000000+00:00", "2026-01-07T08:00:00.000000+00:00")]
    link = {"type": "pullrequest", "id": 1, "title": "Change 1"}
    activity = {  # newest first, as Bitbucket lists it
        "1": [update(1, "MERGED", "2026-01-05T15:00:00.000000+00:00"),
              {"approval": {"date": "2026-01-05T13:00:00.000000+00:00", "user": user("bo"), "pullrequest": link},
               "pull_request": link},
              {"comment": {"id": 501, "type": "pullrequest_comment", "created_on": "2026-01-05T12:00:00.000000+00:00",
                           "updated_on": "2026-01-05T12:00:00.000000+00:00", "deleted": False, "user": user("bo"),
                           "content": {"raw": "Looks right", "markup": "markdown", "html": "<p>Looks right</p>"}},
               "pull_request": link},
              update(1, "OPEN", "2026-01-05T09:00:00.000000+00:00")],
        "2": [update(2, "OPEN", "2026-01-06T10:00:00.000000+00:00")],
        "3": [update(3, "DECLINED", "2026-01-07T08:00:00.000000+00:00"),
              update(3, "OPEN", "2026-01-07T07:00:00.000000+00:00")],
    }
    commits = {"1": [commit("a2", "2026-01-05T08:30:00+00:00"), commit("a1", "2026-01-05T08:00:00+00:00")],
               "2": [commit("b1", "2026-01-06T09:00:00+00:00")], "3": [commit("c1", "2026-01-07T06:00:00+00:00")]}
    pipelines = [pipeline(n, "IN_PROGRESS" if n == 2 else "COMPLETED") for n in range(1, 6)]
    environments = [environment("Test", 0), environment("Staging", 1), environment("Production", 2)]
    deployments = [deployment("d1", "production", "SUCCESSFUL", "2026-01-05T16:00:00.000000+00:00",
                              "2026-01-05T16:10:00.000000+00:00"),
                   deployment("d2", "staging", "FAILED", "2026-01-05T17:00:00.000000+00:00",
                              "2026-01-05T17:05:00.000000+00:00"),
                   deployment("d3", "production", "SUCCESSFUL", "2026-01-06T16:00:00.000000+00:00",
                              "2026-01-06T16:10:00.000000+00:00", sha="0a1b2c3d4e5f")]
    return prs, activity, commits, pipelines, environments, deployments


MAIN = ["0a1b2c3d4e5f", "99aa00bb11cc", "fedcba987654", "123456789abc"]  # newest first, each the next's child


def history(match):
    """`git log <revision>`: the revision and what it reaches, newest first."""
    return [commit(sha, f"2026-01-0{6 - i}T08:00:00+00:00") for i, sha in enumerate(MAIN)][MAIN.index(match["rev"]):]


def not_excluded(record, query):
    """`^<exclude>`: leave out what the excluded revision reaches."""
    return "exclude" not in query or MAIN.index(record["hash"]) < MAIN.index(query["exclude"])


def serve(api, data):
    prs, activity, commits, pipelines, environments, deployments = data
    api.add_list(REPO + "/pullrequests", prs, pages=BitbucketPages(50), cursor_field="updated_on", keep=updated_since)
    api.add_list(REPO + r"/pullrequests/(?P<id>\d+)/activity", lambda m: activity[m["id"]],
                 pages=BitbucketPages(50), key="update.date")
    api.add_list(REPO + r"/pullrequests/(?P<id>\d+)/commits", lambda m: commits[m["id"]],
                 pages=BitbucketPages(50), key="hash")
    api.add_list(REPO + "/pipelines/", pipelines, pages=BitbucketPages(), key="uuid", cursor_field="created_on",
                 order="descending")
    api.add_list(REPO + "/environments/", environments, pages=BitbucketPages(), key="uuid")
    api.add_list(REPO + "/deployments/", deployments, pages=BitbucketPages(), key="uuid")
    # any other revision: no route, 404
    api.add_list(REPO + f"/commits/(?P<rev>{'|'.join(MAIN)})", history, pages=BitbucketPages(50), key="hash",
                 keep=not_excluded)
    api.add_list(r"/2\.0/repositories/acme", [{"type": "repository", "uuid": "{repo-app}", "slug": "app",
                                               "full_name": SCOPE}], pages=BitbucketPages(), key="uuid")


def basic(username, token):
    return "Basic " + base64.b64encode(f"{username}:{token}".encode()).decode()


@pytest.fixture
def data():
    return world()


@pytest.fixture
def api(data):
    with ApiServer(auth={"Authorization": basic(USER, TOKEN)}) as server:
        serve(server, data)
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "warehouse.duckdb") as raw_store:
        yield raw_store


def config(api, token=TOKEN, username=USER, **options):
    auth = {"token": "${BITBUCKET_TOKEN}", **({"username": username} if username else {})}
    return source_config({"type": "bitbucket", "name": "bb", "base_url": api.url, "auth": auth,
                          "scope": {"workspace": "acme", "repositories": ["app"]},
                          "options": {"page_size": 2, "backoff_seconds": 0, **options}},
                         env={"BITBUCKET_TOKEN": token})


PR_KEYS = ["acme/app:1", "acme/app:2", "acme/app:3"]  # a number is only unique in its repository
PR_TABLES = ["bitbucket__pull_requests", "bitbucket__pull_request_activity", "bitbucket__pull_request_commits"]
ACTIVITY_KEYS = ["acme/app:1:update:{00000ann-0000-0000-0000-000000000000}@2026-01-05T15:00:00.000000+00:00",
                 "acme/app:1:approval:{000000bo-0000-0000-0000-000000000000}@2026-01-05T13:00:00.000000+00:00",
                 "acme/app:1:comment:501",
                 "acme/app:1:update:{00000ann-0000-0000-0000-000000000000}@2026-01-05T09:00:00.000000+00:00",
                 "acme/app:2:update:{00000ann-0000-0000-0000-000000000000}@2026-01-06T10:00:00.000000+00:00",
                 "acme/app:3:update:{00000ann-0000-0000-0000-000000000000}@2026-01-07T08:00:00.000000+00:00",
                 "acme/app:3:update:{00000ann-0000-0000-0000-000000000000}@2026-01-07T07:00:00.000000+00:00"]


def test_pull_requests_arrive_once_with_their_activity_and_commits(api, store):
    (result,) = bitbucket.extract("pull_requests", config(api), store)
    assert_each_record_once(store, "bitbucket__pull_requests", PR_KEYS)
    assert_each_record_once(store, "bitbucket__pull_request_activity", ACTIVITY_KEYS)
    assert_each_record_once(store, "bitbucket__pull_request_commits",
                            ["acme/app:1:a2", "acme/app:1:a1", "acme/app:2:b1", "acme/app:3:c1"])
    assert result.pages == 2  # 3 pull requests in pages of 2
    first = api.requests[0]
    # every state asked (the list shows OPEN only by default), oldest update first
    assert "state=OPEN&state=MERGED&state=DECLINED&state=SUPERSEDED" in first and "sort=updated_on" in first
    assert_cursor(store, "bitbucket__pull_requests", source_instance="bb", stream="pull_requests", scope=SCOPE,
                  equals="2026-01-07T08:00:00.000000Z")  # #3, the newest update


def test_pull_requests_of_two_repositories_with_one_number_are_kept_apart(api, store):
    # every repository numbers its pull requests from 1: `web`'s #1 must not replace `app`'s #1
    web = r"/2\.0/repositories/acme/web"
    other = {**pull_request(1, "OPEN", "2026-01-06T09:00:00.000000+00:00", "2026-01-06T09:30:00.000000+00:00"),
             "title": "Web change 1"}
    api.add_list(web + "/pullrequests", [other], pages=BitbucketPages(50), cursor_field="updated_on",
                 keep=updated_since)
    api.add_list(web + r"/pullrequests/(?P<id>\d+)/activity",
                 lambda m: [update(1, "OPEN", "2026-01-06T09:00:00.000000+00:00")], pages=BitbucketPages(50),
                 key="update.date")
    api.add_list(web + r"/pullrequests/(?P<id>\d+)/commits", lambda m: [commit("w1", "2026-01-06T08:00:00+00:00")],
                 pages=BitbucketPages(50), key="hash")
    cfg = source_config({"type": "bitbucket", "name": "bb", "base_url": api.url,
                         "auth": {"username": USER, "token": "${T}"},
                         "scope": {"workspace": "acme", "repositories": ["app", "web"]},
                         "options": {"page_size": 2, "backoff_seconds": 0}}, env={"T": TOKEN})
    bitbucket.extract("pull_requests", cfg, store)
    assert_each_record_once(store, "bitbucket__pull_requests", [*PR_KEYS, "acme/web:1"])
    assert_each_record_once(store, "bitbucket__pull_request_commits",
                            ["acme/app:1:a2", "acme/app:1:a1", "acme/app:2:b1", "acme/app:3:c1", "acme/web:1:w1"])
    with store.lock:
        titles = store.con.execute("SELECT record_key, payload->>'$.title' FROM raw.bitbucket__pull_requests "
                                   "WHERE record_key LIKE '%:1' ORDER BY 1").fetchall()
    assert titles == [("acme/app:1", "Change 1"), ("acme/web:1", "Web change 1")]


def test_pull_requests_stored_under_their_number_alone_are_read_again_under_the_repository(api, data, store):
    # what an earlier version stored: #1 under "1" with an activity entry and a commit, the cursor at #3's update
    prs, activity, commits = data[0], data[1], data[2]
    store.write([("bitbucket__pull_requests", "bb", [RawRecord("1", prs[0], None, SCOPE, prs[0]["updated_on"])]),
                 ("bitbucket__pull_request_activity", "bb", [RawRecord("1:comment:9", activity["1"][2], "1", SCOPE)]),
                 ("bitbucket__pull_request_commits", "bb", [RawRecord("1:a2", commits["1"][0], "1", SCOPE)])],
                CursorUpdate("bb", "pull_requests", SCOPE, "2026-01-07T08:00:00.000000Z"))
    store.owe("bb", "pull_request_commits", SCOPE, "2", {"path": "x"}, "timed out")
    bitbucket.extract("pull_requests", config(api), store)
    # the old rows are gone and the repository was read from start_date: every pull request with its children
    assert_each_record_once(store, "bitbucket__pull_requests", PR_KEYS)
    assert_each_record_once(store, "bitbucket__pull_request_activity", ACTIVITY_KEYS)
    assert_each_record_once(store, "bitbucket__pull_request_commits",
                            ["acme/app:1:a2", "acme/app:1:a1", "acme/app:2:b1", "acme/app:3:c1"])
    assert store.owed("bb", "pull_request_commits") == []
    assert api.request_count("/2.0/repositories/acme/app/pullrequests/1/activity") == 1


def test_a_rerun_reads_the_lookback_and_asks_no_child_list_of_an_unchanged_pull_request(api, store):
    bitbucket.extract("pull_requests", config(api), store)
    api.reset_stats()
    assert_rerun_idempotent(store, PR_TABLES, lambda: bitbucket.extract("pull_requests", config(api), store))
    # cursor 01-07 08:00 minus the 3 h lookback: only #3 is listed again, as stored, so nothing else is asked
    assert api.requests == ["/2.0/repositories/acme/app/pullrequests?state=OPEN&state=MERGED&state=DECLINED"
                            "&state=SUPERSEDED&sort=updated_on&pagelen=2&q=updated_on+%3E%3D+2026-01-07T05%3A00%3A00%2B00%3A00"]


def test_a_changed_pull_request_has_its_activity_read_again(api, store, data):
    bitbucket.extract("pull_requests", config(api), store)
    prs, activity = data[0], data[1]
    prs[1]["updated_on"] = "2026-01-08T09:00:00.000000+00:00"  # #2 approved: Bitbucket bumps updated_on
    link = {"type": "pullrequest", "id": 2, "title": "Change 2"}
    activity["2"].insert(0, {"approval": {"date": "2026-01-08T09:00:00.000000+00:00", "user": user("bo"),
                                          "pullrequest": link}, "pull_request": link})
    api.reset_stats()
    bitbucket.extract("pull_requests", config(api), store)
    assert api.request_count("/2.0/repositories/acme/app/pullrequests/2/activity") == 1
    assert api.request_count("/2.0/repositories/acme/app/pullrequests/3/") == 0  # unchanged
    assert_each_record_once(store, "bitbucket__pull_request_activity", ACTIVITY_KEYS + [
        "acme/app:2:approval:{000000bo-0000-0000-0000-000000000000}@2026-01-08T09:00:00.000000+00:00"])


def test_pipelines_newest_first_and_a_running_one_holds_the_cursor(api, store):
    (result,) = bitbucket.extract("pipelines", config(api, lookback_hours=1), store)
    assert_each_record_once(store, "bitbucket__pipelines", [f"{{p-{n}}}" for n in range(1, 6)])
    assert "sort=-created_on" in api.requests[0] and result.pages == 3  # 5 runs in pages of 2
    # build 2 (11:00) is still running: the cursor is held at 11:00 + the 1 h lookback = 12:00, not build 5's
    # 14:00, so the next run's lower bound (11:00) reads build 2 again
    assert_cursor(store, "bitbucket__pipelines", source_instance="bb", stream="pipelines", scope=SCOPE,
                  equals="2026-01-05T12:00:00.000000Z")
    api.reset_stats()
    bitbucket.extract("pipelines", config(api, lookback_hours=1), store)
    assert api.served(REPO + "/pipelines/")["{p-2}"] == 1


def test_environments_and_deployments_are_read_whole(api, store):
    environments, deployments, commits = bitbucket.extract("deployments", config(api), store)
    assert_each_record_once(store, "bitbucket__environments", ["{env-test}", "{env-staging}", "{env-production}"])
    assert_each_record_once(store, "bitbucket__deployments", ["{d1}", "{d2}", "{d3}"])
    assert (environments.pages, deployments.pages) == (2, 2)
    # Production only: d1 (its environment's first, no start_date) lists its history, d3 the range since d1
    assert_each_record_once(store, "bitbucket__deployment_commits",
                            ["{d1}:fedcba987654", "{d1}:123456789abc", "{d3}:0a1b2c3d4e5f", "{d3}:99aa00bb11cc"])
    assert commits.pages == 2 and any("exclude=fedcba987654" in r for r in api.requests)
    assert_rerun_idempotent(store, ["bitbucket__environments", "bitbucket__deployments",
                                    "bitbucket__deployment_commits"],
                            lambda: bitbucket.extract("deployments", config(api), store))


def test_each_range_is_read_once_and_an_empty_one_is_not_asked_again(api, data, store):
    bitbucket.extract("deployments", config(api), store)
    api.reset_stats()
    bitbucket.extract("deployments", config(api), store)
    assert api.request_count("/2.0/repositories/acme/app/commits/") == 0
    # a rollback to fedcba987654: its range (fedcba987654 less what 0a1b2c3d4e5f reaches) is empty; a step
    # not run (UNDEPLOYED) deployed nothing and is not asked
    data[5].append(deployment("d4", "production", "SUCCESSFUL", "2026-01-07T16:00:00.000000+00:00",
                              "2026-01-07T16:10:00.000000+00:00"))
    undeployed = deployment("d5", "production", "SUCCESSFUL", "2026-01-06T18:00:00.000000+00:00", None,
                            sha="99aa00bb11cc")
    data[5].append({**undeployed, "state": {"type": "deployment_state_undeployed", "name": "UNDEPLOYED"}})
    (*_, commits) = bitbucket.extract("deployments", config(api), store)
    assert (commits.pages, commits.records) == (1, 0)
    assert [r for r in api.requests if "/commits/" in r] == [
        "/2.0/repositories/acme/app/commits/fedcba987654?pagelen=2&exclude=0a1b2c3d4e5f"]
    api.reset_stats()
    bitbucket.extract("deployments", config(api), store)
    assert api.request_count("/2.0/repositories/acme/app/commits/") == 0


def test_a_range_bitbucket_no_longer_has_is_recorded_gone_and_not_asked_again(api, data, store):
    data[5][2] = deployment("d3", "production", "SUCCESSFUL", "2026-01-06T16:00:00.000000+00:00",
                            "2026-01-06T16:10:00.000000+00:00", sha="deadbeef0000")  # force-pushed away
    (*_, commits) = bitbucket.extract("deployments", config(api), store)
    assert commits.gone == 1 and [g.parent_key for g in store.gone_objects("bb", "deployment_commits")] == ["{d3}"]
    api.reset_stats()
    bitbucket.extract("deployments", config(api), store)
    assert api.request_count("/2.0/repositories/acme/app/commits/") == 0


def test_the_workspace_listing_keeps_the_scope(api, store):
    cfg = source_config({"type": "bitbucket", "name": "bb", "base_url": api.url,
                         "auth": {"username": USER, "token": "${T}"}, "scope": {"workspace": "acme", "exclude": ["a*"]},
                         "options": {"backoff_seconds": 0}}, env={"T": TOKEN})
    assert bitbucket.extract("pipelines", cfg, store) == []  # `app` is excluded: no repository, no request
    assert api.request_count("/2.0/repositories/acme/app") == 0
    (repos,) = bitbucket.extract("repositories", config(api), store)
    assert_each_record_once(store, "bitbucket__repositories", ["{repo-app}"])


def test_a_429_without_retry_after_is_backed_off_and_one_with_it_is_honoured(api, store):
    waits: list[float] = []
    # Bitbucket's 429 names no wait: the client's backoff decides, 1 s then 2 s, each jittered into its upper half
    api.faults.add(r"/app/pullrequests\?", "rate_limit", times=2, retry_after=None)
    bitbucket.extract("pull_requests", config(api, backoff_seconds=1, max_backoff_seconds=5), store,
                      sleep=waits.append)
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0
    assert_each_record_once(store, "bitbucket__pull_requests", PR_KEYS)
    waits.clear()
    api.faults.add(r"/pipelines/\?", "rate_limit", times=1, retry_after=3)
    bitbucket.extract("pipelines", config(api, max_backoff_seconds=5), store, sleep=waits.append)
    assert waits == [3.0]


def test_an_access_token_is_sent_as_bearer(data, store):
    with ApiServer(auth={"Authorization": f"Bearer {TOKEN}"}) as server:
        serve(server, data)
        bitbucket.extract("deployments", config(server, username=None), store)
    assert_each_record_once(store, "bitbucket__deployments", ["{d1}", "{d2}", "{d3}"])


def test_a_bad_token_is_one_fatal_error_without_the_secret(api, store):
    with pytest.raises(AuthError) as failure:
        bitbucket.extract("pull_requests", config(api, token="wrong-s3cret"), store)
    assert "source 'bb'" in str(failure.value) and "wrong-s3cret" not in str(failure.value)
    assert api.request_count() == 1  # not retried


def test_the_doctor_check_tells_a_good_token_from_a_bad_one(api):
    assert [f.level for f in bitbucket.check(config(api))] == ["ok", "ok"]
    assert [f.level for f in bitbucket.check(config(api, token="nope"))] == ["fail"]


@pytest.mark.parametrize("entry, field", [
    ({"base_url": "https://api.bitbucket.org/2.0"}, "base_url"),
    ({"scope": {"workspace": "acme/app"}}, "workspace"),
    ({"scope": {"workspace": "acme", "repositories": ["acme/app"]}}, "repositories"),
])
def test_config_errors_name_the_field(entry, field):
    base = {"type": "bitbucket", "name": "bb", "auth": {"token": "x"}, "scope": {"workspace": "acme"}}
    with pytest.raises(Exception, match=field):
        source_config({**base, **entry})
