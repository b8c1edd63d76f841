"""A world served as it stood at an earlier moment (simulator/cut.py): the demo's nights, one world a day apart.

The hand-built case is scenarios.tiny_org() (its history is in that module's docstring) plus a few objects added
here, cut at 2026-01-08T11:00Z; every expected value below is read off that history by hand.
"""

from __future__ import annotations

from datetime import date

import pytest

from simulator import generate_org, tiny_org
from simulator.azure_devops_api import AzureDevOpsWorld
from simulator.cut import cut_org
from simulator.generator import horizon_for
from simulator.gitlab_api import GitLabData
from simulator.linear_api import LinearWorld
from simulator.model import SPRINT_FIELD, STORY_POINTS_FIELD
from simulator.timefmt import parse_ms

CUT = parse_ms("2026-01-08T11:00:00Z")
REPO = "acme/checkout"


@pytest.fixture(scope="module")
def cut_tiny():
    org = tiny_org()
    ada = org.jira_users["5b10a2844c20165700ede21a"]
    board = org.jira_add_board("FLOW", board_id=1)["id"]
    sprint1 = org.jira_add_sprint(board, "FLOW Sprint 1", "2026-01-05T09:00Z", "2026-01-16T17:00Z", "closed",
                                  complete="2026-01-16T18:00Z")
    org.jira_add_sprint(board, "FLOW Sprint 2", "2026-01-19T09:00Z", "2026-01-30T17:00Z", "future")
    org.jira_add_sprint(board, "FLOW Sprint 3", "2026-02-02T09:00Z", "2026-02-13T17:00Z", "future")
    # FLOW-2 after the cut: put in sprint 1, estimated, labelled; FLOW-5 assigned.
    flow2 = org.jira_issue("FLOW-2")["fields"]
    flow2.update({SPRINT_FIELD: [org.sprint_field_value(sprint1)], STORY_POINTS_FIELD: 3.0,
                  "labels": ["backend", "urgent"]})
    org.jira_add_history("FLOW-2", "2026-01-08T12:00Z", [
        {"field": "Sprint", "fieldtype": "custom", "fieldId": SPRINT_FIELD, "from": "", "fromString": "",
         "to": str(sprint1["id"]), "toString": sprint1["name"]},
        {"field": "Story point estimate", "fieldtype": "custom", "fieldId": STORY_POINTS_FIELD, "from": None,
         "fromString": None, "to": None, "toString": "3"},
        {"field": "labels", "fieldtype": "jira", "fieldId": "labels", "from": None, "fromString": "backend",
         "to": None, "toString": "backend urgent"}], author=ada)
    org.jira_issue("FLOW-5")["fields"]["assignee"] = ada
    org.jira_add_history("FLOW-5", "2026-01-08T12:30Z", [
        {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee", "from": None, "fromString": None,
         "to": ada["accountId"], "toString": ada["displayName"]}], author=ada)
    # An epic done after the cut, with a child; FLOW-4 in sprint 1 from its creation; an issue created after the
    # cut that FLOW-1 blocks; FLOW-2 blocks FLOW-4.
    org.jira_create_issue("FLOW", "Epic", "Checkout v2", "2026-01-05T08:00Z", key="FLOW-7", assignee=ada)
    org.jira_create_issue("FLOW", "Story", "Express pay", "2026-01-06T08:00Z", key="FLOW-8", parent="FLOW-7",
                          assignee=ada)
    org.jira_add_transition("FLOW-7", "Done", "2026-01-08T12:00Z", author=ada)
    org.jira_issue("FLOW-4")["fields"][SPRINT_FIELD] = [org.sprint_field_value(sprint1)]
    org.jira_create_issue("FLOW", "Bug", "Coupon rounding", "2026-01-08T12:00Z", key="FLOW-6", assignee=ada)
    org.jira_link_blocks("FLOW-1", "FLOW-6")
    org.jira_link_blocks("FLOW-2", "FLOW-4")

    # GitHub: a run across the cut, a run re-run after it, an incident closed after it, a release after it, a
    # deployment finishing after it.
    sha = org.github_head_sha(REPO)
    org.github_add_run(REPO, "CI", sha, "2026-01-08T10:58Z", conclusion="success", duration_s=360, run_id=204)
    rerun = org.github_add_run(REPO, "CI", sha, "2026-01-08T10:00Z", conclusion="success", run_attempt=2, run_id=205)
    rerun.update(run_started_at="2026-01-08T11:30:00Z", updated_at="2026-01-08T11:36:00Z",
                 previous_attempt_url=rerun["url"] + "/attempts/1")
    org.github_add_issue(REPO, "Checkout down", "2026-01-08T08:00Z", labels=["incident"],
                         closed_at="2026-01-08T12:00Z", number=40)
    org.github_add_release(REPO, "v1.1.0", "2026-01-08T12:30Z")
    org.github_add_deployment(REPO, "production", "2026-01-08T10:50Z", deployment_id=106)
    org.github_add_deployment_status(REPO, 106, "in_progress", "2026-01-08T10:50Z")
    org.github_add_deployment_status(REPO, 106, "success", "2026-01-08T11:05Z")
    org.outcomes = {"kpis": [{"kpi": "conversion", "observed_on": "2026-01-07", "value": 3.1},
                             {"kpi": "conversion", "observed_on": "2026-01-08", "value": 3.2}],
                    "key_results": [{"key_result_id": "KR-1", "start_on": "2026-01-01", "due_on": "2026-03-31"}]}
    cut_org(org, CUT)
    return org


