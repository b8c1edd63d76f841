"""GitLab REST v4 (gitlab.com or self-managed) over an Org, mounted at ``/gitlab/api/v4``.

The GitLab side of the synthetic organisation is derived from its GitHub repositories, so it is as
deterministic as the Org: each repository ``acme/<name>`` with commits has an infrastructure project
``acme/<name>-infra`` on GitLab, deployed by GitLab CI. Per project (all times UTC):
  * commits: one per GitHub default-branch commit, 30 minutes later (sha ``sha_of("gitlab", path, i)``);
  * merge requests: one per GitHub pull request (iid = PR number), 30 minutes later, with commits and
    notes: a system note a minute after opening, then one note per review (30 minutes after it), and
    for an approving review the system note "approved this merge request" a second later;
  * pipelines: one per commit, 2 minutes after it, 12 minutes long, every seventh (by sha) failed; jobs
    build, test and deploy-staging per pipeline;
  * deployments: one per GitHub deployment, an hour later, same environment and outcome, of the latest
    GitLab commit at that time; after the first failed production deployment a ``rollback-production``
    redeploys the last good production sha 30 minutes after the failure (10 minutes long, success);
  * the merge requests of a deployment (``/deployments/:id/merge_requests``): for a successful one, those
    merged since the previous successful deployment of the environment up to its sha, as GitLab links them;
  * environments: one per environment deployed to (tier production for production, staging otherwise);
  * issues: an incident per failed production deployment (10 minutes after it failed, closed when the
    next successful production deployment finished) and one ordinary issue per project.
For ``tiny_org()``: project acme/checkout-infra, deployments iid 1..6 = prod success (01-05 16:00-16:10),
staging success (01-06 16:00-16:05), prod failed (01-07 16:00-16:20), rollback prod success of iid 1's
sha (01-07 16:50-17:00), prod success (01-08 16:00-16:10), prod success (01-13 16:00-16:10); incident
iid 1 opened 01-07 16:30, closed 01-07 17:00.

Wire behaviours kept on purpose: offset pages (``page``, ``per_page`` default 20, max 100) with
``X-Page``/``X-Next-Page``/``X-Total``... and ``Link``; ``/projects/:id/jobs`` with ``pagination=keyset``
pages by an opaque ``cursor`` found only in ``Link`` (405 for an order keyset cannot do); ``updated_after``
on deployments must be paired with ``order_by=updated_at`` (400 otherwise); project ids may be numeric
or URL-encoded full paths; every answer carries ``RateLimit-*`` headers, and past ``rate_limit`` requests
per token within ``rate_window`` seconds the answer is 429 with ``Retry-After``; a token not in ``tokens``
(``PRIVATE-TOKEN`` or ``Authorization: Bearer``) gets 401.
"""

from __future__ import annotations

import base64
import email.utils
import json
import math
import threading
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import unquote

from connectors.kit.faults import Fault
from connectors.kit.http import ApiError, Request, Response, Router

from .api import MountedApi
from .model import Org, RepoStore, sha_of
from .timefmt import MS_PER_MINUTE, as_ms, github_ts, parse_ms

WEB = "https://gitlab.com"
GROUP = "acme"
_HOUR = 60 * MS_PER_MINUTE


def gitlab_ts(ms: int) -> str:
    """GitLab's format: ``2026-01-05T16:00:00.000Z`` (milliseconds, Z)."""
    return f"{github_ts(ms)[:-1]}.{ms % 1000:03d}Z"


def _user(login: str) -> dict:
    ident = 1000 + zlib.crc32(login.encode()) % 9_000_000
    return {"id": ident, "username": login, "name": login.replace("-", " ").title(), "state": "active",
            "locked": False, "avatar_url": f"{WEB}/uploads/-/system/user/avatar/{ident}/avatar.png",
            "web_url": f"{WEB}/{login}"}


@dataclass(eq=False)
class GitLabProject:
    project: dict
    commits: list[dict] = field(default_factory=list)  # default branch, oldest first
    merge_requests: dict[int, dict] = field(default_factory=dict)  # iid -> MR
    mr_commits: dict[int, list[dict]] = field(default_factory=dict)
    mr_notes: dict[int, list[dict]] = field(default_factory=dict)
    pipelines: list[dict] = field(default_factory=list)
    jobs: list[dict] = field(default_factory=list)
    environments: dict[str, dict] = field(default_factory=dict)  # name -> environment
    deployments: list[dict] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)


