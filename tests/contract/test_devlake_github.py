"""Real recorded GitHub objects in their page envelopes, through the connector and the staging views.

Every expected number is worked out from the recorded rows themselves (../shared/fixtures/devlake/github),
so the test states what the connector and the models must make of real data, oddities included: a PR
recorded twice, a review recorded twice, PRs inside /issues, and Actions runs and jobs with made-up
upper-case statuses such as `STALE`.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from datetime import timedelta

import duckdb
import pytest

from connectors import github
from connectors.config import parse_config
from connectors.core.endpoint import format_cursor, parse_timestamp
from connectors.core.raw import RawStore
from tests.dbt.warehouse import RAW_TABLES, run_dbt
from tests.support.devlake import devlake_rows
from connectors.kit import ApiServer as RoutesServer

REPO = "panjf2000/ants"
PAGE = 20


def _number(row: dict) -> int:
    return json.loads(row["input"])["Number"]


@pytest.fixture(scope="module")
def recorded():
    pulls = sorted((r["data"] for r in devlake_rows("github", "pull_requests")),
                   key=lambda p: p["updated_at"], reverse=True)
    reviews: dict[int, list[dict]] = defaultdict(list)
    for row in devlake_rows("github", "pull_request_reviews"):
        reviews[_number(row)].append(row["data"])
    commits: dict[int, list[dict]] = defaultdict(list)
    for row in devlake_rows("github", "pull_request_commits"):
        commits[_number(row)].append(row["data"])
    issues = sorted((r["data"] for r in devlake_rows("github", "issues")), key=lambda i: i["updated_at"], reverse=True)
    runs = [r["data"] for r in devlake_rows("github", "runs")]
    jobs: dict[int, list[dict]] = defaultdict(list)
    for row in devlake_rows("github", "jobs"):
        jobs[row["data"]["run_id"]].append(row["data"])
    # The recorded jobs belong to runs that were not recorded: stand-in runs let the connector reach them.
    stand_ins = [{"id": run_id, "status": "completed", "conclusion": "success",
                  "created_at": min(j["started_at"] for j in js), "repository": {"full_name": REPO}}
                 for run_id, js in jobs.items()]
    all_runs = sorted(runs + stand_ins, key=lambda r: r["created_at"], reverse=True)
    # A PR's timeline as GitHub would answer it, from the recorded pieces: its issue events (without
    # the `issue` the repo-wide events endpoint embeds), its issue comments as `commented` (comment plus
    # `actor`) and its reviews as `reviewed` (the review, state in lower case); oldest first.
    timeline: dict[int, list[dict]] = defaultdict(list)
    for row in devlake_rows("github", "events"):
        event = row["data"]
        timeline[event["issue"]["number"]].append({k: v for k, v in event.items() if k != "issue"})
    for row in devlake_rows("github", "comments"):
        comment = row["data"]
        timeline[int(comment["issue_url"].rsplit("/", 1)[1])].append(
            {**comment, "event": "commented", "actor": comment["user"]})
    for number, rs in reviews.items():
        timeline[number] += [{**r, "state": r["state"].lower(), "event": "reviewed"} for r in rs]
    for events in timeline.values():
        events.sort(key=lambda e: e.get("created_at") or e["submitted_at"])
    return {"pulls": pulls, "reviews": reviews, "commits": commits, "issues": issues, "runs": all_runs,
            "recorded_runs": runs, "jobs": jobs, "timeline": timeline}


def routes(data):
    def paged(items, q, base, path, envelope=None):
        size, page = int(q.get("per_page", 30)), int(q.get("page", 1))
        chunk = items[(page - 1) * size: page * size]
        headers = {}
        if page * size < len(items):
            headers["Link"] = f'<{base}{path}?per_page={size}&page={page + 1}>; rel="next"'
        return 200, headers, ({envelope: chunk, "total_count": len(items)} if envelope else chunk)

    base = f"/repos/{REPO}"
    return [
        (base + "/pulls", lambda q, m, b: paged(data["pulls"], q, b, base + "/pulls")),
        (base + r"/pulls/(\d+)/reviews",
         lambda q, m, b: paged(data["reviews"].get(int(m.group(1)), []), q, b, m.group(0))),
        (base + r"/pulls/(\d+)/commits",
         lambda q, m, b: paged(data["commits"].get(int(m.group(1)), []), q, b, m.group(0))),
        (base + "/issues", lambda q, m, b: paged(data["issues"], q, b, base + "/issues")),
        (base + r"/issues/(\d+)/timeline",
         lambda q, m, b: paged(data["timeline"].get(int(m.group(1)), []), q, b, m.group(0))),
        (base + "/actions/runs", lambda q, m, b: paged(data["runs"], q, b, base + "/actions/runs", "workflow_runs")),
        (base + r"/actions/runs/(\d+)/jobs",
         lambda q, m, b: paged(data["jobs"].get(int(m.group(1)), []), q, b, m.group(0), "jobs")),
    ]


@pytest.fixture(scope="module")
def loaded(recorded, tmp_path_factory):
    work = tmp_path_factory.mktemp("github-contract")
    warehouse = work / "throughline.duckdb"
    with RoutesServer(routes(recorded)) as server:
        config = parse_config({"sources": [{
            "type": "github", "name": "gh", "base_url": server.url, "auth": {"token": "t"},
            "scope": {"repos": [REPO]}, "options": {"page_size": PAGE, "backoff_seconds": 0},
        }]}, env={})
        with RawStore(warehouse) as store:
            for table in RAW_TABLES:
                store.ensure_table(table)
            results = {group: github.extract(group, config.sources[0], store)[0]
                       for group in ("pull_requests", "issues", "workflow_runs")}
            cursors = {s: store.get_cursor("gh", s, REPO) for s in ("pull_requests", "issues", "workflow_runs")}
    run_dbt(["build", "--select", "staging.github", "--vars", "{github_incident_labels: [Bug]}"], warehouse, work)
    con = duckdb.connect(str(warehouse), read_only=True)
    yield {"results": results, "cursors": cursors, "con": con}
    con.close()


def one(con, sql):
    return con.execute(sql).fetchall()[0][0]


def test_pull_requests_reviews_and_commits_arrive_once_each(recorded, loaded):
    con, result = loaded["con"], loaded["results"]["pull_requests"]
    distinct_prs = {p["id"] for p in recorded["pulls"]}
    review_ids = {r["id"] for rs in recorded["reviews"].values() for r in rs}
    pr_commits = {(n, c["sha"]) for n, cs in recorded["commits"].items() for c in cs}
    assert (len(distinct_prs), len(review_ids), len(pr_commits)) == (49, 30, 90)
    assert one(con, "SELECT count(*) FROM raw.github__pull_requests") == len(distinct_prs)
    assert one(con, "SELECT count(*) FROM raw.github__pull_request_reviews") == len(review_ids)
    assert one(con, "SELECT count(*) FROM raw.github__pull_request_commits") == len(pr_commits)
    # 50 rows in pages of 20, then one reviews, commits and timeline request per distinct PR (the row listed
    # twice is one PR: the newest copy is kept and its children read once; children ask 100 at a time, no
    # recorded timeline holds more): 3 + 3 * 49 = 150
    rows = len(recorded["pulls"])
    assert result.stats.requests == math.ceil(rows / PAGE) + 3 * len(distinct_prs) == 150
    # Children are counted as stored: the PR recorded twice has its children read once, and a child listed
    # twice on its page (the recorded reviews, commits and timeline of PR 4 hold repeats) is kept once.
    assert result.child_records == {
        "pull_request_reviews": len(review_ids),
        "pull_request_commits": len(pr_commits),
        "pull_request_timeline_events": one(con, "SELECT count(*) FROM raw.github__pull_request_timeline_events"),
    }
    assert loaded["cursors"]["pull_requests"] == format_cursor(
        max(parse_timestamp(p["updated_at"]) for p in recorded["pulls"]))

    # Staging: every review state as recorded, each review tied to its PR.
    states = Counter(r["state"] for rs in recorded["reviews"].values() for r in {x["id"]: x for x in rs}.values())
    staged = dict(con.execute("SELECT state, count(*) FROM staging.stg_github__pull_request_reviews GROUP BY 1").fetchall())
    assert staged == dict(states) == {"COMMENTED": 27, "CHANGES_REQUESTED": 3}
    orphans = one(con, """SELECT count(*) FROM staging.stg_github__pull_request_reviews r
                          LEFT JOIN staging.stg_github__pull_requests p USING (source_instance, pull_request_id)
                          WHERE p.pull_request_id IS NULL""")
    assert orphans == 0
    by_pr = dict(con.execute("""SELECT p.pull_request_number, count(*) FROM staging.stg_github__pull_request_commits c
                                JOIN staging.stg_github__pull_requests p USING (source_instance, pull_request_id)
                                GROUP BY 1""").fetchall())
    assert by_pr == dict(Counter(n for n, _ in pr_commits))
    # First commit of a PR (where coding time starts) is its earliest authored commit.
    first = {n: min(parse_timestamp(c["commit"]["author"]["date"]) for c in cs) for n, cs in recorded["commits"].items()}
    staged_first = dict(con.execute("""SELECT p.pull_request_number, min(c.authored_at) FROM staging.stg_github__pull_request_commits c
                                       JOIN staging.stg_github__pull_requests p USING (source_instance, pull_request_id)
                                       GROUP BY 1""").fetchall())
    assert staged_first == {n: t.replace(tzinfo=None) for n, t in first.items()}


def test_issues_leave_pull_requests_out_and_flag_incidents_by_label(recorded, loaded):
    con = loaded["con"]
    issues = {i["id"]: i for i in recorded["issues"] if "pull_request" not in i}
    assert one(con, "SELECT count(*) FROM raw.github__issues") == len(issues)
    assert one(con, "SELECT count(*) FROM staging.stg_github__issues") == len(issues)
    assert loaded["results"]["issues"].records == sum("pull_request" not in i for i in recorded["issues"])
    # The build ran with github_incident_labels: [Bug]; labels compare case-insensitively.
    bugs = sorted(i["number"] for i in issues.values() if any(lb["name"].lower() == "bug" for lb in i["labels"]))
    assert bugs  # the recorded repo has bug-labelled issues
    assert [n for (n,) in con.execute(
        "SELECT issue_number FROM staging.stg_github__issues WHERE is_incident ORDER BY 1").fetchall()] == bugs
    labels = Counter(lb["name"] for i in issues.values() for lb in i["labels"])
    staged = Counter(dict(con.execute(
        "SELECT label, count(*) FROM (SELECT unnest(labels) AS label FROM staging.stg_github__issues) GROUP BY 1").fetchall()))
    assert staged == labels
    assert one(con, "SELECT count(*) FROM staging.stg_github__issues WHERE created_at IS NULL OR repo IS NULL") == 0


def test_runs_and_jobs_keep_made_up_upper_case_statuses(recorded, loaded):
    con, result = loaded["con"], loaded["results"]["workflow_runs"]
    runs, jobs = recorded["recorded_runs"], [j for js in recorded["jobs"].values() for j in js]
    assert one(con, "SELECT count(*) FROM raw.github__workflow_runs") == len(recorded["runs"]) == 35 + 10
    assert one(con, "SELECT count(*) FROM raw.github__workflow_jobs") == len(jobs) == 35
    assert result.child_records == {"workflow_jobs": 35}
    # 45 runs in pages of 20; one jobs request per run
    assert result.stats.requests == math.ceil(45 / PAGE) + 45

    recorded_ids = [str(r["id"]) for r in runs]  # the stand-in runs are left out
    staged_runs = Counter(dict(con.execute(
        "SELECT status, count(*) FROM staging.stg_github__workflow_runs WHERE list_contains(?, run_id) GROUP BY 1",
        [recorded_ids],
    ).fetchall()))
    assert staged_runs == Counter(r["status"].lower() for r in runs)
    assert staged_runs["stale"] == 1
    staged_jobs = Counter(dict(con.execute(
        "SELECT coalesce(conclusion, '-'), count(*) FROM staging.stg_github__workflow_jobs GROUP BY 1").fetchall()))
    assert staged_jobs == Counter((j["conclusion"] or "").lower() or "-" for j in jobs)
    assert staged_jobs["stale"] == 1
    per_run = dict(con.execute("SELECT run_id, count(*) FROM staging.stg_github__workflow_jobs GROUP BY 1").fetchall())
    assert per_run == {str(run_id): len(js) for run_id, js in recorded["jobs"].items()}

    # Unfinished runs (any case: IN_PROGRESS, QUEUED, ...) hold the cursor so the next run reads them again.
    unfinished = [parse_timestamp(r["created_at"]) for r in recorded["runs"]
                  if str(r["status"]).lower() in github.UNFINISHED_RUN_STATUSES]
    newest = max(parse_timestamp(r["created_at"]) for r in recorded["runs"])
    assert len(unfinished) == 8
    assert loaded["cursors"]["workflow_runs"] == format_cursor(min(newest, min(unfinished) + timedelta(hours=3)))


def test_pull_request_timelines_stage_who_did_what_when(recorded, loaded):
    con = loaded["con"]
    pr_ids = {p["number"]: str(p["id"]) for p in recorded["pulls"]}
    # One row per (PR, event id): the review and the PR recorded twice collapse.
    events = {(pr_ids[n], str(e["id"])): e for n, es in recorded["timeline"].items() if n in pr_ids for e in es}
    assert len(events) == 86
    assert one(con, "SELECT count(*) FROM raw.github__pull_request_timeline_events") == len(events)
    staged = dict(con.execute(
        "SELECT event, count(*) FROM staging.stg_github__pull_request_timeline_events GROUP BY 1").fetchall())
    assert staged == dict(Counter(e["event"] for e in events.values()))
    assert staged["commented"] == 46 and staged["reviewed"] == 30  # a comment and a review recorded twice
    # `reviewed` has user/submitted_at where the others have actor/created_at: both land in the same columns.
    rows = con.execute("""SELECT pull_request_id, event_id, actor, created_at, review_state
                          FROM staging.stg_github__pull_request_timeline_events""").fetchall()
    assert sorted(rows) == sorted(
        (pr, ident, (e.get("actor") or e["user"])["login"],
         parse_timestamp(e.get("created_at") or e["submitted_at"]).replace(tzinfo=None),
         e["state"].upper() if e["event"] == "reviewed" else None)
        for (pr, ident), e in events.items()
    )
