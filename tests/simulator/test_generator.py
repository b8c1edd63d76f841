"""The generated organisation: deterministic, growing with scale, internally consistent, and rich enough."""

from __future__ import annotations

import json
from collections import Counter

from connectors.simulator import generate_org
from connectors.simulator.generator import ANCHOR_MS, START_MS
from connectors.simulator.timefmt import parse_ms


def snapshot(org) -> str:
    """Everything an API client could read, as one string."""
    github = {
        name: {
            "repo": s.repo,
            "pulls": s.pulls,
            "reviews": s.reviews,
            "pr_commits": s.pr_commits,
            "commits": s.commits,
            "deployments": s.deployments,
            "statuses": s.deployment_statuses,
            "releases": s.releases,
            "runs": s.runs,
            "jobs": {run_id: org.github_jobs(name, run_id) for run_id in s.runs},
            "issues": s.issues,
        }
        for name, s in org.repos.items()
    }
    jira = [org.jira_statuses, org.jira_fields, org.jira_projects, org.jira_issues, org.jira_changelogs,
            org.jira_boards, org.jira_sprints]
    return json.dumps([jira, github], sort_keys=True, default=str)


def test_same_seed_gives_the_same_organisation(generated_org):
    assert snapshot(generate_org(seed=7, scale=1)) == snapshot(generated_org)


def test_another_seed_gives_another_organisation(generated_org):
    assert snapshot(generate_org(seed=8, scale=1)) != snapshot(generated_org)


def test_issue_count_grows_linearly_with_scale(generated_org):
    bigger = generate_org(seed=7, scale=3)
    assert 300 <= len(generated_org.jira_issues) <= 600
    assert len(bigger.jira_issues) == 3 * len(generated_org.jira_issues)
    pulls = sum(len(s.pulls) for s in generated_org.repos.values())
    assert sum(len(s.pulls) for s in bigger.repos.values()) > 2 * pulls


def test_demo_sized_volumes(generated_org):
    repos = generated_org.repos
    pulls = sum(len(s.pulls) for s in repos.values())
    deployments = sum(len(s.deployments) for s in repos.values())
    assert 70 <= pulls <= 200
    assert 40 <= deployments <= 120
    assert {"acme/payments-api", "acme/checkout-web", "acme/platform-infra"} <= set(repos)
    assert repos["acme/legacy-billing"].repo["archived"] is True
    assert set(generated_org.jira_projects) == {"PAY", "CHK", "PLAT"}


def test_history_stays_inside_the_fixed_window(generated_org):
    for issue in generated_org.jira_issues.values():
        assert START_MS <= parse_ms(issue["fields"]["created"]) <= parse_ms(issue["fields"]["updated"]) < ANCHOR_MS
    for store in generated_org.repos.values():
        for run in store.runs.values():
            assert parse_ms(run["created_at"]) < ANCHOR_MS


def test_issue_fields_agree_with_their_changelog(generated_org):
    org = generated_org
    category = {s["name"]: s["statusCategory"]["key"] for s in org.jira_statuses}
    for issue_id, issue in org.jira_issues.items():
        fields = issue["fields"]
        histories = org.jira_changelogs[issue_id]
        times = [parse_ms(h["created"]) for h in histories]
        assert times == sorted(times)
        moves = [item for h in histories for item in h["items"] if item["field"] == "status"]
        for before, after in zip(moves, moves[1:]):
            assert after["fromString"] == before["toString"]
        if moves:
            assert moves[-1]["toString"] == fields["status"]["name"]
        assert parse_ms(fields["updated"]) == max([parse_ms(fields["created"])] + times)
        done = category[fields["status"]["name"]] == "done"
        assert (fields["resolutiondate"] is not None) == done == (fields["resolution"] is not None)


def test_history_has_every_pattern_the_metrics_need(generated_org):
    org = generated_org
    statuses = Counter(i["fields"]["status"]["name"] for i in org.jira_issues.values())
    assert {"To Do", "Backlog", "In Progress", "Done", "Won't Do"} <= set(statuses)
    paths = [[it["toString"] for h in org.jira_changelogs[i] for it in h["items"] if it["field"] == "status"]
             for i in org.jira_issues]
    assert any("Blocked" in p for p in paths)
    assert any(a == "In Review" and b == "In Progress" for p in paths for a, b in zip(p, p[1:]))  # rework
    assert any(a == "Done" and b == "In Progress" for p in paths for a, b in zip(p, p[1:]))  # reopened
    children = [i for i in org.jira_issues.values() if "parent" in i["fields"]]
    assert children and all(c["fields"]["parent"]["key"] in {i["key"] for i in org.jira_issues.values()}
                            for c in children)
    assert max(len(h) for h in org.jira_changelogs.values()) > 100  # embedded changelogs get truncated
    assert any(len(h["items"]) > 1 for hs in org.jira_changelogs.values() for h in hs)

    pulls = [p for s in org.repos.values() for p in s.pulls.values()]
    keys = {i["key"] for i in org.jira_issues.values()}
    assert sum(any(k in (p["body"] or "") for k in keys) for p in pulls) > len(pulls) / 2
    assert any(p["state"] == "open" for p in pulls)
    assert any(p["state"] == "closed" and not p["merged_at"] for p in pulls)
    assert any(p["user"]["login"] == "dependabot[bot]" for p in pulls)
    states = Counter(st["state"] for s in org.repos.values() for sts in s.deployment_statuses.values() for st in sts)
    assert {"success", "failure", "in_progress", "inactive"} <= set(states)
    runs = [r for s in org.repos.values() for r in s.runs.values()]
    assert {"success", "failure"} <= {r["conclusion"] for r in runs}
    assert any(r["status"] == "in_progress" and r["conclusion"] is None for r in runs)
    incidents = [i for s in org.repos.values() for i in s.issues.values()]
    assert incidents and all("incident" in {lb["name"] for lb in i["labels"]} for i in incidents)


def test_ids_grow_with_creation_time_across_repositories(generated_org):
    for kind in ("pulls", "deployments", "runs"):
        rows = sorted((o["created_at"], o["id"]) for s in generated_org.repos.values()
                      for o in getattr(s, kind).values())
        ids = [i for _, i in rows]
        assert ids == sorted(ids), kind


def test_jobs_are_derived_on_demand_and_stable(generated_org):
    store = generated_org.repos["acme/checkout-web"]
    run_id = next(iter(store.runs))
    jobs = generated_org.github_jobs("acme/checkout-web", run_id)
    assert jobs == generated_org.github_jobs("acme/checkout-web", run_id)
    assert all(j["run_id"] == run_id for j in jobs)


def test_generated_and_hand_made_objects_have_one_shape(generated_org):
    org = generated_org
    generated = next(i for i in org.jira_issues.values() if "parent" not in i["fields"])
    other = generate_org(seed=7, scale=1)
    made = other.jira_create_issue("PAY", "Story", "Hand made", "2026-10-30T10:00Z")
    assert list(made) == list(generated)
    assert list(made["fields"]) == list(generated["fields"])
    store = org.repos["acme/payments-api"]
    pull = other.github_add_pull("acme/payments-api", "PAY-1 x", "2026-10-30T10:00Z")
    assert list(pull) == list(next(iter(store.pulls.values())))
    run = other.github_add_run("acme/payments-api", "CI", "a" * 40, "2026-10-30T10:00Z")
    assert list(run) == list(next(iter(store.runs.values())))
