"""Hand-built organisations whose every number can be checked by hand.

``tiny_org()`` is the end-to-end test's known history. All times are UTC.

Jira (site https://acme.atlassian.net; calling user's time zone America/New_York)
  Statuses: To Do (1, new), In Progress (3, indeterminate), Blocked (10001, indeterminate),
            In Review (10002, indeterminate), Done (10003, done), Won't Do (10004, done).
  Project FLOW "Flow" (id 10000), scrum board 1 (no sprints). Issue ids 10001-10005 in key order.
  FLOW-1 Story  created 2026-01-05T09:00; To Do->In Progress 01-06T09:00; ->In Review 01-08T09:00;
                ->Done 01-09T09:00.                                updated/resolved 2026-01-09T09:00
  FLOW-2 Bug    created 2026-01-05T10:00; ->In Progress 01-07T10:00; ->Blocked 01-08T10:00;
                ->In Progress 01-10T10:00; ->Done 01-12T10:00.    updated/resolved 2026-01-12T10:00
  FLOW-3 Story  created 2026-01-06T08:00; ->In Progress 01-07T08:00; ->Done 01-08T08:00;
                ->In Progress 01-09T08:00 (reopened: resolution cleared); ->Done 01-13T08:00.
                                                                  updated/resolved 2026-01-13T08:00
  FLOW-4 Task   created 2026-01-07T12:00; ->In Progress 01-08T12:00; still In Progress.
                                                                  updated 2026-01-08T12:00, unresolved
  FLOW-5 Story  created 2026-01-07T12:00; ->Won't Do 01-09T12:00 (resolution "Won't Do").
                                                                  updated/resolved 2026-01-09T12:00
  One changelog history per transition (13 in all, ids 100001-100013 in the order above); a history
  entering a done-category status also carries a resolution item, the reopening one clears it.
  FLOW-1..4 are assigned to Ada Lovelace; FLOW-5 is unassigned.

GitHub: repository acme/checkout (default branch main), linear history on main:
  c0 "Initial commit"                      2026-01-02T10:00
  c1 "Cart page skeleton"                  2026-01-05T14:00
  c2 "Tweak checkout copy"                 2026-01-06T14:00
  c3 "Switch payment provider"             2026-01-07T14:00
  c4 "FLOW-1 add cart (#1)"                2026-01-08T12:00  (merge of PR #1)
  c5 "FLOW-2 fix tax (#2)"                 2026-01-12T09:00  (merge of PR #2)
  Pull requests (bodies name the Jira key; merged PRs have one APPROVED review):
    #1 "FLOW-1 add cart"  created 2026-01-06T10:00, approved 01-08T10:00, merged 2026-01-08T12:00 as c4
    #2 "FLOW-2 fix tax"   created 2026-01-10T11:00, approved 01-12T08:00, merged 2026-01-12T09:00 as c5
    #3 "FLOW-4 wip"       created 2026-01-08T13:00, open (draft)
  Deployments (id, environment, sha, created; statuses oldest first):
    101 production c1 2026-01-05T15:00  in_progress 15:00, success 2026-01-05T15:10
    102 staging    c2 2026-01-06T15:00  in_progress 15:00, success 2026-01-06T15:05
    103 production c3 2026-01-07T15:00  in_progress 15:00, failure 2026-01-07T15:20
    104 production c4 2026-01-08T15:00  in_progress 15:00, success 2026-01-08T15:10
    105 production c5 2026-01-13T15:00  in_progress 15:00, success 2026-01-13T15:10
  Hand-computed consequences: 4 production deployments, 3 successful, 1 failed (change failure rate
  1/4); the failure (103, 15:20 on 01-07) is restored by 104 at 2026-01-08T15:10 (time to restore 23h50m);
  PR #1's change (merged 01-08T12:00, first commit 01-06T10:00) reaches production with 104 at
  01-08T15:10; PR #2's (merged 01-12T09:00) with 105 at 01-13T15:10.
  Workflow runs of workflow "CI" (event push, branch main), 5 minutes after their commit, 6 minutes long:
    201 on c1 success, 202 on c3 failure, 203 on c4 success.
"""

from __future__ import annotations

from .model import Org

# The workflow every simulated Jira project shares: (name, status category, id).
WORKFLOW_STATUSES = (
    ("To Do", "new", 1),
    ("In Progress", "indeterminate", 3),
    ("Blocked", "indeterminate", 10001),
    ("In Review", "indeterminate", 10002),
    ("Done", "done", 10003),
    ("Won't Do", "done", 10004),
)


