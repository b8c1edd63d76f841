"""CircleCI API v2 (circleci.com) over an Org: pipelines, workflows and jobs per project, mounted at /circleci.

Data is derived from the Org, so it is as deterministic as the Org. Every non-archived GitHub repository
`owner/name` is the CircleCI project `gh/owner/name`, with:
  * one pipeline per default-branch commit (trigger `webhook`), created a minute after the commit, with a
    `build-test` workflow of jobs `build` and `test` (the test of about one commit in eight fails);
  * one pipeline per GitHub deployment, as if CircleCI had created it: created two minutes before the
    deployment, on its ref and sha, with a `build-test-deploy` workflow of jobs `build`, then (production
    only) the approval job `hold-deploy-production`, then `deploy-<environment>`, whose outcome and times
    are the deployment's (failure/error -> `failed`; no final status yet -> `running`). A deployment
    described as a rollback runs the `rollback` workflow with job `rollback-deploy-production` instead.
So the deployment rules' defaults find each GitHub deployment once more here (same sha, environment and
time), and neither `build-test` pipelines nor approval jobs count.

Wire behaviours kept on purpose (shapes follow ../shared/fixtures/devlake/circleci):
  * every list answers `{"items": [...], "next_page_token": "<opaque>" | null}`, 20 items a page (mount
    option `page_size`); the token is opaque and a forged one is a 400;
  * `GET /api/v2/project/{vcs}/{org}/{repo}/pipeline` is newest first with no date filter (only `branch`);
  * credentials are the `Circle-Token` header or HTTP Basic with the token as user name; a missing or
    unknown token gets 401 `{"message": "You must log in first."}`; an unknown project 404
    `{"message": "Project not found"}`;
  * 429 carries `Retry-After` (seconds) when the fault gives one;
  * `GET /api/v1.1/projects` lists the followed projects (v2 has no project listing).
Tests add history between runs with `add_pipeline(...)` and finish a workflow with `finish_workflow(...)`.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from connectors.kit.faults import Fault
from connectors.kit.http import ApiError, Request, Response, Router

from .api import MountedApi
from .model import Org
from .timefmt import MS_PER_MINUTE, github_ts, parse_ms

WEB = "https://app.circleci.com"
_FINAL = {"success": "success", "failure": "failed", "error": "failed"}


def _uuid(*parts: object) -> str:
    return str(uuid.UUID(hashlib.md5(":".join(map(str, parts)).encode()).hexdigest(), version=4))


def _ts(ms: int | None) -> str | None:
    return None if ms is None else github_ts(ms)


@dataclass
class _Project:
    slug: str
    repo: dict
    pipelines: list[dict] = field(default_factory=list)  # oldest first
    next_number: int = 1


class CircleCIApi(MountedApi):
    PREFIX = "circleci"

    def __init__(self, org: Org, *, tokens: set[str] | list[str] | None = None, page_size: int = 20):
        self.org = org
        self.tokens = set(tokens) if tokens is not None else None
        self.page_size = page_size
        self._projects: dict[str, _Project] | None = None
        self.workflows: dict[str, list[dict]] = {}  # pipeline id -> workflows, oldest first
        self.jobs: dict[str, list[dict]] = {}  # workflow id -> jobs in run order
        r = self.router = Router()
        r.add("GET", "/api/v2/project/{vcs}/{owner}/{repo}/pipeline", self.list_pipelines)
        r.add("GET", "/api/v2/pipeline/{pipeline_id}/workflow", self.list_workflows)
        r.add("GET", "/api/v2/workflow/{workflow_id}/job", self.list_jobs)
        r.add("GET", "/api/v1.1/projects", self.followed_projects)
        r.add("GET", "/api/v2/me", lambda req: Response(200, {
            "id": "5d9f0e1a-0000-4000-8000-000000000001", "login": "throughline-bot", "name": "Throughline Bot"}))

    # ------------------------------------------------------------------ data

    @property
    def projects(self) -> dict[str, _Project]:
        """Built on first use from the Org as it is then (a benchmark-sized Org pays only if it is asked)."""
        if self._projects is None:
            with self.org.lock:
                self._projects = {}
                for full_name, store in sorted(self.org.repos.items()):
                    if not store.repo.get("archived"):
                        self._build_project(full_name, store)
        return self._projects

    def _build_project(self, full_name: str, store) -> None:
        project = self._projects[f"gh/{full_name}"] = _Project(f"gh/{full_name}", store.repo)
        branch = store.repo.get("default_branch", "main")
        events: list[tuple[int, int, dict]] = []
        for commit in store.commits:
            at = parse_ms(commit["commit"]["committer"]["date"]) + MS_PER_MINUTE
            events.append((at, 0, {"kind": "ci", "sha": commit["sha"], "branch": branch,
                                   "subject": commit["commit"]["message"].split("\n")[0]}))
        for dep in store.deployments.values():
            statuses = store.deployment_statuses.get(dep["id"], [])
            final = next((s for s in reversed(statuses) if s["state"] in _FINAL), None)
            events.append((parse_ms(dep["created_at"]) - 2 * MS_PER_MINUTE, 1, {
                "kind": "deploy", "sha": dep["sha"], "branch": dep["ref"], "environment": dep["environment"],
                "rollback": "rollback" in (dep.get("description") or "").lower(),
                "started": parse_ms(dep["created_at"]),
                "outcome": _FINAL[final["state"]] if final else "running",
                "stopped": parse_ms(final["created_at"]) if final else None,
                "subject": dep.get("description") or f"Deploy to {dep['environment']}"}))
        events.sort(key=lambda e: (e[0], e[1], e[2]["sha"]))
        for at, _, event in events:
            if event["kind"] == "ci":
                failed = int(event["sha"][:2], 16) % 8 == 0
                jobs = [("build", "build", at + 15_000, at + 135_000, "success"),
                        ("test", "build", at + 140_000, at + 320_000, "failed" if failed else "success")]
                self.add_pipeline(project.slug, at, event["sha"], event["branch"], "build-test", jobs,
                                  subject=event["subject"])
            else:
                start, stop, outcome, env = event["started"], event["stopped"], event["outcome"], event["environment"]
                jobs = [("build", "build", at + 10_000, at + 100_000, "success")]
                if event["rollback"]:
                    name, deploy_job = "rollback", f"rollback-deploy-{env}"
                else:
                    name, deploy_job = "build-test-deploy", f"deploy-{env}"
                    if env == "production":
                        jobs.append(("hold-deploy-production", "approval", at + 100_000, start, "success"))
                jobs.append((deploy_job, "build", start, stop, outcome))
                self.add_pipeline(project.slug, at, event["sha"], event["branch"], name, jobs,
                                  subject=event["subject"], trigger="api" if event["rollback"] else "webhook")

    def add_pipeline(self, slug: str, at, sha: str, branch: str, workflow: str | None,
                     jobs: list[tuple[str, str, Any, Any, str]], *, subject: str = "", trigger: str = "webhook",
                     tag: str | None = None, state: str = "created") -> dict:
        """A pipeline created at ``at`` on ``sha``/``branch`` with one workflow of ``jobs``
        (name, type ``build`` or ``approval``, started, stopped or None, status), in run order. With
        ``state="setup-pending"`` and no workflow it is still reading its config: add the workflow later."""
        project = self.projects[slug]
        at_ms = at if isinstance(at, int) else parse_ms(at)
        number = project.next_number
        project.next_number += 1
        owner, repo = slug.split("/")[1:]
        pipeline_id = _uuid(slug, "pipeline", number)
        vcs: dict[str, Any] = {
            "origin_repository_url": f"https://github.com/{owner}/{repo}",
            "target_repository_url": f"https://github.com/{owner}/{repo}",
            "revision": sha,
            "provider_name": "GitHub",
            "commit": {"body": "", "subject": subject},
        }
        if tag:
            vcs["tag"] = tag
        else:
            vcs["branch"] = branch
        pipeline = {
            "id": pipeline_id,
            "errors": [],
            "project_slug": slug,
            "updated_at": github_ts(at_ms).replace("Z", ".000Z"),
            "number": number,
            "state": state,
            "created_at": github_ts(at_ms).replace("Z", ".000Z"),
            "trigger": {"received_at": github_ts(at_ms - 200).replace("Z", ".000Z"), "type": trigger,
                        "actor": {"login": "deploy-bot" if trigger == "api" else owner, "avatar_url": None}},
            "vcs": vcs,
        }
        # Kept oldest first (history is mostly appended); served newest first.
        bisect.insort(project.pipelines, pipeline, key=lambda p: (p["created_at"], p["number"]))
        self.workflows[pipeline_id] = []
        if workflow is not None:
            self.add_workflow(pipeline, workflow, jobs)
        return pipeline

    def add_workflow(self, pipeline: dict, name: str, jobs: list[tuple[str, str, Any, Any, str]]) -> dict:
        """A workflow (e.g. a rerun) of ``pipeline``; its status follows its jobs."""
        workflows = self.workflows[pipeline["id"]]
        workflow_id = _uuid(pipeline["id"], "workflow", len(workflows))
        stored = []
        previous: list[str] = []
        for n, (job_name, job_type, started, stopped, status) in enumerate(jobs):
            started_ms = started if isinstance(started, int) or started is None else parse_ms(started)
            stopped_ms = stopped if isinstance(stopped, int) or stopped is None else parse_ms(stopped)
            job = {
                "dependencies": list(previous),
                "job_number": None if job_type == "approval" else pipeline["number"] * 10 + n,
                "id": _uuid(workflow_id, "job", n),
                "started_at": _ts(started_ms),
                "name": job_name,
                "project_slug": pipeline["project_slug"],
                "status": status,
                "type": job_type,
                "stopped_at": _ts(stopped_ms) if status not in ("running", "queued", "on_hold", "blocked") else None,
            }
            if job_type == "approval":
                job["approval_request_id"] = job["id"]
                job["approved_by"] = _uuid("user", "approver")
            stored.append(job)
            previous = [job["id"]]
        self.jobs[workflow_id] = stored
        workflow = {
            "pipeline_id": pipeline["id"],
            "id": workflow_id,
            "name": name,
            "project_slug": pipeline["project_slug"],
            "status": "success",
            "started_by": _uuid("user", pipeline["trigger"]["actor"]["login"]),
            "pipeline_number": pipeline["number"],
            "created_at": pipeline["created_at"].replace(".000Z", "Z"),
            "stopped_at": None,
        }
        self._settle(workflow)
        workflows.append(workflow)
        return workflow

    def _settle(self, workflow: dict) -> None:
        statuses = [j["status"] for j in self.jobs[workflow["id"]]]
        # A workflow waiting for an approval is on hold, even though the jobs after it are `blocked`.
        if any(s in ("running", "queued") for s in statuses):
            workflow["status"], workflow["stopped_at"] = ("failing" if "failed" in statuses else "running"), None
        elif any(s == "on_hold" for s in statuses):
            workflow["status"], workflow["stopped_at"] = "on_hold", None
        elif any(s == "blocked" for s in statuses):
            workflow["status"], workflow["stopped_at"] = "running", None
        else:
            workflow["status"] = "failed" if any(s in ("failed", "infrastructure_fail", "timedout")
                                                 for s in statuses) else "success"
            workflow["stopped_at"] = max((j["stopped_at"] for j in self.jobs[workflow["id"]] if j["stopped_at"]),
                                         default=workflow["created_at"])

    def finish_workflow(self, workflow_id: str, status: str, at) -> dict:
        """End every unfinished job of a workflow with ``status`` at ``at``; the workflow follows."""
        workflow = next(w for ws in self.workflows.values() for w in ws if w["id"] == workflow_id)
        stamp = _ts(at if isinstance(at, int) else parse_ms(at))
        for job in self.jobs[workflow_id]:
            if job["stopped_at"] is None:
                job["status"], job["stopped_at"] = status, stamp
                job["started_at"] = job["started_at"] or stamp
        self._settle(workflow)
        return workflow

    # ------------------------------------------------------------------ HTTP

    def serve(self, req: Request) -> Response:
        if not self._authorized(req):
            return Response(401, {"message": "You must log in first."})
        found = self.router.resolve(req.method, req.path)
        if found is None:
            raise ApiError(404, "Not found")
        handler, req.params = found
        return handler(req)

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return Response(401, {"message": "You must log in first."})
        if fault.kind == "rate_limit":
            retry_after = fault.opts.get("retry_after", 1)
            headers = {} if retry_after is None else {"Retry-After": str(int(float(retry_after)))}
            return Response(int(fault.opts.get("status", 429)), {"message": "Too many requests"}, headers)
        if fault.kind == "server_error" and int(fault.opts.get("status", 500)) == 500:
            return Response(500, {"message": "Internal server error"})
        return None  # 502-504: the load balancer's HTML page, as the server sends for every API

    def _authorized(self, req: Request) -> bool:
        if self.tokens is None:
            return True
        token = req.headers.get("Circle-Token")
        header = req.headers.get("Authorization") or ""
        if token is None and header.lower().startswith("basic "):
            try:
                token = base64.b64decode(header[6:].strip()).decode().split(":", 1)[0]
            except Exception:  # noqa: BLE001 - a garbled header is simply not a credential
                token = None
        return token in self.tokens

    def _page(self, req: Request, items: list[dict], what: str) -> Response:
        token = req.arg("page-token")
        offset = 0
        if token:
            try:
                kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
                offset = int(number)
                if kind != what or offset < 0:
                    raise ValueError
            except ValueError:
                raise ApiError(400, "Invalid page-token.") from None
        end = offset + self.page_size
        next_token = base64.urlsafe_b64encode(f"{what}:{end}".encode()).decode() if end < len(items) else None
        return Response(200, {"items": items[offset:end], "next_page_token": next_token})

    def list_pipelines(self, req: Request) -> Response:
        p = req.params
        vcs = {"github": "gh", "bitbucket": "bb"}.get(p["vcs"], p["vcs"])
        project = self.projects.get(f"{vcs}/{p['owner']}/{p['repo']}")
        if project is None:
            raise ApiError(404, "Project not found")
        items = project.pipelines[::-1]
        branch = req.arg("branch")
        if branch:
            items = [x for x in items if x["vcs"].get("branch") == branch]
        return self._page(req, items, f"pipelines/{project.slug}")

    def list_workflows(self, req: Request) -> Response:
        pipeline_id = req.params["pipeline_id"]
        self.projects  # noqa: B018 - build the data on first use
        if pipeline_id not in self.workflows:
            raise ApiError(404, "Pipeline not found")
        return self._page(req, self.workflows[pipeline_id], f"workflows/{pipeline_id}")

    def list_jobs(self, req: Request) -> Response:
        workflow_id = req.params["workflow_id"]
        self.projects  # noqa: B018
        if workflow_id not in self.jobs:
            raise ApiError(404, "Workflow not found")
        return self._page(req, self.jobs[workflow_id], f"jobs/{workflow_id}")

    def followed_projects(self, req: Request) -> Response:
        listing = []
        for slug, project in self.projects.items():
            _, owner, name = slug.split("/")
            listing.append({
                "vcs_url": f"https://github.com/{owner}/{name}", "username": owner, "reponame": name,
                "vcs_type": "github", "default_branch": project.repo.get("default_branch", "main"),
                "following": True, "language": project.repo.get("language"),
            })
        return Response(200, listing)
