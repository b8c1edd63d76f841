"""The page arithmetic behind benchmarks/requests.py (P1): the minimum requests a connector could make."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmarks.requests import _production_compares, bulkfetch_pages, child_pages, pages, pages_to_empty, stream_of


@pytest.mark.parametrize(("records", "size", "expected"), [
    (0, 100, 1),  # an empty list still costs the request that finds it empty
    (1, 100, 1),
    (100, 100, 1),  # exactly one full page: no second request
    (101, 100, 2),
    (500, 100, 5),
    (192, 20, 10),  # CircleCI: 9 full pages of 20 and one of 12
    (42, 50, 1),
])
def test_pages(records, size, expected):
    assert pages(records, size) == expected


def test_pages_refuses_nonsense():
    with pytest.raises(ValueError):
        pages(5, 0)
    with pytest.raises(ValueError):
        pages(-1, 100)


@pytest.mark.parametrize("records, size, expected", [(0, 200, 1), (24, 200, 2), (200, 200, 2), (401, 200, 4)])
def test_a_list_that_only_an_empty_page_ends_costs_one_page_more(records, size, expected):
    # 24 records: the short page, then the empty one that ends the list; 200: a full page, then the empty one
    assert pages_to_empty(records, size) == expected


def test_child_pages_is_one_list_per_parent():
    # parents with 0, 3, 100, 101 and 250 children at 100 a page: 1 + 1 + 1 + 2 + 3 = 8
    assert child_pages([0, 3, 100, 101, 250], 100) == 8
    assert child_pages([], 100) == 0


def test_bulkfetch_pages_read_only_the_issues_past_the_embedded_histories_in_batches_of_1000():
    # 150 and 230 histories exceed the 100 embedded: one batch, 380 histories, one page of 10000
    assert bulkfetch_pages([150, 20, 230]) == 1
    # 1001 issues of 101: a batch of 1000 (101000 histories, 11 pages) and a batch of 1 (1 page)
    assert bulkfetch_pages([101] * 1001) == 12
    assert bulkfetch_pages([100, 3]) == 0  # every changelog embedded whole
    assert bulkfetch_pages([]) == 0


def test_production_compares_follow_each_environment():
    commits = [{"sha": f"c{i}"} for i in range(6)]

    def dep(ident, env, sha, at):
        return {"id": ident, "environment": env, "sha": sha, "created_at": f"2026-01-0{at}T00:00:00Z"}

    store = SimpleNamespace(commits=commits, deployments={d["id"]: d for d in [
        dep(1, "staging", "c1", 1),
        dep(2, "production", "c2", 2),  # first production deployment: nothing to compare with
        dep(3, "staging", "c5", 3),  # staging does not count, and does not move production's previous sha
        dep(4, "production", "c5", 4),  # c2...c5: c3, c4, c5 = 3 commits
        dep(5, "Production", "c5", 5),  # same sha as before (case-insensitive environment): no compare
        dep(6, "production", "c3", 6),  # c5...c3 goes backwards: 0 commits, still one request
    ]})
    assert _production_compares(store, {"production"}) == [3, 0]
    assert child_pages(_production_compares(store, {"production"}), 100) == 2


@pytest.mark.parametrize(("source", "path", "query", "stream"), [
    ("jira", "/rest/api/3/search/jql", "jql=project", "issues"),
    ("jira", "/rest/api/3/issue/10001/changelog", "startAt=0", "changelogs"),
    ("jira", "/rest/agile/1.0/board/3/sprint", "startAt=0", "sprints"),
    ("jira", "/rest/agile/1.0/board", "projectKeyOrId=PAY", "boards"),
    ("github", "/repos/acme/api/pulls/12/reviews", "per_page=100", "pull_request_reviews"),
    ("github", "/repos/acme/api/pulls", "state=all", "pull_requests"),
    ("github", "/repos/acme/api/issues/12/timeline", "", "pull_request_timeline_events"),
    ("github", "/repos/acme/api/issues", "state=all", "issues"),
    ("github", "/repos/acme/api/actions/runs/9/jobs", "per_page=100", "workflow_jobs"),
    ("gitlab", "/api/v4/projects/acme%2Fapi/merge_requests/4/notes", "sort=asc", "merge_request_notes"),
    ("gitlab", "/api/v4/projects/acme%2Fapi/deployments/13400071/merge_requests", "per_page=100",
     "deployment_merge_requests"),
    ("gitlab", "/api/v4/groups/acme/projects", "per_page=100", "group project listing"),
    ("jenkins", "/job/acme/job/api/job/main/api/json", "tree=allBuilds%5Bnumber%5D%7B0%2C100%7D", "builds"),
    ("circleci", "/api/v2/workflow/abc/job", "", "jobs"),
    ("circleci", "/api/v2/project/gh/acme/api/pipeline", "page-token=x", "pipelines"),
])
def test_requests_are_put_under_their_stream(source, path, query, stream):
    assert stream_of(source, path, query) == stream


def test_an_unknown_request_is_shown_not_hidden():
    assert stream_of("github", "/rate_limit", "") == "other: /rate_limit"