def fields(org, key):
    return org.jira_issue(key)["fields"]


def test_issues_stand_as_their_kept_histories_leave_them(cut_tiny):
    got = {key: (fields(cut_tiny, key)["status"]["name"], (fields(cut_tiny, key)["resolution"] or {}).get("name"),
                 fields(cut_tiny, key)["resolutiondate"], fields(cut_tiny, key)["updated"],
                 fields(cut_tiny, key)["statuscategorychangedate"], len(cut_tiny.jira_histories(key)))
           for key in ("FLOW-1", "FLOW-2", "FLOW-3", "FLOW-4", "FLOW-5", "FLOW-7")}
    assert got == {
        # In Review since 01-08 09:00; Done (01-09) is after the cut. In progress since 01-06.
        "FLOW-1": ("In Review", None, None, "2026-01-08T09:00:00.000+0000", "2026-01-06T09:00:00.000+0000", 2),
        # Blocked 01-08 10:00; the sprint, estimate and label edit of 12:00 are gone with it.
        "FLOW-2": ("Blocked", None, None, "2026-01-08T10:00:00.000+0000", "2026-01-07T10:00:00.000+0000", 2),
        # Done on 01-08 08:00 (resolved then), reopened only on 01-09.
        "FLOW-3": ("Done", "Done", "2026-01-08T08:00:00.000+0000", "2026-01-08T08:00:00.000+0000",
                   "2026-01-08T08:00:00.000+0000", 2),
        # Started at 12:00, after the cut: as created.
        "FLOW-4": ("To Do", None, None, "2026-01-07T12:00:00.000+0000", "2026-01-07T12:00:00.000+0000", 0),
        "FLOW-5": ("To Do", None, None, "2026-01-07T12:00:00.000+0000", "2026-01-07T12:00:00.000+0000", 0),
        "FLOW-7": ("To Do", None, None, "2026-01-05T08:00:00.000+0000", "2026-01-05T08:00:00.000+0000", 0),
    }
    flow2 = fields(cut_tiny, "FLOW-2")
    assert (flow2[SPRINT_FIELD], flow2[STORY_POINTS_FIELD], flow2["labels"]) == (None, None, ["backend"])
    assert fields(cut_tiny, "FLOW-5")["assignee"] is None
    assert fields(cut_tiny, "FLOW-4")["assignee"]["displayName"] == "Ada Lovelace"  # assigned when created


def test_later_issues_are_gone_and_what_points_at_issues_shows_them_at_the_cut(cut_tiny):
    with pytest.raises(KeyError):
        cut_tiny.jira_issue("FLOW-6")
    assert cut_tiny.jira_index("FLOW") and len(cut_tiny.jira_issues) == 7
    assert fields(cut_tiny, "FLOW-1")["issuelinks"] == []  # its link to FLOW-6 went with it
    (link,) = fields(cut_tiny, "FLOW-4")["issuelinks"]
    assert (link["inwardIssue"]["key"], link["inwardIssue"]["fields"]["status"]["name"]) == ("FLOW-2", "Blocked")
    assert fields(cut_tiny, "FLOW-8")["parent"]["fields"]["status"]["name"] == "To Do"


def test_sprints_have_their_state_at_the_cut(cut_tiny):
    sprints = [(s["name"], s["state"], "completeDate" in s) for s in cut_tiny.jira_sprints[1]]
    assert sprints == [("FLOW Sprint 1", "active", False), ("FLOW Sprint 2", "future", False)]
    (value,) = fields(cut_tiny, "FLOW-4")[SPRINT_FIELD]
    assert (value["name"], value["state"], "completeDate" in value) == ("FLOW Sprint 1", "active", False)


