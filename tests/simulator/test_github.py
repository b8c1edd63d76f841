"""GitHub REST wire behaviour: Link-header paging, orderings, filters, rate-limit headers, errors."""

from __future__ import annotations

import pytest

from simulator import Org, SimulatorServer, tiny_org

REPO = "acme/checkout-web"


def walk(http, url: str, key: str | None = None) -> tuple[list[dict], int]:
    """Follow rel="next" to the end; returns the items and the number of pages."""
    items, pages = [], 0
    while url:
        response = http.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body[key] if key else body)
        pages += 1
        url = response.links.get("next", {}).get("url")
    return items, pages


def test_link_headers_walk_every_pull_request_once(gen_sim, generated_org, http):
    store = generated_org.repos[REPO]
    first = http.get(f"{gen_sim.url}/github/repos/{REPO}/pulls", params={"state": "all", "per_page": 7})
    links = first.links
    assert set(links) == {"next", "last"}
    assert links["last"]["url"].endswith(f"page={-(-len(store.pulls) // 7)}")
    pulls, pages = walk(http, first.url)
    assert [p["id"] for p in pulls] == [p["id"] for p in sorted(store.pulls.values(), key=lambda p: -p["number"])]
    assert pages == -(-len(store.pulls) // 7)
    middle = http.get(links["next"]["url"])
    assert set(middle.links) == {"prev", "next", "last", "first"}


def test_pull_defaults_and_orderings(gen_sim, generated_org, http):
    store = generated_org.repos[REPO]
    base = f"{gen_sim.url}/github/repos/{REPO}/pulls"
    default, _ = walk(http, base)
    assert {p["state"] for p in default} == {"open"}  # GitHub lists open PRs unless asked
    updated, _ = walk(http, f"{base}?state=all&sort=updated&direction=asc&per_page=100")
    stamps = [(p["updated_at"], p["number"]) for p in updated]
    assert stamps == sorted(stamps) and len(updated) == len(store.pulls)
    closed, _ = walk(http, f"{base}?state=closed&per_page=100")
    assert len(closed) == sum(p["state"] == "closed" for p in store.pulls.values())


def test_pull_children_and_single_objects(gen_sim, generated_org, http):
    store = generated_org.repos[REPO]
    number = next(n for n, r in store.reviews.items() if len(r) > 1)
    base = f"{gen_sim.url}/github/repos/{REPO}/pulls/{number}"
    assert http.get(base + "/reviews").json() == store.reviews[number]
    assert http.get(base + "/commits").json() == store.pr_commits[number]
    single = http.get(base).json()
    assert single["merged"] is (store.pulls[number]["merged_at"] is not None)
    assert http.get(f"{gen_sim.url}/github/repos/{REPO}/pulls/99999").status_code == 404


def test_deployments_newest_first_with_filters_and_statuses(gen_sim, generated_org, http):
    store = generated_org.repos[REPO]
    base = f"{gen_sim.url}/github/repos/{REPO}/deployments"
    every, _ = walk(http, base + "?per_page=10")
    created = [(d["created_at"], d["id"]) for d in every]
    assert created == sorted(created, reverse=True) and len(every) == len(store.deployments)
    prod, _ = walk(http, base + "?environment=production&per_page=100")
    assert prod and all(d["environment"] == "production" for d in prod)
    sha = prod[-1]["sha"]
    by_sha, _ = walk(http, f"{base}?sha={sha}&environment=production")
    assert {d["sha"] for d in by_sha} == {sha}
    deployment = prod[0]
    statuses = http.get(f"{base}/{deployment['id']}/statuses").json()
    assert statuses == store.deployment_statuses[deployment["id"]][::-1]


def test_commits_compare_and_releases(gen_sim, generated_org, http):
    store = generated_org.repos[REPO]
    base = f"{gen_sim.url}/github/repos/{REPO}"
    commits, _ = walk(http, base + "/commits?per_page=100")
    assert commits == store.commits[::-1]
    since, until = store.commits[5]["commit"]["committer"]["date"], store.commits[9]["commit"]["committer"]["date"]
    window, _ = walk(http, f"{base}/commits?since={since}&until={until}")
    assert [c["sha"] for c in window] == [c["sha"] for c in store.commits[5:10]][::-1]
    a, b = store.commits[3]["sha"], store.commits[8]["sha"]
    compare = http.get(f"{base}/compare/{a}...{b}").json()
    assert (compare["status"], compare["ahead_by"], compare["total_commits"]) == ("ahead", 5, 5)
    assert [c["sha"] for c in compare["commits"]] == [c["sha"] for c in store.commits[4:9]]
    paged = http.get(f"{base}/compare/{a}...main", params={"per_page": 2})
    assert len(paged.json()["commits"]) == 2 and "next" in paged.links
    releases = http.get(base + "/releases?per_page=100").json()
    assert releases and releases[0]["tag_name"] in store.tags
    assert http.get(f"{base}/compare/{a}...nope").status_code == 404


def test_workflow_runs_newest_first_and_filtered(gen_sim, generated_org, http):
    store = generated_org.repos[REPO]
    base = f"{gen_sim.url}/github/repos/{REPO}/actions/runs"
    runs, _ = walk(http, base + "?per_page=50", key="workflow_runs")
    assert [r["id"] for r in runs] == [r["id"] for r in sorted(store.runs.values(),
                                                               key=lambda r: (r["created_at"], r["id"]), reverse=True)]
    body = http.get(base, params={"created": ">=2026-09-01T00:00:00Z", "per_page": 100}).json()
    expected = [r for r in store.runs.values() if r["created_at"] >= "2026-09-01T00:00:00Z"]
    assert body["total_count"] == len(expected)
    window = http.get(base, params={"created": "2026-09-01..2026-09-07", "per_page": 100}).json()
    assert all("2026-09-01" <= r["created_at"][:10] <= "2026-09-07" for r in window["workflow_runs"])
    in_window = [r for r in store.runs.values() if "2026-09-01" <= r["created_at"][:10] <= "2026-09-07"]
    assert window["total_count"] == len(in_window)
    failed = http.get(base, params={"status": "failure", "per_page": 100}).json()
    assert failed["total_count"] == sum(r["conclusion"] == "failure" for r in store.runs.values()) > 0
    running = http.get(base, params={"status": "in_progress"}).json()
    assert running["total_count"] >= 1 and running["workflow_runs"][0]["conclusion"] is None
    pushes = http.get(base, params={"branch": "main", "event": "push", "per_page": 100}).json()
    main_pushes = [r for r in store.runs.values() if r["head_branch"] == "main" and r["event"] == "push"]
    assert pushes["total_count"] == len(main_pushes)
    run = runs[0]
    by_sha = http.get(base, params={"head_sha": run["head_sha"], "created": f"<={run['created_at']}"}).json()
    assert run["id"] in {r["id"] for r in by_sha["workflow_runs"]}
    jobs = http.get(f"{base}/{run['id']}/jobs").json()
    assert jobs["total_count"] == len(jobs["jobs"]) >= 1 and jobs["jobs"][0]["run_id"] == run["id"]


def test_run_search_stops_at_1000_results_but_counts_them_all(http):
    org = Org()
    org.github_add_repo("acme/busy")
    for n in range(1100):
        org.github_add_run("acme/busy", "CI", f"{n:040x}", 1_767_225_600_000 + n * 60_000)
    with SimulatorServer(org) as sim:
        base = f"{sim.url}/github/repos/acme/busy/actions/runs"
        page10 = http.get(base, params={"created": ">=2026-01-01", "per_page": 100, "page": 10}).json()
        assert page10["total_count"] == 1100 and len(page10["workflow_runs"]) == 100
        page11 = http.get(base, params={"created": ">=2026-01-01", "per_page": 100, "page": 11}).json()
        assert page11["total_count"] == 1100 and page11["workflow_runs"] == []
        unfiltered = http.get(base, params={"per_page": 100, "page": 11}).json()
        assert len(unfiltered["workflow_runs"]) == 100  # the cap applies to searches only


def test_org_repos_issues_and_rate_limit_endpoint(gen_sim, generated_org, http):
    repos, _ = walk(http, f"{gen_sim.url}/github/orgs/acme/repos?per_page=2")
    assert {r["full_name"] for r in repos} == set(generated_org.repos)
    incidents, _ = walk(http, f"{gen_sim.url}/github/repos/{REPO}/issues?labels=incident&state=all")
    assert incidents and all(i["labels"][0]["name"] == "incident" for i in incidents)
    everything, _ = walk(http, f"{gen_sim.url}/github/repos/{REPO}/issues?state=all&per_page=100")
    assert any("pull_request" in i for i in everything)  # GitHub lists PRs as issues too
    rate = http.get(f"{gen_sim.url}/github/rate_limit").json()
    assert set(rate["resources"]["core"]) == {"limit", "used", "remaining", "reset"}


def test_rate_limit_headers_count_down_per_token_until_403(http):
    with SimulatorServer(tiny_org(), github_rate_limit=3) as sim:
        url = f"{sim.url}/github/repos/acme/checkout"
        remaining = []
        for _ in range(3):
            response = http.get(url, headers={"Authorization": "Bearer one"})
            assert response.status_code == 200
            assert response.headers["X-RateLimit-Resource"] == "core"
            assert int(response.headers["X-RateLimit-Used"]) + int(response.headers["X-RateLimit-Remaining"]) == 3
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining == [2, 1, 0]
        limited = http.get(url, headers={"Authorization": "Bearer one"})
        assert limited.status_code == 403 and limited.headers["X-RateLimit-Remaining"] == "0"
        assert "rate limit" in limited.json()["message"]
        assert http.get(f"{sim.url}/github/rate_limit", headers={"Authorization": "Bearer one"}).status_code == 200
        other = http.get(url, headers={"Authorization": "token two"})
        assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "2"
        assert sim.rate_limit_remaining("one") == 0


@pytest.mark.parametrize("path", ["/repos/acme/nope", "/repos/acme/nope/pulls", "/repos/acme/checkout/nothing"])
def test_unknown_things_are_404_with_github_body(tiny_sim, http, path):
    response = http.get(f"{tiny_sim.url}/github{path}")
    assert response.status_code == 404
    body = response.json()
    assert body["message"] == "Not Found" and body["documentation_url"].startswith("https://docs.github.com")
    assert "X-RateLimit-Remaining" in response.headers


def test_github_mutations_show_up(tiny_sim, http):
    org = tiny_sim.org
    deployment = org.github_add_deployment("acme/checkout", "production", "2026-01-20T10:00Z")
    org.github_add_deployment_status("acme/checkout", deployment["id"], "success", "2026-01-20T10:07Z")
    listed = http.get(f"{tiny_sim.url}/github/repos/acme/checkout/deployments").json()
    assert listed[0]["id"] == deployment["id"] and listed[0]["updated_at"] == "2026-01-20T10:07:00Z"
    assert listed[0]["sha"] == org.github_head_sha("acme/checkout")
    pull = org.github_add_pull("acme/checkout", "FLOW-3 save cart", "2026-01-20T11:00Z", body="FLOW-3")
    org.github_merge_pull("acme/checkout", pull["number"], "2026-01-20T12:00Z")
    assert http.get(f"{tiny_sim.url}/github/repos/acme/checkout/pulls/{pull['number']}").json()["merged"] is True
    assert http.get(f"{tiny_sim.url}/github/repos/acme/checkout/commits").json()[0]["sha"] == pull["merge_commit_sha"]