def tiny_org() -> Org:
    org = Org()
    for name, category, ident in WORKFLOW_STATUSES:
        org.jira_add_status(name, category, ident)
    org.jira_add_project("FLOW", "Flow", 10000)
    ada = org.jira_add_user("Ada Lovelace", account_id="5b10a2844c20165700ede21a")

    issues = [
        ("FLOW-1", "Story", "Add cart", "2026-01-05T09:00Z", ada, [
            ("In Progress", "2026-01-06T09:00Z"), ("In Review", "2026-01-08T09:00Z"), ("Done", "2026-01-09T09:00Z")]),
        ("FLOW-2", "Bug", "Tax is computed on shipping", "2026-01-05T10:00Z", ada, [
            ("In Progress", "2026-01-07T10:00Z"), ("Blocked", "2026-01-08T10:00Z"),
            ("In Progress", "2026-01-10T10:00Z"), ("Done", "2026-01-12T10:00Z")]),
        ("FLOW-3", "Story", "Save cart between visits", "2026-01-06T08:00Z", ada, [
            ("In Progress", "2026-01-07T08:00Z"), ("Done", "2026-01-08T08:00Z"),
            ("In Progress", "2026-01-09T08:00Z"), ("Done", "2026-01-13T08:00Z")]),
        ("FLOW-4", "Task", "Upgrade the payment SDK", "2026-01-07T12:00Z", ada, [
            ("In Progress", "2026-01-08T12:00Z")]),
        ("FLOW-5", "Story", "Gift wrapping", "2026-01-07T12:00Z", None, [
            ("Won't Do", "2026-01-09T12:00Z")]),
    ]
    for n, (key, issue_type, summary, created, assignee, moves) in enumerate(issues, start=1):
        org.jira_create_issue("FLOW", issue_type, summary, created, key=key, issue_id=10000 + n,
                              assignee=assignee, reporter=ada)
        for status, at in moves:
            org.jira_add_transition(key, status, at, author=ada)

    repo = "acme/checkout"
    org.github_add_repo(repo, description="Checkout web app", created_at="2025-06-01T09:00:00Z")
    org.github_add_commit(repo, "Initial commit", "2026-01-02T10:00Z", author="ada")
    c1 = org.github_add_commit(repo, "Cart page skeleton", "2026-01-05T14:00Z", author="ada")["sha"]
    c2 = org.github_add_commit(repo, "Tweak checkout copy", "2026-01-06T14:00Z", author="grace")["sha"]
    c3 = org.github_add_commit(repo, "Switch payment provider", "2026-01-07T14:00Z", author="grace")["sha"]

    org.github_add_pull(repo, "FLOW-1 add cart", "2026-01-06T10:00Z", user="ada", number=1,
                        body="Implements FLOW-1: a cart page.", head_ref="feature/FLOW-1-add-cart",
                        commits=[("Add cart page", "2026-01-06T09:30Z"), ("Cart totals", "2026-01-07T16:00Z")])
    org.github_add_pull(repo, "FLOW-4 wip", "2026-01-08T13:00Z", user="ada", number=3, draft=True,
                        body="Work in progress on FLOW-4.", head_ref="task/FLOW-4-payment-sdk",
                        commits=[("Bump payment SDK", "2026-01-08T12:45Z")])
    org.github_add_review(repo, 1, "APPROVED", "2026-01-08T10:00Z", user="grace")
    c4 = org.github_merge_pull(repo, 1, "2026-01-08T12:00Z")["merge_commit_sha"]
    org.github_add_pull(repo, "FLOW-2 fix tax", "2026-01-10T11:00Z", user="grace", number=2,
                        body="Fixes FLOW-2: no tax on shipping.", head_ref="fix/FLOW-2-tax",
                        commits=[("Exclude shipping from tax base", "2026-01-10T10:30Z")])
    org.github_add_review(repo, 2, "APPROVED", "2026-01-12T08:00Z", user="ada")
    c5 = org.github_merge_pull(repo, 2, "2026-01-12T09:00Z")["merge_commit_sha"]

    deployments = [
        (101, "production", c1, "2026-01-05T15:00Z", "success", "2026-01-05T15:10Z"),
        (102, "staging", c2, "2026-01-06T15:00Z", "success", "2026-01-06T15:05Z"),
        (103, "production", c3, "2026-01-07T15:00Z", "failure", "2026-01-07T15:20Z"),
        (104, "production", c4, "2026-01-08T15:00Z", "success", "2026-01-08T15:10Z"),
        (105, "production", c5, "2026-01-13T15:00Z", "success", "2026-01-13T15:10Z"),
    ]
    for ident, env, sha, created, final, final_at in deployments:
        org.github_add_deployment(repo, env, created, sha=sha, deployment_id=ident)
        org.github_add_deployment_status(repo, ident, "in_progress", created)
        org.github_add_deployment_status(repo, ident, final, final_at)

    org.github_add_workflow(repo, "CI", ".github/workflows/ci.yml", workflow_id=301)
    for ident, sha, created, conclusion in (
        (201, c1, "2026-01-05T14:05Z", "success"),
        (202, c3, "2026-01-07T14:05Z", "failure"),
        (203, c4, "2026-01-08T12:05Z", "success"),
    ):
        org.github_add_run(repo, "CI", sha, created, conclusion=conclusion, event="push", duration_s=360,
                           run_id=ident, actor="ada")
    return org