def test_github_stands_as_it_did_at_the_cut(cut_tiny):
    store = cut_tiny.repos[REPO]
    assert [c["commit"]["message"] for c in store.commits] == [
        "Initial commit", "Cart page skeleton", "Tweak checkout copy", "Switch payment provider"]
    assert store.repo["pushed_at"] == "2026-01-07T14:00:00Z"
    assert sorted(store.pulls) == [1] and store.next_number == 41  # #2 and #3 were opened later; incident #40
    pr = store.pulls[1]
    # merged at 12:00: open at 11:00, last touched by the approval at 10:00
    assert (pr["state"], pr["merged_at"], pr["closed_at"], pr["merge_commit_sha"], pr["updated_at"]) == (
        "open", None, None, None, "2026-01-08T10:00:00Z")
    assert [r["state"] for r in store.reviews[1]] == ["APPROVED"] and len(store.pr_commits[1]) == 2
    assert sorted(store.deployments) == [101, 102, 103, 106]
    assert [s["state"] for s in store.deployment_statuses[106]] == ["in_progress"]
    assert store.deployments[106]["updated_at"] == "2026-01-08T10:50:00Z"
    assert [s["state"] for s in store.deployment_statuses[103]] == ["in_progress", "failure"]
    runs = {i: (r["status"], r["conclusion"], r["run_attempt"], r["run_started_at"], r["updated_at"])
            for i, r in store.runs.items()}
    assert runs == {
        201: ("completed", "success", 1, "2026-01-05T14:05:00Z", "2026-01-05T14:11:00Z"),
        202: ("completed", "failure", 1, "2026-01-07T14:05:00Z", "2026-01-07T14:11:00Z"),
        # 10:58 + 6 minutes ends after the cut
        204: ("in_progress", None, 1, "2026-01-08T10:58:00Z", "2026-01-08T10:58:00Z"),
        # re-run at 11:30: its first attempt ran 10:00-10:06 (as long as the second) and failed
        205: ("completed", "failure", 1, "2026-01-08T10:00:00Z", "2026-01-08T10:06:00Z"),
    }
    assert store.runs[205]["previous_attempt_url"] is None
    assert [j["status"] for j in cut_tiny.github_jobs(REPO, 204)][:1] == ["in_progress"]
    incident = store.issues[40]
    assert (incident["state"], incident["closed_at"], incident["updated_at"]) == ("open", None, "2026-01-08T08:00:00Z")
    assert store.releases == {} and "v1.1.0" not in store.tags


def test_outcomes_dated_on_or_after_the_cut_day_are_gone(cut_tiny):
    assert [row["observed_on"] for row in cut_tiny.outcomes["kpis"]] == ["2026-01-07"]
    assert len(cut_tiny.outcomes["key_results"]) == 1


def test_a_demo_world_lasts_eight_weeks_ending_on_the_default_day_every_eighth_week():
    assert [horizon_for(date.fromisoformat(d)).isoformat() for d in (
        "2026-10-31", "2026-10-24", "2026-09-06", "2026-09-05", "2026-11-01", "2026-12-05", "2026-12-26")] == [
        "2026-10-31", "2026-10-31", "2026-10-31", "2026-09-05", "2026-12-26", "2026-12-26", "2026-12-26"]


# ---- the generated world: a night is the night before plus what happened between them


@pytest.fixture(scope="module")
def nights():
    """The demo world of horizon 2026-10-31 on the night of 10-24 and on 10-31 (the world itself)."""
    return generate_org(as_of=date(2026, 10, 24), horizon=date(2026, 10, 31)), generate_org()


WEEK_BEFORE = parse_ms("2026-10-24T00:00:00Z")


def test_nothing_of_the_cut_day_or_after_is_served(nights):
    before, _ = nights
    assert before.cut_ms == WEEK_BEFORE
    times = [parse_ms(h["created"]) for hs in before.jira_changelogs.values() for h in hs]
    times += [parse_ms(i["fields"]["updated"]) for i in before.jira_issues.values()]
    for store in before.repos.values():
        times += [parse_ms(p["updated_at"]) for p in store.pulls.values()]
        times += [parse_ms(s["created_at"]) for ss in store.deployment_statuses.values() for s in ss]
        times += [parse_ms(r["updated_at"]) for r in store.runs.values()]
    assert max(times) < WEEK_BEFORE
    assert max(times) >= WEEK_BEFORE - 2 * 86_400_000  # and work went on until just before it


