"""Jenkins (remote access API + Pipeline Stage View ``wfapi``) over an Org, mounted under /jenkins.

The instance the Org implies: one organization folder per GitHub owner (``acme``), in it one multibranch
project per repository that has deployments (``acme/checkout``), and its branch job ``main``, whose pipeline
builds are the repository's deployments, one build per GitHub deployment in creation order. Each build runs
the stages ``Checkout SCM``, ``Build``, ``Test`` (four minutes before the deployment) and a deploy stage from
the deployment's creation to its final status, named after what the deployment was: ``Deploy to staging``,
``Deploy to production``, ``Deploy to production (rollback)`` or ``Deploy hotfix to production``. A
deployment without a final status is a build still running. So Jenkins reports the same deployments as
GitHub (same sha, environment and start): with ``services`` mapping ``acme/<repo>/*`` to the repository, the
two sources describe one deployment (see docs/sources/jenkins.md).

Behaviours reproduced on purpose (shapes follow ../shared/fixtures/devlake/jenkins):
  * every answer is filtered by the ``tree`` parameter: only the properties asked for (plus ``_class``)
    come back, nested ``[...]`` selects sub-properties, and ``{M,N}`` / ``{M,}`` / ``{,N}`` / ``{N}`` take a
    range of a list: the only paging Jenkins has. ``allBuilds`` is newest first;
  * items of folders, organization folders and multibranch projects are listed by ``job/<a>/job/<b>/api/json``
    one level at a time; a branch name with a slash is stored encoded (``feature%2Fx``), so its URL segment
    is ``feature%252Fx``;
  * ``<job>/<number>/wfapi/describe`` exists for pipeline runs only (404 for freestyle builds);
  * Basic auth ``user:api_token``: a wrong token gets 401 (``Invalid password/token for user``), no
    credentials on a secured instance 403 (``Authentication required``), both as Jenkins' HTML pages;
  * Jenkins itself has no API rate limit; a proxy in front of it answers 429 (optionally with
    Retry-After) and a restarting Jenkins 503: those come from faults (``fault_response``).
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote, unquote

from connectors.kit.faults import Fault
from connectors.kit.http import ApiError, Request, Response

from .api import MountedApi
from .model import Org
from .timefmt import parse_ms

SITE = "https://jenkins.acme.example"

ORG_FOLDER = "jenkins.branch.OrganizationFolder"
FOLDER = "com.cloudbees.hudson.plugins.folder.Folder"
MULTIBRANCH = "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
PIPELINE_JOB = "org.jenkinsci.plugins.workflow.job.WorkflowJob"
FREESTYLE_JOB = "hudson.model.FreeStyleProject"
PIPELINE_RUN = "org.jenkinsci.plugins.workflow.job.WorkflowRun"
FREESTYLE_RUN = "hudson.model.FreeStyleBuild"
CONTAINERS = frozenset({ORG_FOLDER, FOLDER, MULTIBRANCH})
_RUN_CLASS = {PIPELINE_JOB: PIPELINE_RUN, FREESTYLE_JOB: FREESTYLE_RUN}

# Milliseconds of Checkout SCM, Build and Test, which run before a deployment's own stage.
_PRE_STAGES = (("Checkout SCM", 10_000), ("Build", 90_000), ("Test", 140_000))
_HTML = "text/html;charset=utf-8"


def _page(code: int, title: str, message: str) -> bytes:
    return (f"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>"
            f"<title>Error {code} {title}</title></head><body><h2>HTTP ERROR {code} {title}</h2>"
            f"<table><tr><th>URI:</th><td>/</td></tr><tr><th>STATUS:</th><td>{code}</td></tr>"
            f"<tr><th>MESSAGE:</th><td>{message}</td></tr></table></body></html>").encode()


def job_path(full_name: str) -> str:
    """`a/b/c` -> `job/a/job/b/job/c/`; names are already URL-encoded by Jenkins, so `%` is encoded again."""
    return "".join(f"job/{quote(part, safe='')}/" for part in full_name.split("/") if part)


# ---------------------------------------------------------------------- the tree parameter

_NAME = re.compile(r"[A-Za-z_$*][\w$]*|\*")


def parse_tree(text: str) -> list[tuple[str, list | None, tuple[int, int | None] | None]]:
    """``jobs[name,jobs[name]]{0,10},x`` -> [(name, sub-spec or None, (start, end or None) or None)]."""
    pos = 0

    def bad(why: str) -> ApiError:
        return ApiError(400, f"Malformed tree expression at {pos}: {why}")

    def parse_list() -> list:
        nonlocal pos
        out = []
        while True:
            m = _NAME.match(text, pos)
            if not m:
                raise bad("expected a property name")
            name, pos = m.group(0), m.end()
            sub = rng = None
            if pos < len(text) and text[pos] == "[":
                pos += 1
                sub = parse_list()
                if pos >= len(text) or text[pos] != "]":
                    raise bad("missing ]")
                pos += 1
            if pos < len(text) and text[pos] == "{":
                end = text.find("}", pos)
                if end < 0:
                    raise bad("missing }")
                rng = _range(text[pos + 1:end])
                if rng is None:
                    raise bad("bad range")
                pos = end + 1
            out.append((name, sub, rng))
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            return out

    spec = parse_list()
    if pos != len(text):
        raise bad("unexpected character")
    return spec


def _range(body: str) -> tuple[int, int | None] | None:
    m = re.fullmatch(r"\s*(\d*)\s*(,?)\s*(\d*)\s*", body)
    if not m or (not m.group(1) and not m.group(3)):
        return None
    lo, comma, hi = m.groups()
    if not comma:  # {N}: just the N-th element
        return int(lo), int(lo) + 1
    return int(lo or 0), int(hi) if hi else None


def apply_tree(value: Any, spec: list | None) -> Any:
    """Keep only what ``spec`` asks for; ``_class`` always stays, as in Jenkins' JSON."""
    if spec is None:
        return value
    if isinstance(value, list):
        return [apply_tree(v, spec) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    if "_class" in value:
        out["_class"] = value["_class"]
    for name, sub, rng in spec:
        names = [k for k in value if k != "_class"] if name == "*" else [name]
        for key in names:
            if key not in value:
                continue
            item = value[key]
            if rng is not None and isinstance(item, list):
                item = item[rng[0]:rng[1]]
            out[key] = apply_tree(item, sub)
    return out


# ---------------------------------------------------------------------- the API


class JenkinsApi(MountedApi):
    PREFIX = "jenkins"

    def __init__(self, org: Org, *, users: dict[str, str] | None = None, site: str = SITE):
        """``users``: user name -> API token accepted; None accepts any request (the demo's default)."""
        self.org = org
        self.site = site
        self.users = dict(users) if users is not None else None
        self.items: dict[str, dict] = {}  # full name -> job or folder as Jenkins describes it
        self.children: dict[str, list[str]] = {"": []}  # folder full name ("" = root) -> child full names
        self.builds: dict[str, list[dict]] = {}  # job full name -> builds, oldest first
        self.stages: dict[tuple[str, int], list[dict]] = {}  # (job, number) -> stages in order
        self._derive()

    # ------------------------------------------------------------------ building the instance

    def add_item(self, full_name: str, cls: str, *, description: str | None = None) -> dict:
        """A folder, multibranch project or job; its parent folders must exist (or be the root)."""
        parent, _, name = full_name.rpartition("/")
        if parent and parent not in self.items:
            raise ValueError(f"parent folder {parent!r} of {full_name!r} does not exist")
        item = {"_class": cls, "name": name, "fullName": full_name, "displayName": unquote(name),
                "url": f"{self.site}/{job_path(full_name)}", "description": description}
        if cls in CONTAINERS:
            item["jobs"] = []
            self.children[full_name] = []
        else:
            item.update(buildable=True, color="notbuilt", lastBuild=None, lastCompletedBuild=None)
            self.builds[full_name] = []
        self.items[full_name] = item
        self.children[parent].append(full_name)
        return item

    def add_build(self, job: str, *, timestamp_ms: int, duration_ms: int | None, result: str | None,
                  sha: str | None = None, branch: str | None = None, remote_url: str | None = None,
                  stages: list[tuple[str, str, int, int]] | None = None, cause: str = "Started by an SCM change",
                  number: int | None = None) -> dict:
        """The job's next build. ``duration_ms`` None: still running (``building``, no result).
        ``stages``: (name, wfapi status, start ms, duration ms), pipeline jobs only."""
        item = self.items[job]
        builds = self.builds[job]
        number = number if number is not None else (builds[-1]["number"] + 1 if builds else 1)
        running = duration_ms is None
        actions: list[dict] = [{"_class": "hudson.model.CauseAction",
                                "causes": [{"_class": "hudson.model.Cause$UserIdCause" if "user" in cause
                                            else "jenkins.branch.BranchEventCause", "shortDescription": cause}]}]
        if sha is not None:
            actions.append({"_class": "hudson.plugins.git.util.BuildData",
                            "lastBuiltRevision": {"SHA1": sha, "branch": [{"SHA1": sha, "name": branch}]},
                            "remoteUrls": [remote_url] if remote_url else [], "scmName": ""})
        actions += [{}, {"_class": "org.jenkinsci.plugins.displayurlapi.actions.RunDisplayAction"}]
        parts = [unquote(p) for p in job.split("/")]
        build = {
            "_class": _RUN_CLASS.get(item["_class"], FREESTYLE_RUN),
            "actions": actions,
            "building": running,
            "description": None,
            "displayName": f"#{number}",
            "duration": 0 if running else duration_ms,
            "estimatedDuration": duration_ms or 300_000,
            "fullDisplayName": f"{' » '.join(parts)} #{number}",
            "id": str(number),
            "number": number,
            "result": None if running else result,
            "timestamp": timestamp_ms,
            "url": f"{item['url']}{number}/",
        }
        builds.append(build)
        if stages is not None:
            self.stages[(job, number)] = [self._stage(job, number, i, *s) for i, s in enumerate(stages)]
        stub = {"_class": build["_class"], "number": number, "url": build["url"]}
        item["lastBuild"] = stub
        if not running:
            item["lastCompletedBuild"] = stub
        item["color"] = _color(result) if not running else _color(_last_result(builds[:-1])) + "_anime"
        return build

    def finish_build(self, job: str, number: int, result: str, duration_ms: int,
                     stage_status: str | None = None) -> dict:
        """Finish a running build (and its running stages, with ``stage_status``)."""
        build = next(b for b in self.builds[job] if b["number"] == number)
        build.update(building=False, result=result, duration=duration_ms)
        for stage in self.stages.get((job, number), []):
            if stage["status"] == "IN_PROGRESS":
                stage["status"] = stage_status or ("SUCCESS" if result == "SUCCESS" else "FAILED")
                stage["durationMillis"] = build["timestamp"] + duration_ms - stage["startTimeMillis"]
        item = self.items[job]
        item["lastCompletedBuild"] = {"_class": build["_class"], "number": number, "url": build["url"]}
        running = any(b["building"] for b in self.builds[job])
        item["color"] = _color(_last_result(self.builds[job])) + ("_anime" if running else "")
        return build

    def _stage(self, job: str, number: int, index: int, name: str, status: str, start: int, duration: int) -> dict:
        node = 6 + 5 * index  # flow node ids as a declarative pipeline numbers them
        stage = {"_links": {"self": {"href": f"/{job_path(job)}{number}/execution/node/{node}/wfapi/describe"}},
                 "id": str(node), "name": name, "execNode": "", "status": status, "startTimeMillis": start,
                 "durationMillis": duration, "pauseDurationMillis": 0}
        if status in ("FAILED", "ABORTED"):
            interrupted = "org.jenkinsci.plugins.workflow.steps.FlowInterruptedException"
            stage["error"] = ({"message": "script returned exit code 1", "type": "hudson.AbortException"}
                              if status == "FAILED" else {"message": None, "type": interrupted})
        return stage

    def _derive(self) -> None:
        """The Jenkins view of the Org: the deployments of each repository as builds of its `main` job."""
        for full_name in sorted(self.org.repos):
            store = self.org.repos[full_name]
            if not store.deployments:
                continue
            owner, repo = full_name.split("/", 1)
            if owner not in self.items:
                self.add_item(owner, ORG_FOLDER, description=f"Repositories of {owner}")
            self.add_item(full_name, MULTIBRANCH)
            job = self.add_item(f"{full_name}/main", PIPELINE_JOB)["fullName"]
            url = f"https://github.com/{full_name}.git"
            ordered = sorted(store.deployments.values(), key=lambda d: (d["created_at"], d["id"]))
            for dep in ordered:
                statuses = store.deployment_statuses.get(dep["id"], [])
                final = next((s for s in reversed(statuses) if s["state"] in ("success", "failure", "error")), None)
                start = parse_ms(dep["created_at"])
                began = start - sum(ms for _, ms in _PRE_STAGES)
                stages, at = [], began
                for name, ms in _PRE_STAGES:
                    stages.append((name, "SUCCESS", at, ms))
                    at += ms
                deploy_name = _deploy_stage_name(dep)
                if final is None:
                    stages.append((deploy_name, "IN_PROGRESS", start, 0))
                    self.add_build(job, timestamp_ms=began, duration_ms=None, result=None, sha=dep["sha"],
                                   branch=dep["ref"], remote_url=url, stages=stages)
                    continue
                end = parse_ms(final["created_at"])
                ok = final["state"] == "success"
                stages.append((deploy_name, "SUCCESS" if ok else "FAILED", start, end - start))
                self.add_build(job, timestamp_ms=began, duration_ms=end - began,
                               result="SUCCESS" if ok else "FAILURE", sha=dep["sha"], branch=dep["ref"],
                               remote_url=url, stages=stages)

    # ------------------------------------------------------------------ serving

    def serve(self, req: Request) -> Response:
        denied = self._auth(req)
        if denied is not None:
            return denied
        if req.method != "GET":
            return Response(405, _page(405, "Method Not Allowed", "HTTP method POST is not supported"), {}, _HTML)
        try:
            return self._route(req)
        except ApiError as exc:
            title = {400: "Bad Request", 404: "Not Found"}.get(exc.status, "Error")
            return Response(exc.status, _page(exc.status, title, exc.message), {}, _HTML)

    def _route(self, req: Request) -> Response:
        segments = [s for s in req.path.split("/") if s]
        if segments[:2] == ["view", "all"]:
            segments = segments[2:]  # the "all" view lists every job: Jenkins serves jobs below it too
        names: list[str] = []
        while len(segments) >= 2 and segments[0] == "job":
            names.append(unquote(segments[1]))  # the stored name (a branch keeps its own %2F)
            segments = segments[2:]
        full = "/".join(names)
        if full and full not in self.items:
            raise ApiError(404, "Not Found")
        spec = parse_tree(req.arg("tree")) if req.arg("tree") else None
        if segments == ["api", "json"]:
            return Response(200, apply_tree(self._describe(full), spec), {"X-Jenkins": "2.462.3"})
        if len(segments) == 3 and segments[0].isdigit() and segments[1:] == ["api", "json"]:
            return Response(200, apply_tree(self._build(full, int(segments[0])), spec))
        if len(segments) == 3 and segments[0].isdigit() and segments[1:] == ["wfapi", "describe"]:
            return Response(200, self._describe_run(full, int(segments[0])))
        raise ApiError(404, "Not Found")

    def _describe(self, full: str) -> dict:
        if not full:
            return {"_class": "hudson.model.Hudson", "mode": "NORMAL", "nodeDescription": "the Jenkins controller",
                    "url": f"{self.site}/", "useSecurity": True,
                    "jobs": [self._listed(c) for c in self.children[""]]}
        item = dict(self.items[full])
        if item["_class"] in CONTAINERS:
            item["jobs"] = [self._listed(c) for c in self.children[full]]
        else:
            item["builds"] = list(reversed(self.builds[full]))[:100]  # `builds` stops at 100, as in Jenkins
            item["allBuilds"] = list(reversed(self.builds[full]))
        return item

    def _listed(self, full: str) -> dict:
        item = self.items[full]
        if item["_class"] in CONTAINERS:
            return {**item, "jobs": [self._listed(c) for c in self.children[full]]}
        return item

    def _build(self, job: str, number: int) -> dict:
        for build in self.builds.get(job, []):
            if build["number"] == number:
                return build
        raise ApiError(404, "Not Found")

    def _describe_run(self, job: str, number: int) -> dict:
        build = self._build(job, number)
        if build["_class"] != PIPELINE_RUN:
            raise ApiError(404, "Not Found")
        stages = self.stages.get((job, number), [])
        status = "IN_PROGRESS" if build["building"] else {"SUCCESS": "SUCCESS", "FAILURE": "FAILED"}.get(
            build["result"], build["result"])
        end = build["timestamp"] + build["duration"]
        return {"_links": {"self": {"href": f"/{job_path(job)}{number}/wfapi/describe"}},
                "id": str(number), "name": f"#{number}", "status": status,
                "startTimeMillis": build["timestamp"], "endTimeMillis": 0 if build["building"] else end,
                "durationMillis": build["duration"], "queueDurationMillis": 7, "pauseDurationMillis": 0,
                "stages": stages}

    def _auth(self, req: Request) -> Response | None:
        if self.users is None:
            return None
        header = req.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return Response(403, _page(403, "Forbidden", "Authentication required"),
                            {"X-You-Are-Authenticated-As": "anonymous", "X-Required-Permission":
                             "hudson.model.Hudson.Read"}, _HTML)
        try:
            user, _, token = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, token = "", ""
        if self.users.get(user) != token:
            return self._unauthorized(user)
        req.token = user
        return None

    @staticmethod
    def _unauthorized(user: str = "") -> Response:
        return Response(401, _page(401, "Unauthorized", f"Invalid password/token for user: {user}"),
                        {"WWW-Authenticate": 'Basic realm="Jenkins"'}, _HTML)

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return self._unauthorized("throughline")
        if fault.kind == "rate_limit":
            # Jenkins has no rate limit of its own: this is the reverse proxy in front of it (nginx).
            retry_after = fault.opts.get("retry_after", 1)
            headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
            body = b"<html><head><title>429 Too Many Requests</title></head><body><center><h1>429 Too Many " \
                   b"Requests</h1></center><hr><center>nginx</center></body></html>"
            return Response(int(fault.opts.get("status", 429)), body, headers, "text/html")
        if fault.kind == "server_error" and int(fault.opts.get("status", 500)) == 500:
            return Response(500, _page(500, "Server Error", "java.lang.NullPointerException"), {}, _HTML)
        if fault.kind == "server_error" and int(fault.opts.get("status", 500)) == 503:
            # A Jenkins starting up or restarting answers 503 with its "getting ready" page.
            return Response(503, b"<html><body><h1>Please wait while Jenkins is getting ready to work...</h1>"
                                 b"</body></html>", {"Retry-After": "1"}, _HTML)
        return None


def _last_result(builds: list[dict]) -> str | None:
    return next((b["result"] for b in reversed(builds) if not b["building"]), None)


def _color(result: str | None) -> str:
    """The ball colour Jenkins gives a job for its last completed build's result."""
    return {"SUCCESS": "blue", "UNSTABLE": "yellow", "FAILURE": "red", "ABORTED": "aborted"}.get(result, "notbuilt")


def _deploy_stage_name(dep: dict) -> str:
    env = dep["environment"]
    description = (dep.get("description") or "").lower()
    if description.startswith("rollback"):
        return f"Deploy to {env} (rollback)"
    if description.startswith("hotfix"):
        return f"Deploy hotfix to {env}"
    return f"Deploy to {env}"
