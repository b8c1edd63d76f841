"""The generated organisation: deterministic, growing with scale, internally consistent, and rich enough."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from statistics import mean, median

from connectors.simulator import generate_org
from connectors.simulator.generator import ANCHOR_MS, INITIATIVES, START_MS
from connectors.simulator.timefmt import ms_to_dt, parse_ms


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
    # Every issue but the six initiatives (two per project, INITIATIVES) grows with the scale.
    initiatives = sum(len(names) for names in INITIATIVES.values())
    assert initiatives == 6
    assert len(bigger.jira_issues) - initiatives == 3 * (len(generated_org.jira_issues) - initiatives)
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


# ---- what the generator plants on purpose (org.planted), checked against the data an API client reads


def _status_moves(org, project: str):
    """Per work item (epics and initiatives left out) of `project`: [(UTC datetime, status entered)]."""
    for issue_id, issue in org.jira_issues.items():
        fields = issue["fields"]
        if fields["project"]["key"] != project or fields["issuetype"]["name"] in ("Epic", "Initiative"):
            continue
        yield [(ms_to_dt(parse_ms(h["created"])), item["toString"]) for h in org.jira_changelogs[issue_id]
               for item in h["items"] if item["field"] == "status"]


def test_initiatives_are_parents_of_epics(generated_org):
    org = generated_org
    by_key = {i["key"]: i for i in org.jira_issues.values()}
    initiatives = org.planted["initiatives"]
    assert sorted(initiatives) == ["CHK-1", "CHK-2", "PAY-1", "PAY-2", "PLAT-1", "PLAT-2"]
    for key, epics in initiatives.items():
        assert by_key[key]["fields"]["issuetype"] == {**by_key[key]["fields"]["issuetype"], "name": "Initiative",
                                                      "hierarchyLevel": 2}
        for epic in epics:
            assert by_key[epic]["fields"]["issuetype"]["name"] == "Epic"
            assert by_key[epic]["fields"]["parent"]["key"] == key
    linked = sum(len(e) for e in initiatives.values())
    epics = [i for i in org.jira_issues.values() if i["fields"]["issuetype"]["name"] == "Epic"]
    assert linked == len([e for e in epics if "parent" in e["fields"]]) and 0 < linked < len(epics)
    for epic, items in org.planted["epic_items"].items():
        assert all(by_key[item]["fields"]["parent"]["key"] == epic for item in items)


def test_planted_review_bottleneck(generated_org):
    fact = generated_org.planted["review_bottleneck"]
    assert (fact["project"], fact["status"], fact["first_week"], fact["end_week"]) == (
        "PAY", "In Review", "2026-06-29", "2026-07-27")
    first, end = date.fromisoformat(fact["first_week"]), date.fromisoformat(fact["end_week"])
    inside, outside = [], []
    for moves in _status_moves(generated_org, "PAY"):
        for (at, status), (left, _) in zip(moves, moves[1:]):
            if status == "In Review":
                (inside if first <= at.date() < end else outside).append((left - at).total_seconds() / 3600)
    # 21 review stints start in the four weeks, median 123.6 h; the other 129 have a median of 15.4 h.
    assert len(inside) >= 15 and median(inside) > 4 * median(outside)


def test_planted_wip_surge(generated_org):
    fact = generated_org.planted["wip_surge"]
    assert (fact["project"], fact["first_week"], fact["end_week"]) == ("CHK", "2026-08-10", "2026-09-07")

    def wip(monday: date) -> int:  # items in progress, review or blocked when the week starts
        count = 0
        for moves in _status_moves(generated_org, "CHK"):
            status = None
            for at, entered in moves:
                if at.date() < monday:
                    status = entered
            count += status in ("In Progress", "In Review", "Blocked")
        return count

    first, end = date.fromisoformat(fact["first_week"]), date.fromisoformat(fact["end_week"])
    before = [wip(first - timedelta(weeks=k)) for k in range(0, 14)]
    during = [wip(first + timedelta(weeks=k)) for k in range(1, 5)]  # 08-17 .. 09-07
    # WIP at the Mondays: at most 7 in the 14 weeks before; 14, 19, 24, 23 during (above the default
    # wip_limit of 20 of seed signal_rules); 10 three weeks after the surge, as the late items finish.
    assert min(during) > 1.5 * max(before) and max(during) > 20
    assert wip(end + timedelta(weeks=3)) <= max(during) / 2


def test_planted_change_fail_rate_spike(generated_org):
    fact = generated_org.planted["cfr_spike"]
    assert (fact["service"], fact["first_week"], fact["end_week"]) == ("acme/platform-infra", "2026-09-14", "2026-10-05")
    first, end = date.fromisoformat(fact["first_week"]), date.fromisoformat(fact["end_week"])
    store = generated_org.repos[fact["service"]]
    counts = {True: [0, 0], False: [0, 0]}  # in the spike weeks? -> [finished deployments, failed]
    for dep_id, dep in store.deployments.items():
        final = [s["state"] for s in store.deployment_statuses[dep_id] if s["state"] != "inactive"][-1]
        if dep["environment"] != "production" or final not in ("success", "failure", "error"):
            continue
        bucket = counts[first <= date.fromisoformat(dep["created_at"][:10]) < end]
        bucket[0] += 1
        bucket[1] += final in ("failure", "error")
    # 6 of 15 production deployments fail in the three weeks (40%); 1 of 11 in the other 23 weeks
    assert counts[True][0] >= 10 and counts[True][1] / counts[True][0] >= 0.3
    assert counts[False][1] / counts[False][0] <= 0.1


def test_planted_kpi_steps_follow_the_epics_first_shipment(generated_org):
    org = generated_org
    effects = {e["kpi"]: e for e in org.planted["kpi_effects"]}
    assert sorted(effects) == ["checkout_conversion", "cloud_cost_per_order", "payment_success_rate"]
    deployments = {d["id"]: (s, d) for s in org.repos.values() for d in s.deployments.values()}
    noise = {"checkout_conversion": 0.05, "payment_success_rate": 0.2, "cloud_cost_per_order": 0.01}
    for kpi, effect in effects.items():
        store, dep = deployments[effect["deployment_id"]]
        states = [s["state"] for s in store.deployment_statuses[dep["id"]]]
        assert dep["environment"] == "production" and "success" in states
        shipped = org.planted["epics_shipped"][effect["epic_key"]]
        assert shipped["attempt_deployment_id"] == shipped["deployment_id"] == dep["id"]
        # the deployment carries a merged PR of one of the epic's items
        items = set(org.planted["epic_items"][effect["epic_key"]])
        assert any(p["merged_at"] and p["merged_at"] <= dep["created_at"] and any(k in p["title"] for k in items)
                   for p in store.pulls.values())
        day = date.fromisoformat(effect["shipped_on"])
        values = [(date.fromisoformat(r["observed_on"]), r["value"]) for r in org.outcomes["kpis"] if r["kpi"] == kpi]
        before = [v for d, v in values if day - timedelta(days=28) <= d <= day]
        after = [v for d, v in values if day < d <= day + timedelta(days=28)]
        # e.g. checkout conversion: 29 days averaging 3.009 before, 28 averaging 3.493 after: +0.484 for +0.5
        assert abs(mean(after) - mean(before) - effect["effect"]) <= noise[kpi]
    key_results = {kr["key_result_id"]: kr for kr in org.outcomes["key_results"]}
    assert key_results["KR-1"]["links"] == f"epic:{effects['checkout_conversion']['epic_key']}"
    assert key_results["KR-2"]["links"] == f"initiative:{effects['payment_success_rate']['initiative_key']}"
    assert effects["payment_success_rate"]["epic_key"] in org.planted["initiatives"][
        effects["payment_success_rate"]["initiative_key"]]


def test_planted_survey_drops(generated_org):
    org = generated_org
    drops = {(d["team"], d["dimension"], d["surveyed_on"]) for d in org.planted["survey_drops"]}
    assert drops == {("Payments", "review turnaround", "2026-07-28"), ("Checkout", "focus time", "2026-08-28"),
                     ("Platform", "ease of release", "2026-09-28")}
    for team, dimension, day in drops:
        scores = {r["surveyed_on"]: r["score"] for r in org.outcomes["surveys"]
                  if (r["team"], r["dimension"]) == (team, dimension)}
        others = [s for d, s in scores.items() if d != day]
        assert scores[day] <= min(others) - 0.8  # a drop of 1.2 against noise of +-0.2
