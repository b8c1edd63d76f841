"""Real recorded GitLab objects in GitLab's page envelopes, through the connector, staging and the
deployment rules.

Expected numbers are worked out from the recorded rows (../shared/fixtures/devlake/gitlab) and stated
by hand where the rules decide. Oddities the recordings hold and the models must survive: deployments
with one made-up status each (`completed`, `undeployed` besides GitLab's own) and no `finished_at`
(pre-15.x objects: the job's finish stands in), one without `updated_at`; two pipelines without
`updated_at`; jobs in every status; notes and commits of MRs the MR list does not hold (not reachable
through the connector, which reads children of the MRs it lists).
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import duckdb
import pytest

from connectors import gitlab
from connectors.config import parse_config
from connectors.core.endpoint import format_cursor, parse_timestamp
from connectors.core.raw import RawStore
from tests.dbt.warehouse import RAW_TABLES, run_dbt
from tests.support.devlake import devlake_rows
from connectors.kit import ApiServer as RoutesServer

PROJECT = "gitlab-data/snowflake_spend"
PAGE = 10


def _iid(row: dict) -> int:
    return json.loads(row["input"])["Iid"]


@pytest.fixture(scope="module")
def recorded():
    children = {}
    for name in ("merge_request_commits", "merge_request_notes"):
        by_iid: dict[int, list[dict]] = defaultdict(list)
        for row in devlake_rows("gitlab", name):
            by_iid[_iid(row)].append(row["data"])
        children[name] = by_iid
    deployments = [r["data"] for r in devlake_rows("gitlab", "deployments")]
    # GitLab has no recorded environments here: serve the ones the deployments embed (no `tier`).
    environments = list({d["environment"]["id"]: d["environment"] for d in deployments}.values())
    return {
        "merge_requests": [r["data"] for r in devlake_rows("gitlab", "merge_requests")],
        "commits": children["merge_request_commits"],
        "notes": children["merge_request_notes"],
        "pipelines": [r["data"] for r in devlake_rows("gitlab", "pipeline")],
        "jobs": [r["data"] for r in devlake_rows("gitlab", "job")],
        "environments": environments,
        "deployments": deployments,
        "issues": [r["data"] for r in devlake_rows("gitlab", "issues")],
    }


def routes(data):
    def offset(items, q, sort_updated=False):
        if q.get("updated_after"):
            after = parse_timestamp(q["updated_after"])
            items = [i for i in items if i.get("updated_at") and parse_timestamp(i["updated_at"]) >= after]
        if sort_updated or q.get("order_by") == "updated_at":
            items = sorted(items, key=lambda i: (i.get("updated_at") or "", i["id"]))
        if q.get("issue_type"):
            items = [i for i in items if (i.get("issue_type") or i.get("type", "")).lower() == q["issue_type"]]
        size, page = int(q.get("per_page", 20)), int(q.get("page", 1))
        more = page * size < len(items)
        return 200, {"X-Page": str(page), "X-Next-Page": str(page + 1) if more else "",
                     "X-Total": str(len(items))}, items[(page - 1) * size: page * size]

    def keyset(items, q, base, path):
        items = sorted(items, key=lambda i: i["id"], reverse=True)
        if q.get("cursor"):
            before = json.loads(base64.urlsafe_b64decode(q["cursor"]))["id"]
            items = [i for i in items if i["id"] < before]
        size = int(q.get("per_page", 20))
        headers = {}
        if len(items) > size:
            cursor = base64.urlsafe_b64encode(json.dumps({"id": items[size - 1]["id"]}).encode()).decode()
            headers["Link"] = (f'<{base}{path}?pagination=keyset&order_by=id&sort=desc&per_page={size}'
                               f'&cursor={cursor}>; rel="next"')
        return 200, headers, items[:size]

    p = r"/api/v4/projects/[^/]+"
    return [
        (p + "/merge_requests", lambda q, m, b: offset(data["merge_requests"], q)),
        (p + r"/merge_requests/(\d+)/commits", lambda q, m, b: offset(data["commits"].get(int(m.group(1)), []), q)),
        (p + r"/merge_requests/(\d+)/notes", lambda q, m, b: offset(data["notes"].get(int(m.group(1)), []), q)),
        (p + "/pipelines", lambda q, m, b: offset(data["pipelines"], q)),
        (p + "/jobs", lambda q, m, b: keyset(data["jobs"], q, b, m.group(0))),
        (p + "/environments", lambda q, m, b: offset(data["environments"], q)),
        (p + "/deployments", lambda q, m, b: offset(data["deployments"], q)),
        (p + "/issues", lambda q, m, b: offset(data["issues"], q)),
    ]


def _source(url: str, **options):
    return parse_config({"sources": [{
        "type": "gitlab", "name": "gl", "base_url": url, "auth": {"token": "t"}, "scope": {"projects": [PROJECT]},
        "options": {"page_size": PAGE, "backoff_seconds": 0, **options},
    }]}, env={}).sources[0]


@pytest.fixture(scope="module")
def loaded(recorded, tmp_path_factory):
    work = tmp_path_factory.mktemp("gitlab-contract")
    warehouse = work / "throughline.duckdb"
    with RoutesServer(routes(recorded)) as server:
        with RawStore(warehouse) as store:
            for table in RAW_TABLES:
                store.ensure_table(table)
            results = {group: gitlab.extract(group, _source(server.url), store)
                       for group in ("merge_requests", "pipelines", "jobs", "deployments", "issues")}
            # The recorded issues are all plain issues: the default (incidents only) reads none; reading
            # every type brings them all.
            results["all_issues"] = gitlab.extract("issues", _source(server.url, issue_type=None), store)
            cursors = {s: store.get_cursor("gl", s, PROJECT) for s in ("merge_requests", "pipelines", "jobs", "deployments")}
    run_dbt(["build", "--select", "staging.gitlab", "int_gitlab__deployments", "int_gitlab__incidents",
             "int_gitlab__merge_request_responses",
             "int_deployment_rules", "int_deployment_services"], warehouse, work)
    con = duckdb.connect(str(warehouse), read_only=True)
    yield {"results": results, "cursors": cursors, "con": con}
    con.close()


def rows(con, sql):
    return con.execute(sql).fetchall()


def test_merge_requests_with_the_commits_and_notes_of_the_listed_ones(recorded, loaded):
    con = loaded["con"]
    [result] = loaded["results"]["merge_requests"]
    listed = {m["iid"] for m in recorded["merge_requests"]}
    assert len(listed) == 18
    # Children recorded for iids 1, 3, 4, 5, 6 (listed) and 2, 7, 29, 30, 37, 46 (not listed).
    commits = sum(len(recorded["commits"][i]) for i in listed)
    notes = sum(len(recorded["notes"][i]) for i in listed)
    assert (commits, notes) == (5 + 1 + 1 + 18 + 1, 11 + 6 + 3)
    assert rows(con, "SELECT count(*) FROM raw.gitlab__merge_requests") == [(18,)]
    assert rows(con, "SELECT count(*) FROM raw.gitlab__merge_request_commits") == [(commits,)]
    assert rows(con, "SELECT count(*) FROM raw.gitlab__merge_request_notes") == [(notes,)]
    # 18 MRs in pages of 10, then a commits and a notes request per MR (one page each: none holds 100).
    assert result.stats.requests == math.ceil(18 / PAGE) + 2 * 18
    assert loaded["cursors"]["merge_requests"] == format_cursor(
        max(parse_timestamp(m["updated_at"]) for m in recorded["merge_requests"]))
    states = dict(rows(con, "SELECT state, count(*) FROM staging.stg_gitlab__merge_requests GROUP BY 1"))
    assert states == dict(Counter(m["state"] for m in recorded["merge_requests"]))
    # Of MR !1's 11 notes only one is a person writing (its author); !3 has 3 of 6; !4's 3 are all system.
    written = dict(rows(con, """SELECT m.merge_request_iid, count(*) FILTER (WHERE NOT n.is_system)
        FROM staging.stg_gitlab__merge_request_notes n JOIN staging.stg_gitlab__merge_requests m
        USING (source_instance, merge_request_id) GROUP BY 1"""))
    assert written == {1: 1, 3: 3, 4: 0}
    # First response: on !3 (by martinguindon, opened 2019-08-15 19:34:32.706) emilie's comment of 08-26
    # 12:14:39.003, 10 days 16:40:06.297 later = 256.668415833 h. !1's only comment is its author's and its
    # other notes are GitLab's log; !4 has only log notes: no response.
    responses = rows(con, """SELECT merge_request_iid, first_responder, first_response_at, round(hours_to_first_response, 6)
        FROM intermediate.int_gitlab__merge_request_responses WHERE merge_request_iid IN (1, 3, 4) ORDER BY 1""")
    assert responses == [(1, None, None, None), (3, "emilie", datetime(2019, 8, 26, 12, 14, 39, 3000), 256.668416),
                         (4, None, None, None)]
    first = rows(con, """SELECT min(authored_at) FROM staging.stg_gitlab__merge_request_commits c
        JOIN staging.stg_gitlab__merge_requests m USING (source_instance, merge_request_id) WHERE m.merge_request_iid = 5""")
    assert first == [(min(parse_timestamp(c["authored_date"]) for c in recorded["commits"][5]).replace(tzinfo=None),)]


def test_pipelines_and_jobs_in_every_status(recorded, loaded):
    con = loaded["con"]
    assert rows(con, "SELECT count(*) FROM staging.stg_gitlab__pipelines") == [(29,)]
    staged = dict(rows(con, "SELECT status, count(*) FROM staging.stg_gitlab__pipelines GROUP BY 1"))
    assert staged == dict(Counter(p["status"] for p in recorded["pipelines"]))
    # The two running pipelines recorded without updated_at (iids 1 and 4) are stored; the cursor is the
    # latest updated_at recorded.
    assert rows(con, "SELECT pipeline_iid FROM staging.stg_gitlab__pipelines WHERE updated_at IS NULL ORDER BY 1") == [(1,), (4,)]
    assert loaded["cursors"]["pipelines"] == format_cursor(
        max(parse_timestamp(p["updated_at"]) for p in recorded["pipelines"] if p["updated_at"]))

    [jobs] = loaded["results"]["jobs"]
    assert rows(con, "SELECT count(*) FROM staging.stg_gitlab__jobs") == [(75,)]
    assert jobs.pages == math.ceil(75 / PAGE)  # keyset pages through Link only
    assert dict(rows(con, "SELECT status, count(*) FROM staging.stg_gitlab__jobs GROUP BY 1")) == dict(
        Counter(j["status"] for j in recorded["jobs"]))
    # Six jobs are still to run (created, waiting_for_resource, preparing, pending, running, scheduled):
    # the oldest of them holds the cursor (at its creation plus the 3 h lookback, so the next run's lower
    # bound, cursor minus lookback, is that job) and the next run reads them again.
    unfinished = [j for j in recorded["jobs"] if j["status"] in gitlab.UNFINISHED_JOB_STATUSES]
    assert len(unfinished) == 6
    assert loaded["cursors"]["jobs"] == format_cursor(
        min(parse_timestamp(j["created_at"]) for j in unfinished) + timedelta(hours=3))


def test_deployments_follow_the_rules_status_by_status(loaded):
    con = loaded["con"]
    assert rows(con, "SELECT count(*) FROM raw.gitlab__deployments") == [(8,)]
    got = rows(con, """SELECT deployment_id, environment, is_production, source_status, status, started_at, finished_at,
                              is_rollback, service, name
                       FROM intermediate.int_gitlab__deployments ORDER BY created_at""")
    t = datetime.fromisoformat
    service = PROJECT
    # Hand-worked from the recorded rows (none has `finished_at`: the deploying job's finish stands in):
    assert got == [
        # success; job started 14:17:33.559, finished 14:17:47.640
        ("13426753", "staging", False, "success", "success", t("2019-03-13 14:17:33.559"), t("2019-03-13 14:17:47.640"), False, service, "test_deploy_vdev"),
        # `completed` is no GitLab deployment status: unknown, not finished
        ("13432654", "staging", False, "completed", "unknown", t("2019-03-13 14:57:46.441"), None, False, service, "test_deploy_vdev"),
        # failed, its job skipped (never started): starts at creation, finishes at its last update
        ("13432768", "staging", False, "failed", "failure", t("2019-03-13 14:55:21.182"), t("2019-03-13 15:02:23.332"), False, service, "test_deploy_vdev"),
        # canceled after its job started at 15:21:07.335: a failure, finished with the job
        ("13436532", "production", True, "canceled", "failure", t("2019-03-13 15:21:07.335"), t("2019-03-13 15:21:27.825"), False, service, "deploy_vdev"),
        ("13436763", "production", True, "created", "in_progress", t("2019-03-13 15:23:40.064"), None, False, service, "deploy_vdev"),
        ("13436778", "staging", False, "running", "in_progress", t("2019-03-13 15:23:52.979"), None, False, service, "test_deploy_vdev"),
        # `undeployed` (made up) and no updated_at: unknown
        ("13436915", "staging", False, "undeployed", "unknown", t("2019-03-13 15:25:15.583"), None, False, service, "test_deploy_vdev"),
        ("13436986", "production", True, "blocked", "in_progress", t("2019-03-13 15:26:19.170"), None, False, service, "deploy_vdev"),
    ]
    # Each deployment once, however many statuses the recordings show it in.
    assert rows(con, "SELECT count(DISTINCT deployment_id), count(*) FROM staging.stg_gitlab__deployments") == [(8, 8)]
    assert rows(con, "SELECT environment_name, tier FROM staging.stg_gitlab__environments ORDER BY 1") == [
        ("production", None), ("staging", None)]


def test_issues_are_read_by_type_and_plain_issues_are_not_incidents(recorded, loaded):
    con = loaded["con"]
    [incidents_only] = loaded["results"]["issues"]
    [every_issue] = loaded["results"]["all_issues"]
    assert (incidents_only.records, every_issue.records) == (0, 16)
    assert dict(rows(con, "SELECT state, count(*) FROM staging.stg_gitlab__issues GROUP BY 1")) == {"opened": 4, "closed": 12}
    assert rows(con, "SELECT count(*) FROM staging.stg_gitlab__issues WHERE is_incident") == [(0,)]
    assert rows(con, "SELECT count(*) FROM intermediate.int_gitlab__incidents") == [(0,)]
