"""Benchmark P1: the requests each HTTP connector makes, against the page-arithmetic minimum.

    .venv/bin/python -m benchmarks.requests --scales 1 3          (make bench-requests)

For each scale: a generated organisation is served by the loopback simulator (GitHub's hourly rate limit
raised so the load never waits), and every HTTP source of the demo configuration (Jira, GitHub, GitLab,
Jenkins, CircleCI; no `start_date`, so the whole history is due) and Bitbucket Data Center is loaded group by group into a fresh
warehouse: a full load, then at once a no-change nightly load. The simulator logs every request; each one
is put under the stream its path serves.

The minimum is worked out from the simulator's ground truth (its in-memory organisation), not from what
the connector stored: per stream and scope `pages(records, max page size of the API)` (an empty list
still costs one request), plus the child calls nobody can avoid (one list per parent: a pull request's
reviews, a pipeline's workflows), plus the listings and look-ups a group needs to know its scopes.
A no-change run should cost one request per list stream and scope (answered 304 where the API offers
ETags) and no child call beyond what a running build, run or workflow holds back to read again. Results
go to benchmarks/RESULTS.md, section "Requests (P1)".
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.flow_marts import machine, write_results

ROOT = Path(__file__).resolve().parent.parent
TOKEN_VAR = "THROUGHLINE_BENCH_TOKEN"
GITHUB_RATE_LIMIT = 10_000_000
HTTP_SOURCES = ("jira", "github", "gitlab", "jenkins", "circleci", "azure_devops", "bitbucket", "linear")


def source_type(name: str):
    """The connector's SourceType; its groups are listed in the order a load needs them (repositories,
    projects before the rest)."""
    import importlib

    return importlib.import_module(f"connectors.{name}").SOURCE


# ---------------------------------------------------------------------------- page arithmetic


def pages(records: int, page_size: int) -> int:
    """Requests to list ``records`` at ``page_size`` a page: an empty list still costs its one request."""
    if page_size < 1 or records < 0:
        raise ValueError(f"pages({records}, {page_size}): need records >= 0 and page_size >= 1")
    return max(1, math.ceil(records / page_size))


def pages_to_empty(records: int, page_size: int) -> int:
    """Requests to list ``records`` where only an empty page ends the list: the API may cap the page below
    the size asked without saying so (Azure DevOps' `$top`), so a short page is no proof of the end."""
    return math.ceil(records / page_size) + 1


def child_pages(counts: Iterable[int], page_size: int) -> int:
    """One list per parent: the sum of each parent's pages (a parent without children costs one too)."""
    return sum(pages(n, page_size) for n in counts)


# Jira Cloud: the search embeds 100 histories per issue; POST /changelog/bulkfetch reads the changelogs of up
# to 1000 issues per request chain, up to 10000 histories a page (../shared/reference, BulkChangelogRequestBean).
JIRA_EMBEDDED = 100
BULKFETCH_ISSUES = 1000
BULKFETCH_PAGE = 10000


def bulkfetch_pages(histories: Iterable[int], embedded: int = JIRA_EMBEDDED, issues: int = BULKFETCH_ISSUES,
                    page_size: int = BULKFETCH_PAGE) -> int:
    """Requests to read, by bulkfetch, the changelogs the search did not embed whole: the issues with more
    than ``embedded`` histories (``histories`` per issue, in the search's order), in batches of ``issues``;
    each batch costs ``max(1, ceil(its histories / page_size))``. Bulkfetch answers an issue's whole
    changelog (it cannot skip the embedded ones), so the whole count is paged."""
    long = [h for h in histories if h > embedded]
    return sum(max(1, math.ceil(sum(long[i:i + issues]) / page_size)) for i in range(0, len(long), issues))


@dataclass
class Row:
    """One stream of one source: its scopes, the records the API lists, and the minimum requests."""

    source: str
    stream: str
    scopes: int
    records: int
    minimum: int
    # A no-change run: one request per list stream and scope; child lists and one-off reads cost nothing.
    nochange_minimum: int
    full: int = 0
    nochange: int = 0
    note: str = ""


# ---------------------------------------------------------------------------- ground truth


def jira_truth(sim, projects: list[str]) -> list[Row]:
    org = sim.org
    by_project = Counter(issue["fields"]["project"]["key"] for issue in org.jira_issues.values())
    # the search's order: updated, then key (one project's keys differ by their number)
    ordered = sorted(((issue["fields"]["updated"], int(issue["key"].rsplit("-", 1)[1]), i, p)
                      for i, issue in org.jira_issues.items()
                      if (p := issue["fields"]["project"]["key"]) in projects))
    histories = [len(org.jira_changelogs.get(i, [])) for _, _, i, _ in ordered]
    boards = [b for b in org.jira_boards if b["location"]["projectKey"] in projects]
    scrum = [b for b in boards if b["type"] != "kanban"]
    n = len(projects)
    return [
        Row("jira", "statuses", 1, len(org.jira_statuses), 1, 1),
        Row("jira", "projects", 1, n, pages(n, 50), 1),
        # /field is stored by the projects group and read again by the issues group, with /myself (the
        # user's time zone for JQL): three one-page reads every run.
        Row("jira", "fields, myself", 1, len(org.jira_fields), 3, 3, note="/field twice (two groups), /myself"),
        Row("jira", "boards", n, len(boards), sum(pages(sum(1 for b in boards if b["location"]["projectKey"] == p), 50)
                                                  for p in projects), n),
        # Sprints carry no update time and the agile API no ETag: each scrum board's list is read every run.
        Row("jira", "sprints", len(scrum), sum(len(org.jira_sprints.get(b["id"], [])) for b in scrum),
            child_pages((len(org.jira_sprints.get(b["id"], [])) for b in scrum), 50), len(scrum),
            note="per scrum board, every run"),
        Row("jira", "issues", n, sum(by_project[p] for p in projects),
            sum(pages(by_project[p], 100) for p in projects), n),
        Row("jira", "changelogs", n, sum(histories),
            sum(bulkfetch_pages(len(org.jira_changelogs.get(i, [])) for _, _, i, q in ordered if q == p)
                for p in projects), 0,
            note="bulkfetch: issues past the 100 embedded, <= 1000 a chain, 10000 histories a page"),
    ]


def _production_compares(store, production: set[str]) -> list[int]:
    """Commits per compare a production deployment needs: (previous sha of its environment, its sha]."""
    pos = {c["sha"]: i for i, c in enumerate(store.commits)}
    previous: dict[str, str] = {}
    counts = []
    for dep in sorted(store.deployments.values(), key=lambda d: (d["created_at"], d["id"])):
        env = dep["environment"].lower()
        before = previous.get(env)
        previous[env] = dep["sha"]
        if env in production and before is not None and before != dep["sha"]:
            counts.append(max(0, pos[dep["sha"]] - pos[before]))
    return counts


def github_truth(sim, source) -> list[Row]:
    from connectors.github import UNFINISHED_RUN_STATUSES

    org = sim.org
    owner = source.scope.org
    listed = [s for name, s in sorted(org.repos.items()) if name.split("/")[0] == owner]
    repos = [s for s in listed if source.scope.include_archived or not s.repo.get("archived")]
    production = {e.lower() for e in source.options.deployments.production_environments}
    n, groups = len(repos), len(source_type("github").groups)
    listing = pages(len(listed), 100)

    def per_repo(stream: str, count: Callable[[Any], int], size: int = 100, note: str = "") -> Row:
        counts = [count(s) for s in repos]
        return Row("github", stream, n, sum(counts), child_pages(counts, size), n, note=note)

    def per_parent(stream: str, children: Callable[[Any], list[int]], size: int = 100, note: str = "") -> Row:
        counts = [c for s in repos for c in children(s)]
        return Row("github", stream, len(counts), sum(counts), child_pages(counts, size), 0, note=note)

    def compare_pages(store) -> list[int]:
        return [pages(c, 100) for c in _production_compares(store, production)]

    compares = [c for s in repos for c in _production_compares(s, production)]
    job_counts = [len(org.github_jobs(s.full_name, r)) for s in repos for r in s.runs]
    jobs = sum(job_counts)

    def unfinished_runs(store) -> list[dict]:
        """Runs whose jobs a no-change run asks again (conditionally): the unfinished ones. An unfinished run
        holds the cursor, so every later run is listed again too, but a finished one listed as it is stored
        has its jobs stored (connectors/github stored_runs)."""
        return [r for r in store.runs.values() if r["status"].lower() in UNFINISHED_RUN_STATUSES]

    return [
        # Every group finds its repositories through the org listing (each group is its own asset).
        Row("github", "org repository listing", 1, len(listed), listing * groups, listing * groups,
            note=f"once per group ({groups})"),
        per_repo("pull_requests", lambda s: len(s.pulls)),
        per_parent("pull_request_reviews", lambda s: [len(s.reviews.get(p, [])) for p in s.pulls]),
        per_parent("pull_request_commits", lambda s: [min(250, len(s.pr_commits.get(p, []))) for p in s.pulls]),
        per_parent("pull_request_timeline_events",
                   lambda s: [len(sim.github._pull_timeline(s, pr)) for pr in s.pulls.values()]),
        per_repo("commits", lambda s: len(s.commits)),
        per_repo("deployments", lambda s: len(s.deployments)),
        per_parent("deployment_statuses", lambda s: [len(s.deployment_statuses.get(d, [])) for d in s.deployments]),
        Row("github", "compare_commits", len(compares), sum(compares),
            sum(p for s in repos for p in compare_pages(s)), 0, note="production deployments"),
        per_repo("releases", lambda s: len(s.releases)),
        per_repo("tags", lambda s: len(s.tags)),
        per_repo("issues", lambda s: len(s.issues) + len(s.pulls), note="the list holds the PRs too"),
        per_repo("workflow_runs", lambda s: len(s.runs)),
        Row("github", "workflow_jobs", sum(len(s.runs) for s in repos), jobs, child_pages(job_counts, 100),
            sum(len(unfinished_runs(s)) for s in repos), note="no-change: unfinished runs (304s)"),
    ]


def gitlab_truth(sim, source) -> list[Row]:
    data = sim.mounts["gitlab"].data
    groups = source.scope.groups
    projects = [p for p in data.projects.values() if p.project["namespace"]["full_path"] in groups
                and not p.project.get("archived")]
    issue_type = source.options.issue_type
    n, listing_groups = len(projects), len(source_type("gitlab").groups)
    listing = pages(len(projects), 100)

    def per_project(stream: str, count: Callable[[Any], int]) -> Row:
        counts = [count(p) for p in projects]
        return Row("gitlab", stream, n, sum(counts), child_pages(counts, 100), n)

    def per_mr(stream: str, children: Callable[[Any, int], int]) -> Row:
        counts = [children(p, iid) for p in projects for iid in p.merge_requests]
        return Row("gitlab", stream, len(counts), sum(counts), child_pages(counts, 100), 0)

    named = {e.strip().lower() for e in source.options.deployments.production_environments if e.strip()}

    def shipped(p) -> list[int]:
        """Merge requests linked to each successful production deployment (a production name from the
        config or GitLab's production tier, as connectors/gitlab production_environments decides): GitLab links
        none to the others, so only these are asked, one list each."""
        production = named | {name.lower() for name, env in p.environments.items() if env["tier"] == "production"}
        return [len(data.shipped_merge_requests(p, d)) for d in p.deployments
                if d["status"] == "success" and d["environment"]["name"].lower() in production]

    linked = [c for p in projects for c in shipped(p)]

    return [
        Row("gitlab", "group project listing", len(groups), len(projects), listing * listing_groups,
            listing * listing_groups, note=f"once per group ({listing_groups})"),
        per_project("merge_requests", lambda p: len(p.merge_requests)),
        per_mr("merge_request_commits", lambda p, iid: len(p.mr_commits.get(iid, []))),
        per_mr("merge_request_notes", lambda p, iid: len(p.mr_notes.get(iid, []))),
        per_project("pipelines", lambda p: len(p.pipelines)),
        per_project("jobs", lambda p: len(p.jobs)),
        per_project("environments", lambda p: len(p.environments)),
        per_project("deployments", lambda p: len(p.deployments)),
        Row("gitlab", "deployment_merge_requests", len(linked), sum(linked), child_pages(linked, 100), 0,
            note="one list per successful production deployment"),
        per_project("issues", lambda p: sum(1 for i in p.issues
                                            if issue_type is None or i["issue_type"] == issue_type)),
    ]


# Jenkins has no page parameters: a `{M,N}` range of any width is one request; the connector's cap is 1000.
JENKINS_RANGE = 1000


def jenkins_truth(sim) -> list[Row]:
    from connectors.jenkins import PIPELINE_RUN

    api = sim.mounts["jenkins"]
    containers, jobs, queue = [""], [], list(api.children[""])
    while queue:
        name = queue.pop(0)
        if name in api.children:
            containers.append(name)
            queue += api.children[name]
        else:
            jobs.append(name)
    builds = [api.builds.get(j, []) for j in jobs]
    # A running build holds its job's state: the job's builds from it on are read again, with their stages.
    held = [[b for b in bs if b["number"] >= min(x["number"] for x in bs if x.get("building"))]
            for bs in builds if any(x.get("building") for x in bs)]
    pipeline_builds = sum(1 for b in builds for build in b if build.get("_class", PIPELINE_RUN) == PIPELINE_RUN)
    return [
        Row("jenkins", "jobs (folder listings)", len(containers), len(containers) - 1 + len(jobs), len(containers),
            len(containers), note="one per folder, root included"),
        # lastBuild in the listing says whether a job has new builds: an unchanged one needs no request.
        Row("jenkins", "builds", len(jobs), sum(len(b) for b in builds), child_pages(map(len, builds), JENKINS_RANGE),
            len(held), note="no-change: jobs with a running build"),
        Row("jenkins", "stages", pipeline_builds, sum(len(api.stages.get((j, b["number"]), []))
                                                      for j, bs in zip(jobs, builds) for b in bs),
            pipeline_builds, sum(map(len, held)), note="one wfapi call per pipeline build"),
    ]


CIRCLECI_PAGE = 20  # fixed by CircleCI: v2 lists take no page size


def circleci_truth(sim, source) -> list[Row]:
    from connectors.circleci import UNFINISHED_WORKFLOW_STATUSES
    from connectors.core.endpoint import parse_timestamp

    api = sim.mounts["circleci"]
    projects = list(api.projects.values())
    pipelines = [p for project in projects for p in project.pipelines]
    workflows = [w for p in pipelines for w in api.workflows.get(p["id"], [])]
    # Workflows still running are read again by pipeline; so are those of the pipelines the lookback lists
    # again: a rerun adds a workflow to a pipeline without changing the pipeline, so listing its workflows is
    # the only way to see it. Jobs are asked again only for an unfinished workflow.
    lookback = timedelta(hours=source.options.lookback_hours)
    relisted = set()
    for project in projects:
        if project.pipelines:
            newest = max(parse_timestamp(p["created_at"]) for p in project.pipelines)
            relisted |= {p["id"] for p in project.pipelines if parse_timestamp(p["created_at"]) >= newest - lookback}
    rechecked = {p["id"] for p in pipelines
                 if any(w["status"] in UNFINISHED_WORKFLOW_STATUSES for w in api.workflows.get(p["id"], []))}
    unfinished = [w for w in workflows if w["status"] in UNFINISHED_WORKFLOW_STATUSES]
    n = len(projects)
    return [
        Row("circleci", "followed projects", 1, n, 1, 1, note="API v1.1, one unpaged list"),
        Row("circleci", "pipelines", n, len(pipelines),
            child_pages((len(p.pipelines) for p in projects), CIRCLECI_PAGE), n),
        Row("circleci", "workflows", len(pipelines), len(workflows),
            child_pages((len(api.workflows.get(p["id"], [])) for p in pipelines), CIRCLECI_PAGE),
            len(rechecked | relisted), note="no-change: pipelines in the lookback or with an unfinished workflow"),
        Row("circleci", "jobs", len(workflows), sum(len(api.jobs.get(w["id"], [])) for w in workflows),
            child_pages((len(api.jobs.get(w["id"], [])) for w in workflows), CIRCLECI_PAGE),
            len(unfinished), note="no-change: unfinished workflows"),
    ]


# ---------------------------------------------------------------------------- requests -> streams

# (regex on the path below the service prefix, with "?" and the query appended) -> stream; first match wins.
STREAM_OF = {
    "jira": [
        (r"/rest/api/3/status$", "statuses"), (r"/rest/api/3/project/search", "projects"),
        (r"/rest/api/3/(field|myself)$", "fields, myself"), (r"/board/\d+/sprint", "sprints"),
        (r"/rest/agile/1.0/board\?", "boards"), (r"/search/jql", "issues"), (r"/changelog", "changelogs"),
    ],
    "github": [
        (r"^/orgs/[^/]+/repos", "org repository listing"), (r"/pulls/\d+/reviews", "pull_request_reviews"),
        (r"/pulls/\d+/commits", "pull_request_commits"), (r"/issues/\d+/timeline", "pull_request_timeline_events"),
        (r"/pulls\?", "pull_requests"), (r"/commits\?", "commits"),
        (r"/deployments/\d+/statuses", "deployment_statuses"),
        (r"/deployments\?", "deployments"), (r"/compare/", "compare_commits"), (r"/releases", "releases"),
        (r"/tags", "tags"), (r"/issues\?", "issues"), (r"/actions/runs/\d+/jobs", "workflow_jobs"),
        (r"/actions/runs", "workflow_runs"),
    ],
    "gitlab": [
        (r"^/api/v4/groups/[^/]+/projects", "group project listing"),
        (r"/merge_requests/\d+/commits", "merge_request_commits"),
        (r"/merge_requests/\d+/notes", "merge_request_notes"),
        (r"/deployments/\d+/merge_requests", "deployment_merge_requests"),
        (r"/merge_requests\?", "merge_requests"), (r"/pipelines", "pipelines"), (r"/jobs", "jobs"),
        (r"/environments", "environments"), (r"/deployments", "deployments"), (r"/issues", "issues"),
    ],
    "jenkins": [(r"tree=jobs", "jobs (folder listings)"), (r"tree=allBuilds", "builds"),
                (r"/wfapi/describe", "stages")],
    "circleci": [(r"/api/v1.1/projects", "followed projects"), (r"/pipeline\?|/pipeline$", "pipelines"),
                 (r"/workflow\?|/workflow$", "workflows"), (r"/job\?|/job$", "jobs")],
}

STREAM_OF["azure_devops"] = [
    (r"/wit/wiql", "wiql"), (r"/wit/workitemsbatch", "work_items"), (r"/updates", "work_item_updates"),
    (r"/threads", "pull_request_threads"), (r"/pullRequests/\d+/commits", "pull_request_commits"),
    (r"/git/pullrequests", "pull_requests"), (r"/build/builds", "builds"),
    (r"/environmentdeploymentrecords", "environment_deployment_records"),
    (r"/distributedtask/environments", "environments"), (r"/teamsettings/iterations", "iterations"),
    (r"/teams", "teams"),
]


def azure_devops_truth(sim, source) -> list[Row]:
    """The Data project (simulator/azure_devops_api.py): WIQL then batches of work items with one updates list
    each; pull requests by two lists (active whole; closed since the cursor), with
    one threads and one commits list each; builds, environments with their records, teams with iterations.
    A list paged by $top/$skip without an end marker costs one empty page more than its pages with records
    (pages_to_empty); a work item's updates come in full pages, so a short one ends them."""
    from connectors.core.endpoint import parse_timestamp

    world = sim.mounts["azure_devops"].world
    size = min(200, source.options.page_size)
    lookback = timedelta(hours=source.options.lookback_hours)
    changed = [parse_timestamp(i["fields"]["System.ChangedDate"]) for i in world.items.values()]
    relisted = sum(at >= max(changed) - lookback for at in changed)
    active = [p for p in world.pull_requests if p["status"] == "active"]
    closed = [parse_timestamp(p["closedDate"]) for p in world.pull_requests if p["status"] != "active"]
    reclosed = sum(at >= max(closed) - lookback for at in closed) if closed else 0
    n = len(source.scope.projects)
    return [
        Row("azure_devops", "wiql", n, len(world.items), n, n, note="ids only; a full answer (20,000) asks again"),
        Row("azure_devops", "work_items", n, len(world.items), pages(len(world.items), size),
            pages(relisted, size) if relisted else 0, note="no-change: those changed within the lookback"),
        Row("azure_devops", "work_item_updates", len(world.items), sum(map(len, world.updates.values())),
            child_pages(map(len, world.updates.values()), 200), 0, note="no-change: none (same rev)"),
        Row("azure_devops", "pull_requests", n, len(world.pull_requests), pages_to_empty(len(active), size)
            + pages_to_empty(len(closed), size), pages_to_empty(len(active), size) + pages_to_empty(reclosed, size),
            note="active whole, closed since the cursor less the lookback; each list ends on an empty page (the "
            "server may cap `$top` silently, so a short one may not be the last)"),
        Row("azure_devops", "pull_request_threads", len(world.pull_requests), sum(map(len, world.threads.values())),
            len(world.pull_requests), len(active), note="no-change: active pull requests"),
        Row("azure_devops", "pull_request_commits", len(world.pull_requests), sum(map(len, world.commits.values())),
            child_pages(map(len, world.commits.values()), size), len(active)),
        Row("azure_devops", "builds", n, len(world.builds), pages(len(world.builds), size), n),
        Row("azure_devops", "environments", n, len(world.environments), n, n),
        Row("azure_devops", "environment_deployment_records", len(world.environments),
            sum(map(len, world.records.values())), child_pages(map(len, world.records.values()), size),
            child_pages(map(len, world.records.values()), size), note="read whole each run"),
        Row("azure_devops", "teams", n, 1, n * pages_to_empty(1, size), n * pages_to_empty(1, size),
            note="ends on an empty page"),
        Row("azure_devops", "iterations", 1, len(world.iterations), 1, 1, note="read whole each run"),
    ]


STREAM_OF["bitbucket"] = [
    (r"/pullrequests/\d+/activity", "pull_request_activity"), (r"/pullrequests/\d+/commits", "pull_request_commits"),
    (r"/pullrequests", "pull_requests"), (r"/pipelines", "pipelines"), (r"/environments", "environments"),
    (r"/deployments", "deployments"), (r"/commits/", "deployment_commits"),
    (r"^/2\.0/repositories/[^/?]+/?(\?|$)", "repositories (listings)"),
]
# Linear answers every query at one path: its requests are told apart by the GraphQL operation (LoggedRequest).
STREAM_OF["linear"] = [(r"^Issues$", "issues"), (r"^IssueHistory$", "issue_history (overflow)"),
                       (r"^Teams$", "teams"), (r"^WorkflowStates$", "workflow_states"), (r"^Cycles$", "cycles"),
                       (r"^Projects$", "projects")]


def bitbucket_truth(sim, source) -> list[Row]:
    """The workspace acme (simulator/bitbucket_api.py), one repository: pull requests (50 a page) with one
    activity and one commits list each, pipelines, environments and deployments (100 a page), and the commit
    range of each production deployment (50 a page): the history of its hash less the previous deployment's,
    an environment's first its whole history (no start_date here); a hash deployed again asks nothing."""
    from connectors.bitbucket import SOURCE as BITBUCKET

    data = sim.mounts["bitbucket"].data
    size = min(100, source.options.page_size)
    small = min(50, size)
    repos = list(data.repositories)
    prs = [p for r in repos for p in data.pull_requests[r].values()]
    activity = [len(a) for r in repos for a in data.activity[r].values()]
    commits = [len(c) for r in repos for c in data.pr_commits[r].values()]
    ranges = []  # commits per production deployment whose range is read
    for r in repos:
        where = {c["hash"]: i for i, c in enumerate(data.commits[r])}
        production = {e["uuid"] for e in data.environments[r] if e["environment_type"]["name"] == "Production"}
        previous: dict[str, int] = {}
        for d in sorted(data.deployments[r], key=lambda d: (d["state"]["started_on"], d["uuid"])):
            env, at = d["environment"]["uuid"], where[d["release"]["commit"]["hash"]]
            if env in production and previous.get(env) != at:
                ranges.append(at + 1 if env not in previous else max(0, at - previous[env]))
            previous[env] = at
    n = len(repos)
    groups = len(BITBUCKET.groups)
    return [
        Row("bitbucket", "repositories (listings)", 1, n, groups * pages(n, size), groups * pages(n, size),
            note="the workspace listed once per group (each group may run alone)"),
        # (per repository: each lists its own pull requests)
        Row("bitbucket", "pull_requests", n, len(prs), sum(pages(len(data.pull_requests[r]), small) for r in repos), n),
        Row("bitbucket", "pull_request_activity", len(prs), sum(activity), child_pages(activity, small), 0,
            note="no-change: none (same updated_on)"),
        Row("bitbucket", "pull_request_commits", len(prs), sum(commits), child_pages(commits, small), 0),
        Row("bitbucket", "pipelines", n, sum(len(data.pipelines[r]) for r in repos),
            sum(pages(len(data.pipelines[r]), size) for r in repos), n),
        Row("bitbucket", "environments", n, sum(len(data.environments[r]) for r in repos), n, n),
        Row("bitbucket", "deployments", n, sum(len(data.deployments[r]) for r in repos),
            sum(pages(len(data.deployments[r]), size) for r in repos),
            sum(pages(len(data.deployments[r]), size) for r in repos), note="read whole each run"),
        Row("bitbucket", "deployment_commits", len(ranges), sum(ranges), child_pages(ranges, small), 0,
            note="one range per production deployment, read once"),
    ]


STREAM_OF["bitbucket_dc"] = [
    (r"/pull-requests/\d+/activities", "pull_request_activity"), (r"/pull-requests/\d+/commits", "pull_request_commits"),
    (r"/pull-requests", "pull_requests"), (r"^/rest/api/1\.0/projects/[^/]+/repos/?(\?|$)", "repositories (listings)"),
]


def bitbucket_dc_truth(sim, source) -> list[Row]:
    """The Data Center project MOB (simulator/bitbucket_dc_api.py), one repository: pull requests newest update
    first, with one activities and one commits list each (100 a page; a child list always asks the largest);
    the project listed by the two groups that read (pipelines and deployments have no API and ask nothing).
    No-change: the pull requests down to the first page reaching one older than the newest less the lookback."""
    from connectors.bitbucket.datacenter import MAX_PAGE

    data = sim.mounts["bitbucket_dc"].data
    size = min(MAX_PAGE, source.options.page_size)
    repos = list(data.repositories)
    n = len(repos)
    lookback_ms = source.options.lookback_hours * 3_600_000

    def nochange_pages(prs: list[dict]) -> int:
        newest = max((p["updatedDate"] for p in prs), default=0)
        relisted = sum(p["updatedDate"] >= newest - lookback_ms for p in prs)
        return min(pages(len(prs), size), relisted // size + 1)

    prs = {r: list(data.pull_requests[r].values()) for r in repos}
    activities = [len(a) for r in repos for a in data.activities[r].values()]
    commits = [len(c) for r in repos for c in data.pr_commits[r].values()]
    return [
        Row("bitbucket_dc", "repositories (listings)", 1, n, 2 * pages(n, size), 2 * pages(n, size),
            note="the project listed by the repositories and pull_requests groups"),
        Row("bitbucket_dc", "pull_requests", n, sum(map(len, prs.values())),
            sum(pages(len(p), size) for p in prs.values()), sum(nochange_pages(p) for p in prs.values()),
            note="no update filter: newest first down to the cursor less the lookback"),
        Row("bitbucket_dc", "pull_request_activity", sum(map(len, prs.values())), sum(activities),
            child_pages(activities, MAX_PAGE), 0, note="no-change: none (same updatedDate)"),
        Row("bitbucket_dc", "pull_request_commits", sum(map(len, prs.values())), sum(commits),
            child_pages(commits, MAX_PAGE), 0),
    ]


def bench_name(source) -> str:
    """The source's name in the tables, and its simulator prefix: Bitbucket's Data Center flavour apart."""
    return "bitbucket_dc" if getattr(source, "flavour", None) == "datacenter" else source.type


def linear_truth(sim, source) -> list[Row]:
    """The Mobile team (simulator/linear_api.py): issues most recently updated first with their first 50
    history entries embedded, the rest of a longer history read on (250 a page) after the list; teams,
    workflow states, cycles and projects read whole each run (250 a page)."""
    from connectors.core.endpoint import parse_timestamp
    from connectors.linear import HISTORY_PAGE, MAX_PAGE

    world = sim.mounts["linear"].world
    size = min(MAX_PAGE, source.options.page_size)
    updated = {i["id"]: parse_timestamp(i["updatedAt"]) for i in world.issues}
    lookback = timedelta(hours=source.options.lookback_hours)
    relisted = {i for i, at in updated.items() if at >= max(updated.values()) - lookback}
    overflow = {i: len(h) - HISTORY_PAGE for i, h in world.history.items() if len(h) > HISTORY_PAGE}
    whole = [("teams", 1), ("workflow_states", len(world.states)), ("cycles", len(world.cycles)),
             ("projects", len(world.projects))]
    return [
        Row("linear", "issues", 1, len(world.issues), pages(len(world.issues), size), pages(len(relisted), size),
            note="history embedded, 50 entries an issue"),
        Row("linear", "issue_history (overflow)", len(overflow), sum(overflow.values()),
            child_pages(overflow.values(), MAX_PAGE),
            child_pages([n for i, n in overflow.items() if i in relisted], MAX_PAGE),
            note="no-change: the long histories of issues the lookback lists again"),
        *(Row("linear", stream, 1, count, pages(count, MAX_PAGE), pages(count, MAX_PAGE), note="read whole")
          for stream, count in whole),
    ]


def stream_of(source_type: str, path: str, query: str) -> str:
    """The stream a logged request served; ``path`` without its service prefix (``/jira``)."""
    from urllib.parse import unquote

    target = unquote(f"{path}?{query}" if query else path)
    for pattern, stream in STREAM_OF[source_type]:
        if re.search(pattern, target):
            return stream
    return "other: " + path


# ---------------------------------------------------------------------------- loading


def bench_config(url: str, warehouse: Path) -> dict:
    """The demo configuration for the simulator at ``url``, without `start_date`: the whole history is due."""
    import yaml

    from operations.cli import DEMO_CONFIG
    from simulator.generator import DEFAULT_AS_OF

    class Placeholders(dict):
        def __missing__(self, key: str) -> str:  # what other (file-based) demo sources need: unused here
            return f"/nonexistent/{key}"

    config = yaml.safe_load(DEMO_CONFIG.format_map(Placeholders(warehouse=warehouse, url=url, token_var=TOKEN_VAR,
                                                                as_of=DEFAULT_AS_OF.isoformat())))
    # Bitbucket Data Center is not in the demo (its deployments would come from an events file): read here
    config["sources"].append({"type": "bitbucket", "flavour": "datacenter", "name": "bench-bitbucket-dc",
                              "base_url": f"{url}/bitbucket_dc", "auth": {"token": f"${{{TOKEN_VAR}}}"},
                              "scope": {"project": "MOB"}})
    for source in config["sources"]:
        options = source.get("options") or {}
        options.pop("start_date", None)
        if not options:
            source.pop("options", None)
    return config


def http_sources(url: str, warehouse: Path) -> list:
    """The configured HTTP sources (files-based ones are not HTTP connectors), parsed like throughline.yml."""
    from connectors.config import parse_config

    os.environ.setdefault(TOKEN_VAR, "bench-token-not-secret")
    config = parse_config(bench_config(url, warehouse), origin="benchmark config")
    return [s for s in config.sources if s.type in HTTP_SOURCES]


def load(source, store) -> list:
    """Every extraction group of ``source``, in order, through its connector into ``store``."""
    kind = source_type(source.type)
    return [result for group in kind.groups for result in kind.extract(group, source, store)]


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------------------- the benchmark


@dataclass
class ScaleResult:
    scale: int
    rows: list[Row] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    load: list[str] = field(default_factory=list)


def _counted(sim, source_type: str) -> Counter:
    prefix = f"/{source_type}"
    return Counter(stream_of(source_type, r.operation or r.path[len(prefix):], "" if r.operation else r.query)
                   for r in sim.requests if r.path.startswith(prefix + "/"))


def measure(scale: int, seed: int = 7) -> ScaleResult:
    from connectors.core.raw import RawStore
    from simulator.generator import generate_org
    from simulator.server import SimulatorServer

    out = ScaleResult(scale)
    with tempfile.TemporaryDirectory(prefix="bench-requests-") as tmp, \
            SimulatorServer(generate_org(seed=seed, scale=scale), github_rate_limit=GITHUB_RATE_LIMIT) as sim:
        warehouse = Path(tmp) / "throughline.duckdb"
        sources = http_sources(sim.url, warehouse)
        truth = {
            "jira": lambda s: jira_truth(sim, list(s.scope.projects)),
            "github": lambda s: github_truth(sim, s),
            "gitlab": lambda s: gitlab_truth(sim, s),
            "jenkins": lambda s: jenkins_truth(sim),
            "circleci": lambda s: circleci_truth(sim, s),
            "azure_devops": lambda s: azure_devops_truth(sim, s),
            "bitbucket": lambda s: bitbucket_truth(sim, s),
            "bitbucket_dc": lambda s: bitbucket_dc_truth(sim, s),
            "linear": lambda s: linear_truth(sim, s),
        }
        with RawStore(warehouse) as store:
            for source in sources:
                name = bench_name(source)
                rows = truth[name](source)
                by_stream = {r.stream: r for r in rows}
                out.load.append(load_average())
                for run in ("full", "nochange"):
                    sim.reset_stats()
                    started = time.monotonic()
                    load(source, store)
                    out.seconds[f"{name} {run}"] = time.monotonic() - started
                    for stream, count in _counted(sim, name).items():
                        if stream not in by_stream:  # a request the arithmetic has no row for: show it
                            by_stream[stream] = Row(name, stream, 0, 0, 0, 0, note="not in the minimum")
                            rows.append(by_stream[stream])
                        setattr(by_stream[stream], run, count)
                out.rows += rows
                print(f"scale {scale} {name}: full {sum(r.full for r in rows)} requests "
                      f"(minimum {sum(r.minimum for r in rows)}), no-change {sum(r.nochange for r in rows)} "
                      f"(target {sum(r.nochange_minimum for r in rows)})", flush=True)
    return out


def _ratio(made: int, minimum: int) -> str:
    if minimum == 0:
        return "-" if made == 0 else "n/a"
    return f"{made / minimum:.2f}"


def table(result: ScaleResult) -> str:
    lines = [
        "| source | stream | scopes/parents | records listed | minimum | full load | ratio | no-change target "
        "| no-change run | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    totals: dict[str, list[int]] = {}
    for r in result.rows:
        lines.append(f"| {r.source} | {r.stream} | {r.scopes:,} | {r.records:,} | {r.minimum:,} | {r.full:,} | "
                     f"{_ratio(r.full, r.minimum)} | {r.nochange_minimum:,} | {r.nochange:,} | {r.note} |")
        t = totals.setdefault(r.source, [0, 0, 0, 0])
        for i, v in enumerate((r.minimum, r.full, r.nochange_minimum, r.nochange)):
            t[i] += v
    for source, (minimum, full, target, nochange) in totals.items():
        lines.append(f"| **{source}** | **all** | | | **{minimum:,}** | **{full:,}** | **{_ratio(full, minimum)}** | "
                     f"**{target:,}** | **{nochange:,}** | |")
    return "\n".join(lines)


def section(results: list[ScaleResult], notes: str) -> str:
    parts = [f"""## Requests (P1, issue 10)

{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; load average (1/5/15 min) before each source:
{"; ".join(f"scale {r.scale}: " + ", ".join(r.load) for r in results)}.
`python -m benchmarks.requests --scales {' '.join(str(r.scale) for r in results)}`: the demo configuration
without `start_date`, each HTTP source loaded group by group by its connector from the loopback simulator
(GitHub rate limit {GITHUB_RATE_LIMIT:,}/h), a full load and at once a no-change load into the same warehouse.
Requests are the simulator's log, each put under the stream its path serves. Minimum: per stream and scope
`max(1, ceil(records / API max page))` (Jira search 100, boards and sprints 50, GitHub and GitLab 100,
CircleCI 20 fixed, a Jenkins range up to {JENKINS_RANGE}); child lists one per parent (a parent without children
still costs its request); Jira changelogs by bulkfetch, for the issues with more than the 100 histories the
search embeds, per project in batches of 1000 issues, `max(1, ceil(their histories / 10000))` each. No-change
target: one request per list stream and scope; child lists only for what a running build, run or workflow
holds back to read again, and CircleCI's workflows of the pipelines in the lookback (how a rerun is found;
see below), and Jira sprints, which have no change filter, once per scrum board.
"""]
    for r in results:
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in r.seconds.items())
        parts.append(f"### Scale {r.scale}\n\n{table(r)}\n\nWall time per load: {timing}.\n")
    parts.append(notes)
    return "\n".join(parts)


# What the tables showed and what was changed because of it (kept with the script that measures it).
NOTES = """### What the tables show

- Jira changelogs (issue 20): an issue with more than the 100 histories the search embeds (about 1 in 150
  here) had its whole changelog paged from `/issue/{id}/changelog`, 100 a page, one chain per issue. Jira
  Cloud's `POST /changelog/bulkfetch` reads the changelogs of up to 1000 issues per chain, 10000 histories a
  page: the engine's batched `Child` (connectors/core/endpoint.py) holds the search pages whose issues need
  it (up to 1000 such issues, or 5000 issues held) and asks once for all of them. Bulkfetch cannot skip the
  embedded histories, so the minimum pages the whole changelogs of those issues. Full loads are now at the
  minimum (ratio 1.00 at both scales). Data Center embeds the whole changelog and asks nothing.
- Counted in the minimum because the design needs them: GitHub lists the org's repositories and GitLab
  the group's projects once per extraction group (each group is its own asset and may run alone), and the
  Jira issues group reads `/field` and `/myself` again (one page each per run).
- No-change loads (issue 20): an issue, run or workflow that the lookback lists again as it is stored no
  longer has its children asked again. Jira skips the bulkfetch of an issue whose `updated` is the stored
  one (every change, a new history included, moves it); GitHub the jobs of a finished run whose `updated_at`
  is the stored one (a re-run attempt moves it; the jobs list shows the latest attempt); CircleCI the jobs of
  a finished workflow whose stored jobs are all finished (a rerun is a new workflow). GitHub's target is now
  the jobs of the unfinished runs only (it was every run from the oldest unfinished one on).
- CircleCI's target is re-argued, not met as first set (6): a rerun adds a workflow to a pipeline already
  read and changes nothing the pipeline list shows (the v2 pipeline has no field that moves with it), so the
  workflows of the pipelines the 3-hour lookback lists again are read every run (one request each, 20 a
  page); the target counts them. Skipping them would miss every rerun of a recent pipeline.
- GitLab's "regression" to 1.19-1.21 (merge_requests 69 requests at scale 1 against 5) was the table, not
  the connector: the shipped merge requests of each successful production deployment
  (`/deployments/{id}/merge_requests`, read since the change-request work) matched the `/merge_requests?`
  pattern and had no row in the minimum. They have their own row now, one list per such deployment (a
  failed, running or non-production one has none linked and is not asked), and nothing on a no-change run
  (a stored deployment with the same `updated_at` is not asked again). The 5bd20b4 tree, run against
  today's simulator, makes the same requests.
- Changed earlier: GitLab asks no commits or notes of a merge request listed again with the `updated_at`
  already stored (`stored_merge_requests`).
- Bitbucket Data Center (`bitbucket_dc`) is not in the demo configuration (its deployments would come from
  an events file); the benchmark adds it, project MOB. Its pull request list has no update filter, so a
  no-change run reads it newest first down to the first page that reaches a pull request older than the
  cursor less the lookback (one page here) and, every pull request on it stored unchanged, no child list.
- Jenkins builds come `options.page_size` (100) to a range although one range of 1000 is one request; no
  job here has over 100 builds, so the tables cannot show it. Left to the option: Jenkins loads every
  build of a range from disk to answer, and a slow controller answers a 1000-build range slowly.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print the tables, leave RESULTS.md alone")
    args = parser.parse_args()
    results = [measure(scale, args.seed) for scale in args.scales]
    text = section(results, NOTES)
    if not args.no_write:
        write_results(text.rstrip("\n") + "\n", heading="## Requests (P1")
        write_summary(max(results, key=lambda r: r.scale))
    print(text)


def summary_of(result: ScaleResult) -> dict[str, dict[str, Any]]:
    """Per source: full load / page-arithmetic minimum, and the no-change run against its target."""
    out: dict[str, dict[str, Any]] = {}
    for source in dict.fromkeys(r.source for r in result.rows):
        rows = [r for r in result.rows if r.source == source]
        minimum, full = sum(r.minimum for r in rows), sum(r.full for r in rows)
        out[source] = {"full_ratio": round(full / minimum, 3) if minimum else None,
                       "nochange_requests": sum(r.nochange for r in rows),
                       "nochange_target": sum(r.nochange_minimum for r in rows)}
    return out


def write_summary(result: ScaleResult) -> None:
    """The largest scale's figures into benchmarks/summary.json, key "P1"."""
    try:
        from benchmarks.summary import update_summary
    except ImportError as exc:
        raise SystemExit(f"benchmarks.requests: cannot write benchmarks/summary.json: benchmarks/summary.py "
                         f"(update_summary) is missing or broken ({exc}); RESULTS.md was written") from None
    update_summary("P1", summary_of(result))


if __name__ == "__main__":
    main()