class GitLabData:
    """The GitLab objects of an Org, in wire format, with the mutations tests need between runs."""

    def __init__(self, org: Org):
        self.org = org
        self.projects: dict[str, GitLabProject] = {}  # path_with_namespace -> project
        self._ids: dict[str, int] = {"project": 4_100_000, "mr": 31_000_000, "note": 186_000_000,
                                     "pipeline": 457_000_000, "job": 176_000_000, "environment": 585_000,
                                     "deployment": 13_400_000, "issue": 22_000_000}
        # A cut Org (simulator/cut.py) derives from its world before the cut, then cuts what it derived: ids
        # are handed out in derivation order, so deriving from the cut Org would renumber what a night before
        # had already served.
        source = org.horizon_org or org
        for store in sorted(source.repos.values(), key=lambda s: s.full_name):
            if store.commits:
                self._derive(store)
        if org.horizon_org is not None:
            self._cut(org)

    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # ------------------------------------------------------------------ derivation from the Org

    def _derive(self, store: RepoStore) -> None:
        name = f"{store.repo['name']}-infra"
        path = f"{GROUP}/{name}"
        created = parse_ms(store.commits[0]["commit"]["committer"]["date"])
        pid = self.next_id("project")
        project = GitLabProject({
            "id": pid, "description": f"Infrastructure and deployment of {store.full_name}", "name": name,
            "name_with_namespace": f"Acme / {name}", "path": name, "path_with_namespace": path,
            "created_at": gitlab_ts(created), "default_branch": "main", "tag_list": [], "topics": [],
            "ssh_url_to_repo": f"git@gitlab.com:{path}.git", "http_url_to_repo": f"{WEB}/{path}.git",
            "web_url": f"{WEB}/{path}", "visibility": "private", "archived": False,
            "namespace": {"id": 4_000_001, "name": "Acme", "path": GROUP, "kind": "group", "full_path": GROUP,
                          "parent_id": None, "web_url": f"{WEB}/groups/{GROUP}"},
            "last_activity_at": gitlab_ts(created),
        })
        self.projects[path] = project
        for i, c in enumerate(store.commits):
            at = parse_ms(c["commit"]["committer"]["date"]) + 30 * MS_PER_MINUTE
            project.commits.append(self.commit_dict(sha_of("gitlab", path, i), f"infra: {c['commit']['message']}",
                                                    c["commit"]["author"]["name"], at))
        for pr in sorted(store.pulls.values(), key=lambda p: p["number"]):
            self._derive_merge_request(project, store, pr)
        for commit in project.commits:
            self._add_pipeline(project, commit)
        self._derive_deployments(project, store)
        self.add_issue(path, "Document the rollback procedure", project.commits[0]["created_at"], issue_type="issue")

    def _cut(self, org: Org) -> None:
        """What was derived, as it stood at ``org.cut_ms``: later objects gone, later ends undone."""
        cut = org.cut_ms

        def before(value: str | None) -> bool:
            return value is not None and parse_ms(value) < cut

        for project in self.projects.values():
            store = org.repos[project.project["description"].rsplit(" ", 1)[1]]
            project.commits = [c for c in project.commits if before(c["created_at"])]
            for iid, mr in list(project.merge_requests.items()):
                if not before(mr["created_at"]):
                    for kept in (project.merge_requests, project.mr_commits, project.mr_notes):
                        del kept[iid]
                    continue
                project.mr_notes[iid] = notes = [n for n in project.mr_notes[iid] if before(n["created_at"])]
                project.mr_commits[iid] = commits = [c for c in project.mr_commits[iid] if before(c["created_at"])]
                if not before(mr["merged_at"] or mr["closed_at"]):
                    mr.update(state="opened", merged_at=None, merged_by=None, closed_at=None)
                mr.update(user_notes_count=sum(not n["system"] for n in notes),
                          updated_at=gitlab_ts(parse_ms(store.pulls[iid]["updated_at"]) + 30 * MS_PER_MINUTE),
                          sha=commits[0]["id"] if commits else None)
            project.pipelines = [p for p in project.pipelines if before(p["created_at"])]
            for pipeline in project.pipelines:
                if not before(pipeline["updated_at"]):
                    pipeline.update(status="running", updated_at=pipeline["created_at"])
            project.jobs = [self._job_at(j, cut) for j in project.jobs if before(j["created_at"])]
            jobs = {j["id"]: j for j in project.jobs}
            project.deployments = [d for d in project.deployments if before(d["created_at"])]
            for dep in project.deployments:
                dep["deployable"] = jobs[dep["deployable"]["id"]]
                if dep["finished_at"] is not None and not before(dep["finished_at"]):
                    dep.update(status="running", finished_at=None, updated_at=dep["created_at"])
            for name, env in list(project.environments.items()):
                deployed = [d["updated_at"] for d in project.deployments if d["environment"]["name"] == name]
                if not deployed:
                    del project.environments[name]
                else:
                    env["updated_at"] = max(deployed, key=parse_ms)
            project.issues = [i for i in project.issues if before(i["created_at"])]
            for issue in project.issues:
                if issue["closed_at"] is not None and not before(issue["closed_at"]):
                    issue.update(state="opened", closed_at=None, closed_by=None, updated_at=issue["created_at"])

    @staticmethod
    def _job_at(job: dict, cut: int) -> dict:
        if job["finished_at"] is None or parse_ms(job["finished_at"]) < cut:
            return job
        return {**job, "status": "running", "finished_at": None, "duration": None, "failure_reason": None}

    def commit_dict(self, sha: str, message: str, author: str, at: int) -> dict:
        ts = gitlab_ts(at)
        title = message.splitlines()[0] if message else ""
        email = f"{author.lower().replace(' ', '.')}@acme.example"
        return {"id": sha, "short_id": sha[:8], "created_at": ts, "parent_ids": [], "title": title,
                "message": message, "author_name": author, "author_email": email, "authored_date": ts,
                "committer_name": author, "committer_email": email, "committed_date": ts, "trailers": {},
                "web_url": f"{WEB}/-/commit/{sha}"}

    def _derive_merge_request(self, project: GitLabProject, store: RepoStore, pr: dict) -> None:
        path, iid = project.project["path_with_namespace"], pr["number"]
        shift = 30 * MS_PER_MINUTE

        def later(value: str | None) -> str | None:
            return gitlab_ts(parse_ms(value) + shift) if value else None

        merged = pr["merged_at"] is not None
        state = "opened" if pr["state"] == "open" else ("merged" if merged else "closed")
        author = _user(pr["user"]["login"])
        commits = [self.commit_dict(sha_of("gitlab", path, "mr", iid, k), f"infra: {c['commit']['message']}",
                                    c["commit"]["author"]["name"], parse_ms(c["commit"]["author"]["date"]) + shift)
                   for k, c in enumerate(store.pr_commits.get(iid, []))]
        mr = {
            "id": self.next_id("mr"), "iid": iid, "project_id": project.project["id"], "title": pr["title"],
            "description": pr["body"] or "", "state": state, "created_at": later(pr["created_at"]),
            "updated_at": later(pr["updated_at"]), "merged_at": later(pr["merged_at"]),
            "closed_at": None if merged else later(pr["closed_at"]), "merged_by": author if merged else None,
            "target_branch": "main", "source_branch": pr["head"]["ref"], "author": author, "assignees": [],
            "reviewers": [], "source_project_id": project.project["id"], "target_project_id": project.project["id"],
            "labels": [], "draft": bool(pr["draft"]), "work_in_progress": bool(pr["draft"]),
            "merge_status": "can_be_merged", "sha": commits[-1]["id"] if commits else None,
            "merge_commit_sha": None, "squash_commit_sha": None, "user_notes_count": 0,
            "references": {"short": f"!{iid}", "full": f"{path}!{iid}"},
            "web_url": f"{WEB}/{path}/-/merge_requests/{iid}",
        }
        notes = [self._note(mr, author, f"requested review from @{author['username']}",
                            parse_ms(mr["created_at"]) + MS_PER_MINUTE, system=True)]
        for review in store.reviews.get(iid, []):
            body = {"APPROVED": "Looks good to me.", "CHANGES_REQUESTED": "Please fix the plan output first."}.get(
                review["state"], "A question on the module inputs.")
            reviewer, at = _user(review["user"]["login"]), parse_ms(review["submitted_at"]) + shift
            notes.append(self._note(mr, reviewer, body, at, system=False))
            if review["state"] == "APPROVED":  # GitLab records an approval only as a system note
                notes.append(self._note(mr, reviewer, "approved this merge request", at + 1000, system=True))
        mr["user_notes_count"] = sum(not n["system"] for n in notes)
        project.merge_requests[iid] = mr
        project.mr_commits[iid] = commits[::-1]  # GitLab lists an MR's commits newest first
        project.mr_notes[iid] = notes

    def _note(self, mr: dict, author: dict, body: str, at: int, *, system: bool) -> dict:
        ts = gitlab_ts(at)
        return {"id": self.next_id("note"), "type": None, "body": body, "attachment": None, "author": author,
                "created_at": ts, "updated_at": ts, "system": system, "noteable_id": mr["id"],
                "noteable_type": "MergeRequest", "project_id": mr["project_id"], "resolvable": False,
                "confidential": False, "internal": False, "noteable_iid": mr["iid"], "commands_changes": {}}

    def _add_pipeline(self, project: GitLabProject, commit: dict) -> None:
        path = project.project["path_with_namespace"]
        start = parse_ms(commit["created_at"]) + 2 * MS_PER_MINUTE
        failed = zlib.crc32(commit["id"].encode()) % 7 == 0
        pid = self.next_id("pipeline")
        pipeline = {"id": pid, "iid": len(project.pipelines) + 1, "project_id": project.project["id"],
                    "sha": commit["id"], "ref": "main", "status": "failed" if failed else "success", "source": "push",
                    "created_at": gitlab_ts(start), "updated_at": gitlab_ts(start + 12 * MS_PER_MINUTE),
                    "web_url": f"{WEB}/{path}/-/pipelines/{pid}", "name": None}
        project.pipelines.append(pipeline)
        steps = [("build", "build", 4), ("test", "test", 4), ("deploy", "deploy-staging", 4)]
        at = start
        for stage, name, minutes in steps:
            status = "success"
            if failed and name == "test":
                status = "failed"
            elif failed and name == "deploy-staging":
                status = "skipped"
            project.jobs.append(self.job_dict(project, pipeline, name, stage, status, at, at + minutes * MS_PER_MINUTE))
            at += minutes * MS_PER_MINUTE

    def job_dict(self, project: GitLabProject, pipeline: dict, name: str, stage: str, status: str, started: int,
                 finished: int | None) -> dict:
        jid = self.next_id("job")
        path = project.project["path_with_namespace"]
        done = finished is not None and status not in ("running", "pending", "created")
        return {
            "id": jid, "status": status, "stage": stage, "name": name, "ref": pipeline["ref"], "tag": False,
            "coverage": None, "allow_failure": False, "created_at": gitlab_ts(started),
            "started_at": None if status in ("skipped", "created") else gitlab_ts(started),
            "finished_at": gitlab_ts(finished) if done else None,
            "duration": (finished - started) / 1000 if done else None, "queued_duration": 0.5,
            "user": _user("gitlab-ci"), "commit": {"id": pipeline["sha"], "short_id": pipeline["sha"][:8]},
            "pipeline": {"id": pipeline["id"], "iid": pipeline["iid"], "project_id": pipeline["project_id"],
                         "sha": pipeline["sha"], "ref": pipeline["ref"], "status": pipeline["status"],
                         "source": pipeline["source"], "created_at": pipeline["created_at"],
                         "updated_at": pipeline["updated_at"], "web_url": pipeline["web_url"]},
            "web_url": f"{WEB}/{path}/-/jobs/{jid}", "artifacts": [], "runner": None, "failure_reason": (
                "script_failure" if status == "failed" else None),
            "tag_list": [],
        }

    def _derive_deployments(self, project: GitLabProject, store: RepoStore) -> None:
        path = project.project["path_with_namespace"]
        planned = []  # (created, environment, sha, status, finished, job name)
        for dep in sorted(store.deployments.values(), key=lambda d: (d["created_at"], d["id"])):
            states = [s for s in store.deployment_statuses.get(dep["id"], []) if s["state"] != "inactive"]
            final = states[-1] if states else None
            state = final["state"] if final else None
            status = {"success": "success", "failure": "failed", "error": "failed"}.get(state or "", "running")
            if state is None:
                status = "created"
            created = parse_ms(dep["created_at"]) + _HOUR
            finished = parse_ms(final["created_at"]) + _HOUR if status in ("success", "failed") else None
            planned.append((created, dep["environment"], self._sha_at(project, created), status, finished,
                            f"deploy-{dep['environment']}"))
        good: str | None = None
        for created, env, sha, status, finished, _name in list(planned):
            if env != "production":
                continue
            if status == "failed" and good is not None and finished is not None:
                planned.append((finished + 30 * MS_PER_MINUTE, env, good, "success", finished + 40 * MS_PER_MINUTE,
                                "rollback-production"))
                break
            if status == "success":
                good = sha
        planned.sort(key=lambda p: p[0])
        for created, env, sha, status, finished, name in planned:
            self.add_deployment(path, env, created, status=status, finished_at=finished, sha=sha, job_name=name)
        # An incident per failed production deployment, closed by the next good one.
        deps = project.deployments
        for i, dep in enumerate(deps):
            if dep["environment"]["name"] != "production" or dep["status"] != "failed":
                continue
            failed_at = parse_ms(dep["deployable"]["finished_at"])
            fixed = next((d for d in deps[i + 1:] if d["environment"]["name"] == "production"
                          and d["status"] == "success"), None)
            self.add_issue(path, f"Production down after deployment !{dep['iid']}", failed_at + 10 * MS_PER_MINUTE,
                           closed_at=fixed["deployable"]["finished_at"] if fixed else None, issue_type="incident",
                           labels=["incident", "severity::2"], description=f"Caused by deployment {dep['id']}.")

    @staticmethod
    def shipped_merge_requests(project: GitLabProject, deployment: dict) -> list[dict]:
        """What GitLab links to a deployment when it succeeds: the merge requests merged since the previous
        successful deployment of the environment up to the deployed sha (the main branch is linear here, so
        "in the sha's history" is "merged by the time of that commit"); for the environment's first
        successful deployment every MR merged up to its sha. A rollback (an older sha) ships none; a failed
        or unfinished deployment has none linked."""
        if deployment["status"] != "success":
            return []
        commit_at = {c["id"]: parse_ms(c["created_at"]) for c in project.commits}
        environment = deployment["environment"]["name"]
        earlier = [d for d in project.deployments
                   if d["environment"]["name"] == environment and d["status"] == "success"
                   and d["iid"] < deployment["iid"]]
        upper = commit_at.get(deployment["sha"])
        if upper is None:
            return []
        lower = commit_at.get(earlier[-1]["sha"]) if earlier else None
        return [mr for mr in project.merge_requests.values() if mr["merged_at"] is not None
                and parse_ms(mr["merged_at"]) <= upper and (lower is None or parse_ms(mr["merged_at"]) > lower)]

    @staticmethod
    def _sha_at(project: GitLabProject, at: int) -> str:
        shas = [c["id"] for c in project.commits if parse_ms(c["created_at"]) <= at]
        return shas[-1] if shas else project.commits[0]["id"]

    # ------------------------------------------------------------------ mutations (tests, between runs)

    def environment(self, project: GitLabProject, name: str, at: int) -> dict:
        env = project.environments.get(name)
        if env is None:
            eid = self.next_id("environment")
            path = project.project["path_with_namespace"]
            tier = "production" if name in ("production", "prod") else ("staging" if "stag" in name else "other")
            env = {"id": eid, "name": name, "slug": name.replace("/", "-"),
                   "external_url": f"https://{name}.acme.example",
                   "state": "available", "tier": tier, "created_at": gitlab_ts(at), "updated_at": gitlab_ts(at),
                   "project": {"id": project.project["id"], "path_with_namespace": path}}
            project.environments[name] = env
        return env

    def add_deployment(self, path: str, environment: str, created_at, *, status: str = "success",
                       finished_at=None, sha: str | None = None, job_name: str | None = None,
                       ref: str = "main") -> dict:
        """A deployment (status created, running, success, failed, canceled, blocked or skipped)."""
        with self.org.lock:
            project = self.projects[path]
            created = as_ms(created_at)
            finished = as_ms(finished_at) if finished_at is not None else None
            sha = sha or self._sha_at(project, created)
            env = self.environment(project, environment, created)
            pipeline = {"id": self.next_id("pipeline"), "iid": len(project.pipelines) + 1,
                        "project_id": project.project["id"], "sha": sha, "ref": ref,
                        "status": {"failed": "failed", "success": "success"}.get(status, "running"),
                        "source": "push", "created_at": gitlab_ts(created),
                        "updated_at": gitlab_ts(finished or created),
                        "web_url": f"{WEB}/{path}/-/pipelines/x", "name": None}
            name = job_name or f"deploy-{environment}"
            job = self.job_dict(project, pipeline, name, "deploy", status, created, finished)
            did = self.next_id("deployment")
            dep = {"id": did, "iid": len(project.deployments) + 1, "ref": ref, "sha": sha,
                   "created_at": gitlab_ts(created), "updated_at": gitlab_ts(finished or created),
                   "finished_at": gitlab_ts(finished) if finished is not None else None,
                   "status": status, "user": _user("deploy-bot"),
                   "environment": {k: env[k] for k in ("id", "name", "slug", "external_url", "created_at",
                                                       "updated_at")},
                   "deployable": job}
            project.deployments.append(dep)
            project.jobs.append(job)
            env["updated_at"] = dep["updated_at"]
            return dep

    def finish_deployment(self, path: str, iid: int, status: str, at) -> dict:
        """Move a running deployment to its final status, bumping updated_at as GitLab does."""
        with self.org.lock:
            dep = next(d for d in self.projects[path].deployments if d["iid"] == iid)
            ts = gitlab_ts(as_ms(at))
            job = {**dep["deployable"], "status": status, "finished_at": ts}
            dep.update(status=status, updated_at=ts, finished_at=ts, deployable=job)
            return dep

    def add_issue(self, path: str, title: str, created_at, *, closed_at=None, issue_type: str = "incident",
                  labels: list[str] | None = None, description: str = "") -> dict:
        with self.org.lock:
            project = self.projects[path]
            created = gitlab_ts(as_ms(created_at))
            closed = gitlab_ts(as_ms(closed_at)) if closed_at is not None else None
            iid = len(project.issues) + 1
            issue = {"id": self.next_id("issue"), "iid": iid, "project_id": project.project["id"], "title": title,
                     "description": description, "state": "closed" if closed else "opened", "created_at": created,
                     "updated_at": closed or created, "closed_at": closed,
                     "closed_by": _user("oncall") if closed else None,
                     "labels": list(labels or []), "milestone": None, "assignees": [], "author": _user("oncall"),
                     "type": issue_type.upper(), "issue_type": issue_type, "assignee": None, "user_notes_count": 0,
                     "confidential": False, "web_url": f"{WEB}/{path}/-/issues/{iid}",
                     "references": {"short": f"#{iid}", "full": f"{path}#{iid}"}}
            project.issues.append(issue)
            return issue