def test_what_did_not_change_between_two_nights_is_served_identically(nights):
    before, after = nights
    assert set(before.jira_issues) < set(after.jira_issues)
    unchanged = [i for i, hs in after.jira_changelogs.items()
                 if i in before.jira_issues and all(parse_ms(h["created"]) < WEEK_BEFORE for h in hs)]
    assert len(unchanged) > 300
    for ident in unchanged:
        old, new = before.jira_issues[ident], after.jira_issues[ident]
        # sprint states, links' and parents' statuses may have moved without the issue itself changing
        shown = ("issuelinks", "parent", SPRINT_FIELD)
        assert {k: v for k, v in old["fields"].items() if k not in shown} == \
            {k: v for k, v in new["fields"].items() if k not in shown}, old["key"]
        assert before.jira_changelogs[ident] == after.jira_changelogs[ident]
    moved = [i for i in before.jira_issues if i not in unchanged]
    assert moved and all(before.jira_issues[i]["key"] == after.jira_issues[i]["key"] for i in moved)
    for name, store in before.repos.items():
        later = after.repos[name]
        assert set(store.pulls) <= set(later.pulls) and set(store.deployments) <= set(later.deployments)
        for number, pr in store.pulls.items():
            if pr["state"] == "closed":  # closed before the cut, nothing after it
                # (head and base embed the repository, whose pushed_at moves on)
                assert {k: v for k, v in pr.items() if k not in ("head", "base")} == \
                    {k: v for k, v in later.pulls[number].items() if k not in ("head", "base")}
                assert [pr[e]["sha"] for e in ("head", "base")] == [later.pulls[number][e]["sha"] for e in ("head", "base")]
                assert store.reviews[number] == later.reviews[number]
        for ident, statuses in store.deployment_statuses.items():
            if statuses == later.deployment_statuses[ident]:
                assert store.deployments[ident] == later.deployments[ident]
        for ident, run in store.runs.items():
            if run["status"] == "completed" and run["run_attempt"] == later.runs[ident]["run_attempt"]:
                assert run == later.runs[ident]


def test_derived_apis_keep_their_ids_between_nights(nights):
    """GitLab numbers what it derives in derivation order: the night before must not renumber it."""
    before, after = (GitLabData(org) for org in nights)
    for path, project in before.projects.items():
        later = after.projects[path]
        ids = {d["id"]: (d["sha"], d["created_at"]) for d in later.deployments}
        assert all(ids[d["id"]] == (d["sha"], d["created_at"]) for d in project.deployments)
        assert all(later.merge_requests[iid]["id"] == mr["id"] for iid, mr in project.merge_requests.items())
        notes = {n["id"]: n for ns in later.mr_notes.values() for n in ns}
        assert all(notes[n["id"]] == n for ns in project.mr_notes.values() for n in ns)
        assert len(project.deployments) <= len(later.deployments)
    assert sum(len(p.deployments) for p in before.projects.values()) < \
        sum(len(p.deployments) for p in after.projects.values())


def test_the_worlds_beside_the_org_are_cut_at_the_same_moment(nights):
    before, after = nights
    start, horizon = before.history_window_ms
    assert (start, horizon) == after.history_window_ms
    ado_before, ado_after = (AzureDevOpsWorld(start, horizon, cut_ms=before.cut_ms), AzureDevOpsWorld(start, horizon))
    assert set(ado_before.items) < set(ado_after.items)
    same = [w for w, updates in ado_after.updates.items()
            if w in ado_before.items and all(parse_ms(u["fields"]["System.ChangedDate"]["newValue"]) < WEEK_BEFORE
                                             for u in updates)]
    assert same and all(ado_before.items[w] == ado_after.items[w] for w in same)
    builds = {b["id"]: b for b in ado_after.builds}
    assert ado_before.builds and all(builds[b["id"]] == b for b in ado_before.builds)
    linear_before, linear_after = LinearWorld(start, horizon, cut_ms=before.cut_ms), LinearWorld(start, horizon)
    later = {i["id"]: i for i in linear_after.issues}
    assert {i["id"] for i in linear_before.issues} < set(later)
    for issue in linear_before.issues:
        if parse_ms(later[issue["id"]]["updatedAt"]) < WEEK_BEFORE:
            assert issue == later[issue["id"]]
    assert max(parse_ms(i["updatedAt"]) for i in linear_before.issues) < WEEK_BEFORE