def _cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode()


class _Window:
    """A fixed window of `limit` requests per token, as GitLab's RateLimit-* headers describe it."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self.start, self.used = time.time(), 0

    def take(self) -> tuple[bool, dict[str, str]]:
        now = time.time()
        if now - self.start >= self.seconds:
            self.start, self.used = now, 0
        self.used += 1
        reset = self.start + self.seconds
        headers = {"RateLimit-Name": "throttle_authenticated_api", "RateLimit-Limit": str(self.limit),
                   "RateLimit-Observed": str(self.used), "RateLimit-Remaining": str(max(0, self.limit - self.used)),
                   "RateLimit-Reset": str(math.ceil(reset)),
                   "RateLimit-ResetTime": email.utils.formatdate(math.ceil(reset), usegmt=True)}
        return self.used <= self.limit, {**headers, "Retry-After": str(max(1, math.ceil(reset - now)))} \
            if self.used > self.limit else headers


class GitLabApi(MountedApi):
    PREFIX = "gitlab"

    def __init__(self, org: Org, *, tokens: set[str] | list[str] | None = None, rate_limit: int = 2000,
                 rate_window: float = 60.0):
        self.org = org
        self.data = GitLabData(org)
        self.tokens = set(tokens) if tokens is not None else None
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        r = self.router = Router()
        v4 = "/api/v4"
        project = v4 + "/projects/{id}"
        r.add("GET", v4 + "/user", lambda req: Response(200, _user("throughline-bot")))
        r.add("GET", v4 + "/personal_access_tokens/self", lambda req: Response(200, {
            "id": 4711, "name": "throughline", "revoked": False, "active": True, "scopes": ["read_api"],
            "user_id": _user("throughline-bot")["id"], "expires_at": None,
        }))
        r.add("GET", v4 + "/groups/{id}/projects", self.group_projects)
        r.add("GET", project, lambda req: Response(200, self._project(req).project))
        r.add("GET", project + "/merge_requests", self.merge_requests)
        r.add("GET", project + "/merge_requests/{iid}/commits", self.mr_commits)
        r.add("GET", project + "/merge_requests/{iid}/notes", self.mr_notes)
        r.add("GET", project + "/pipelines", self.pipelines)
        r.add("GET", project + "/jobs", self.jobs)
        r.add("GET", project + "/environments", self.environments)
        r.add("GET", project + "/deployments", self.deployments)
        r.add("GET", project + "/deployments/{deployment_id}/merge_requests", self.deployment_merge_requests)
        r.add("GET", project + "/issues", self.issues)

    # ------------------------------------------------------------------ front door

    def _token(self, req: Request) -> str | None:
        private = req.headers.get("PRIVATE-TOKEN")
        if private:
            return private.strip()
        auth = req.headers.get("Authorization") or ""
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def serve(self, req: Request) -> Response:
        token = self._token(req)
        if self.tokens is not None and token not in self.tokens:
            return Response(401, {"message": "401 Unauthorized"})
        with self._lock:
            window = self._windows.setdefault(token or "anonymous", _Window(self.rate_limit, self.rate_window))
            allowed, headers = window.take()
        if not allowed:
            return Response(429, b"Retry later\n", headers, "text/plain")
        resolved = self.router.resolve(req.method, req.path)
        if resolved is None:
            return Response(404, {"error": "404 Not Found"}, headers)
        handler, req.params = resolved
        try:
            response = handler(req)
        except ApiError as exc:
            key = "error" if exc.status == 405 else "message"  # GitLab's keyset refusal says `error`
            return Response(exc.status, {key: exc.message}, {**headers, **exc.headers})
        response.headers = {**headers, **response.headers}
        return response

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return Response(401, {"message": "401 Unauthorized"})
        if fault.kind == "server_error" and int(fault.opts.get("status", 500)) == 500:
            return Response(500, {"message": "500 Internal Server Error"})
        if fault.kind == "rate_limit":
            retry_after = fault.opts.get("retry_after", 1)
            wait = float(retry_after) if retry_after is not None else 1.0
            reset = math.ceil(time.time() + wait)
            headers = {"RateLimit-Name": "throttle_authenticated_api", "RateLimit-Limit": str(self.rate_limit),
                       "RateLimit-Observed": str(self.rate_limit + 1), "RateLimit-Remaining": "0",
                       "RateLimit-Reset": str(reset), "RateLimit-ResetTime": email.utils.formatdate(reset, usegmt=True)}
            if retry_after is not None:
                headers["Retry-After"] = str(int(wait)) if wait.is_integer() else str(wait)
            return Response(int(fault.opts.get("status", 429)), b"Retry later\n", headers, "text/plain")
        return None  # 502-504: the load balancer's HTML page, as the server sends it

    # ------------------------------------------------------------------ helpers

    def _project(self, req: Request) -> GitLabProject:
        ident = unquote(req.params["id"])
        project = self.data.projects.get(ident)
        if project is None and ident.isdigit():
            project = next((p for p in self.data.projects.values() if p.project["id"] == int(ident)), None)
        if project is None:
            raise ApiError(404, "404 Project Not Found")
        return project

    @staticmethod
    def _paged(req: Request, items: list) -> Response:
        """One offset page with GitLab's X-* headers and Link."""
        per_page = req.int_arg("per_page", 20, minimum=1, maximum=100)
        page = req.int_arg("page", 1, minimum=1)
        total = len(items)
        pages = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page: page * per_page]
        nxt = page + 1 if page < pages else None
        prev = page - 1 if page > 1 else None
        links = [f'<{req.url_with(page=nxt)}>; rel="next"'] if nxt else []
        links += [f'<{req.url_with(page=prev)}>; rel="prev"'] if prev else []
        links += [f'<{req.url_with(page=1)}>; rel="first"', f'<{req.url_with(page=pages)}>; rel="last"']
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Next-Page": str(nxt or ""),
                   "X-Prev-Page": str(prev or ""), "X-Total": str(total), "X-Total-Pages": str(pages),
                   "Link": ", ".join(links)}
        return Response(200, chunk, headers)

    @staticmethod
    def _ordered(req: Request, items: list[dict], *, default_order: str = "created_at", default_sort: str = "desc",
                 orders: tuple[str, ...] = ("id", "created_at", "updated_at")) -> list[dict]:
        order = req.arg("order_by", default_order)
        if order not in orders:
            raise ApiError(400, "400 Bad request - order_by does not have a valid value")
        sort = req.arg("sort", default_sort)
        if sort not in ("asc", "desc"):
            raise ApiError(400, "400 Bad request - sort does not have a valid value")
        for bound, keep in (("updated_after", lambda v, b: v >= b), ("updated_before", lambda v, b: v <= b),
                            ("created_after", lambda v, b: v >= b), ("created_before", lambda v, b: v <= b)):
            value = req.arg(bound)
            if value:
                try:
                    limit = parse_ms(value.replace("Z", "+00:00"))
                except ValueError:
                    raise ApiError(400, f"400 Bad request - {bound} is invalid") from None
                column = bound.split("_")[0] + "_at"
                items = [i for i in items if i.get(column) and keep(parse_ms(i[column].replace("Z", "+00:00")), limit)]
        return sorted(items, key=lambda i: (i.get(order) or "", i["id"]), reverse=sort == "desc")

    # ------------------------------------------------------------------ routes

    def group_projects(self, req: Request) -> Response:
        group = unquote(req.params["id"])
        subgroups = req.arg("include_subgroups", "false") == "true"
        items = [p.project for p in self.data.projects.values()
                 if p.project["namespace"]["full_path"] == group
                 or (subgroups and p.project["namespace"]["full_path"].startswith(group + "/"))]
        if not items and group != GROUP:
            raise ApiError(404, "404 Group Not Found")
        archived = req.arg("archived")
        if archived in ("true", "false"):
            items = [p for p in items if p["archived"] == (archived == "true")]
        return self._paged(req, self._ordered(req, items, default_order="created_at", orders=(
            "id", "name", "path", "created_at", "updated_at", "last_activity_at")))

    def merge_requests(self, req: Request) -> Response:
        project = self._project(req)
        items = list(project.merge_requests.values())
        state = req.arg("state", "all")
        if state != "all":
            items = [m for m in items if m["state"] == state]
        return self._paged(req, self._ordered(req, items))

    def _mr(self, req: Request) -> tuple[GitLabProject, int]:
        project = self._project(req)
        try:
            iid = int(req.params["iid"])
        except ValueError:
            raise ApiError(404, "404 Not found") from None
        if iid not in project.merge_requests:
            raise ApiError(404, "404 Not found")
        return project, iid

    def mr_commits(self, req: Request) -> Response:
        project, iid = self._mr(req)
        return self._paged(req, project.mr_commits[iid])

    def mr_notes(self, req: Request) -> Response:
        project, iid = self._mr(req)
        return self._paged(req, self._ordered(req, project.mr_notes[iid], orders=("created_at", "updated_at")))

    def pipelines(self, req: Request) -> Response:
        project = self._project(req)
        items = project.pipelines
        if req.arg("status"):
            items = [p for p in items if p["status"] == req.arg("status")]
        return self._paged(req, self._ordered(req, items, default_order="id"))

    def jobs(self, req: Request) -> Response:
        project = self._project(req)
        items = sorted(project.jobs, key=lambda j: j["id"], reverse=True)
        scope = req.args("scope[]") or req.args("scope")
        if scope:
            items = [j for j in items if j["status"] in scope]
        if req.arg("pagination") != "keyset":
            return self._paged(req, items)
        if req.arg("order_by", "id") != "id" or req.arg("sort", "desc") != "desc":
            raise ApiError(405, "Keyset pagination is not yet available for this type of request")
        per_page = req.int_arg("per_page", 20, minimum=1, maximum=100)
        cursor = req.arg("cursor")
        if cursor:
            try:
                before = int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["id"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "400 Bad request - cursor is invalid") from None
            items = [j for j in items if j["id"] < before]
        chunk = items[:per_page]
        headers = {"X-Per-Page": str(per_page)}
        if len(items) > per_page:
            headers["Link"] = f'<{req.url_with(cursor=_cursor(chunk[-1]["id"]))}>; rel="next"'
        return Response(200, chunk, headers)

    def environments(self, req: Request) -> Response:
        project = self._project(req)
        items = sorted(project.environments.values(), key=lambda e: e["id"])
        return self._paged(req, items)

    def deployments(self, req: Request) -> Response:
        project = self._project(req)
        updated_filter = req.arg("updated_after") or req.arg("updated_before")
        if updated_filter and req.arg("order_by") != "updated_at":
            raise ApiError(400, "400 Bad request - `updated_at` filter and `updated_at` sorting must be paired")
        items = project.deployments
        if req.arg("environment"):
            items = [d for d in items if d["environment"]["name"] == req.arg("environment")]
        if req.arg("status"):
            items = [d for d in items if d["status"] == req.arg("status")]
        return self._paged(req, self._ordered(req, items, default_order="id", default_sort="asc",
                                              orders=("id", "iid", "created_at", "updated_at", "finished_at", "ref")))

    def deployment_merge_requests(self, req: Request) -> Response:
        project = self._project(req)
        try:
            deployment = next(d for d in project.deployments if d["id"] == int(req.params["deployment_id"]))
        except (StopIteration, ValueError):
            raise ApiError(404, "404 Deployment Not Found") from None
        return self._paged(req, self._ordered(req, self.data.shipped_merge_requests(project, deployment)))

    def issues(self, req: Request) -> Response:
        project = self._project(req)
        items = project.issues
        state = req.arg("state", "all")
        if state != "all":
            items = [i for i in items if i["state"] == state]
        if req.arg("issue_type"):
            items = [i for i in items if i["issue_type"] == req.arg("issue_type")]
        labels = [x for x in (req.arg("labels") or "").split(",") if x]
        if labels:
            items = [i for i in items if set(labels) <= set(i["labels"])]
        return self._paged(req, self._ordered(req, items))
