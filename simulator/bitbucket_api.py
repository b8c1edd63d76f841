"""Bitbucket Cloud REST 2.0 over an Org, mounted at ``/bitbucket/2.0``.

The demo organisation's Mobile team keeps its code on Bitbucket with Pipelines: workspace ``acme``,
repository ``mobile-app``, and a library ``mobile-app-ui-kit`` without Pipelines (pull requests and commits
only). Each repository's history is derived from one of the Org's GitHub repositories (``MIRRORED`` and
``LIBRARY_MIRRORED``: so it is as deterministic as the Org and its timings are the ones the other sources
already carry), and both number their pull requests from 1, as every Bitbucket repository does (a pull
request's id is only unique in its repository). All times UTC:
  * commits: one per GitHub default-branch commit, same time (hash ``sha_of("bitbucket", slug, i)``), each the
    parent of the next, listed by ``commits/{revision}?exclude=<revision>`` newest first;
  * pull requests: one per GitHub pull request (same number and times; OPEN, MERGED or DECLINED), with
    activity newest first (an `update` at opening, a `comment` per review, an `approval` per approving
    review, an `update` with state MERGED at the merge) and its commits newest first; a merged one has a
    `merge_commit`: the short hash (12 digits, as Bitbucket writes it) of the default-branch commit its
    GitHub merge is;
  * pipelines (``mobile-app`` only): one per commit, 2 minutes after it, 10 minutes long, every seventh (by
    hash) FAILED;
  * environments Test, Staging, Production (environment_type Test, Staging, Production; ``mobile-app`` only);
  * deployments (``mobile-app`` only): one per GitHub deployment, same environment, outcome and times, of the
    latest commit at its start.
Wire behaviours kept on purpose: pages ``{"values", "pagelen", "page", "size", "next"}`` (``pagelen`` capped
at 50 for pull requests, activity and commits, 100 elsewhere); pull requests list OPEN only unless ``state``
is given (repeatable); ``q`` accepts ``updated_on``/``created_on`` with ``>``, ``>=``, ``<``, ``<=`` (400
otherwise) and ``sort`` one of those fields, ``-`` for descending; credentials are HTTP Basic (any user, the
password a token) or Bearer, 401 otherwise; a rate-limit fault is a 429 with Bitbucket's error body and no
Retry-After unless the fault sets one.
"""

from __future__ import annotations

import re
import uuid
import zlib

from connectors.kit.faults import Fault
from connectors.kit.http import ApiError, Request, Response, Router

from .api import MountedApi, bearer_or_basic_token
from .model import Org, RepoStore, sha_of
from .timefmt import MS_PER_MINUTE, as_ms, github_ts, parse_ms

WORKSPACE = "acme"
SLUG = "mobile-app"
MIRRORED = "acme/checkout-web"  # whose GitHub history the Bitbucket repository's is derived from
LIBRARY = "mobile-app-ui-kit"
LIBRARY_MIRRORED = "acme/payments-api-worker"  # the library's
WEB = "https://bitbucket.org"
SMALL_PAGES = 50  # pull requests, their activity and commits
_Q = re.compile(r"^\s*(updated_on|created_on)\s*(>=|<=|>|<)\s*\"?([0-9T:.+\-Z]+)\"?\s*$")
ENVIRONMENT_TYPES = (("Test", 0), ("Staging", 1), ("Production", 2))


def bitbucket_ts(ms: int) -> str:
    """Bitbucket's format: ``2026-01-05T16:00:00.000000+00:00`` (microseconds, explicit offset)."""
    return f"{github_ts(ms)[:-1]}.{ms % 1000:03d}000+00:00"


def _uuid(*parts: object) -> str:
    return "{" + str(uuid.UUID(sha_of("bitbucket", *parts)[:32])) + "}"


def _user(login: str) -> dict:
    return {"type": "user", "uuid": _uuid("user", login), "display_name": login.replace("-", " ").title(),
            "nickname": login, "account_id": f"557058:{sha_of('account', login)[:8]}",
            "links": {"html": {"href": f"{WEB}/%7B{login}%7D/"}}}


def _ms(text: str) -> int:
    return parse_ms(text.replace("Z", "+00:00"))


class BitbucketData:
    """The Bitbucket objects of an Org, in wire format."""

    def __init__(self, org: Org, mirrored: str = MIRRORED, library_mirrored: str | None = LIBRARY_MIRRORED):
        self.org = org
        self.repositories: dict[str, dict] = {}
        self.commits: dict[str, list[dict]] = {}  # the default branch, oldest first
        # per repository: GitHub sha -> Bitbucket hash of the same default-branch commit
        self.mainline: dict[str, dict[str, str]] = {}
        self.pull_requests: dict[str, dict[int, dict]] = {}
        self.activity: dict[str, dict[int, list[dict]]] = {}
        self.pr_commits: dict[str, dict[int, list[dict]]] = {}
        self.pipelines: dict[str, list[dict]] = {}
        self.environments: dict[str, list[dict]] = {}
        self.deployments: dict[str, list[dict]] = {}
        for slug, github, pipelines in ((SLUG, mirrored, True), (LIBRARY, library_mirrored, False)):
            store = org.repos.get(github) if github else None
            if store is not None and store.commits:
                self._derive(slug, store, pipelines)

    def _derive(self, slug: str, store: RepoStore, pipelines: bool) -> None:
        full = f"{WORKSPACE}/{slug}"
        created = _ms(store.commits[0]["commit"]["committer"]["date"])
        self.repositories[slug] = {
            "type": "repository", "uuid": _uuid("repo", full), "full_name": full, "name": slug, "slug": slug,
            "is_private": True, "scm": "git", "language": "kotlin", "created_on": bitbucket_ts(created),
            "updated_on": bitbucket_ts(created), "mainbranch": {"type": "branch", "name": "main"},
            "workspace": {"type": "workspace", "slug": WORKSPACE, "uuid": _uuid("workspace", WORKSPACE),
                          "name": "Acme"},
            "project": {"type": "project", "key": "MOB", "name": "Mobile", "uuid": _uuid("project", "MOB")},
            "links": {"html": {"href": f"{WEB}/{full}"}},
        }
        commits = []
        for i, c in enumerate(store.commits):
            commits.append(self._commit(slug, sha_of("bitbucket", slug, i), c["commit"]["message"],
                                        c["commit"]["author"]["name"], _ms(c["commit"]["committer"]["date"]),
                                        commits[-1]["hash"] if commits else None))
        self.commits[slug] = commits
        self.mainline[slug] = {c["sha"]: commits[i]["hash"] for i, c in enumerate(store.commits)}
        self.pull_requests[slug], self.activity[slug], self.pr_commits[slug] = {}, {}, {}
        for pr in sorted(store.pulls.values(), key=lambda p: p["number"]):
            self._derive_pull_request(slug, store, pr)
        self.pipelines[slug], self.environments[slug], self.deployments[slug] = [], [], []
        if not pipelines:
            return
        self.pipelines[slug] = [self._pipeline(slug, i, c) for i, c in enumerate(commits)]
        self.environments[slug] = [
            {"type": "deployment_environment", "uuid": _uuid("environment", slug, name), "name": name,
             "slug": name.lower(), "rank": rank, "hidden": False, "environment_lock_enabled": True,
             "deployment_gate_enabled": False, "category": {"name": name},
             "environment_type": {"type": "deployment_environment_type", "name": name, "rank": rank},
             "restrictions": {"type": "deployment_restrictions_configuration", "admin_only": False},
             "lock": {"type": "deployment_environment_lock_open", "name": "OPEN"}}
            for name, rank in ENVIRONMENT_TYPES]
        for dep in sorted(store.deployments.values(), key=lambda d: (d["created_at"], d["id"])):
            self._derive_deployment(store, dep)

    def _commit(self, slug: str, sha: str, message: str, author: str, at: int, parent: str | None = None) -> dict:
        email = f"{author.lower().replace(' ', '.')}@acme.example"
        return {"type": "commit", "hash": sha, "date": bitbucket_ts(at), "message": message,
                "summary": {"type": "rendered", "raw": message, "markup": "markdown"},
                # `user`: the account Bitbucket maps the email to (every author here has one)
                "author": {"type": "author", "raw": f"{author} <{email}>", "user": _user(author)},
                "parents": [{"type": "commit", "hash": parent}] if parent else [],
                "links": {"html": {"href": f"{WEB}/{WORKSPACE}/{slug}/commits/{sha}"}}}

    def _derive_pull_request(self, slug: str, store: RepoStore, pr: dict) -> None:
        number = pr["number"]
        merged = pr["merged_at"] is not None
        state = "OPEN" if pr["state"] == "open" else ("MERGED" if merged else "DECLINED")
        author = _user(pr["user"]["login"])
        commits = [self._commit(slug, sha_of("bitbucket", slug, "pr", number, k), c["commit"]["message"],
                                c["commit"]["author"]["name"], _ms(c["commit"]["author"]["date"]))
                   for k, c in enumerate(store.pr_commits.get(number, []))]
        link = {"type": "pullrequest", "id": number, "title": pr["title"],
                "links": {"html": {"href": f"{WEB}/{WORKSPACE}/{slug}/pull-requests/{number}"}}}
        branch = pr["head"]["ref"]
        body = {
            **link, "description": pr["body"] or "", "state": state, "author": author,
            "source": {"branch": {"name": branch}, "commit": {"type": "commit", "hash": commits[-1]["hash"][:12]
                       if commits else None}, "repository": {"full_name": f"{WORKSPACE}/{slug}"}},
            "destination": {"branch": {"name": "main"}, "commit": {"type": "commit", "hash": None},
                            "repository": {"full_name": f"{WORKSPACE}/{slug}"}},
            "merge_commit": {"type": "commit", "hash": self.mainline[slug].get(
                pr["merge_commit_sha"], sha_of("bitbucket", slug, "merge", number))[:12]} if merged else None,
            "comment_count": 0, "task_count": 0, "close_source_branch": True,
            "closed_by": author if state != "OPEN" else None, "reason": "",
            "created_on": bitbucket_ts(_ms(pr["created_at"])), "updated_on": bitbucket_ts(_ms(pr["updated_at"])),
        }
        opened = _ms(pr["created_at"])
        entries = [(opened, {"update": {"state": "OPEN", "title": pr["title"], "description": body["description"],
                                        "date": body["created_on"], "author": author, "reason": "",
                                        "source": body["source"], "destination": body["destination"]},
                             "pull_request": link})]
        for k, review in enumerate(store.reviews.get(number, [])):
            reviewer, at = _user(review["user"]["login"]), _ms(review["submitted_at"])
            text = {"APPROVED": "Looks good to me.", "CHANGES_REQUESTED": "Please handle the offline case."}.get(
                review["state"], "A question on the layout.")
            entries.append((at, {"comment": {"type": "pullrequest_comment", "id": 400_000 + number * 100 + k,
                                             "created_on": bitbucket_ts(at), "updated_on": bitbucket_ts(at),
                                             "content": {"type": "rendered", "raw": text, "markup": "markdown",
                                                         "html": f"<p>{text}</p>"},
                                             "user": reviewer, "deleted": False, "pullrequest": link},
                                 "pull_request": link}))
            if review["state"] == "APPROVED":
                entries.append((at + 1000, {"approval": {"date": bitbucket_ts(at + 1000), "user": reviewer,
                                                         "pullrequest": link}, "pull_request": link}))
        if merged:
            entries.append((_ms(pr["merged_at"]), {"update": {
                "state": "MERGED", "title": pr["title"], "description": body["description"],
                "date": bitbucket_ts(_ms(pr["merged_at"])), "author": author, "reason": "",
                "source": body["source"], "destination": body["destination"]}, "pull_request": link}))
        body["comment_count"] = sum("comment" in e for _, e in entries)
        self.pull_requests[slug][number] = body
        self.activity[slug][number] = [e for _, e in sorted(entries, key=lambda x: x[0], reverse=True)]
        self.pr_commits[slug][number] = commits[::-1]

    def comment(self, number: int, login: str, at) -> dict:
        """A comment on pull request ``number`` at ``at``: it heads its activity and bumps ``updated_on``."""
        pr = self.pull_requests[SLUG][number]
        at_ms = as_ms(at)
        link = {k: pr[k] for k in ("type", "id", "title", "links")}
        ident = 500_000 + number * 100 + len(self.activity[SLUG][number])
        entry = {"comment": {"type": "pullrequest_comment", "id": ident,
                             "created_on": bitbucket_ts(at_ms), "updated_on": bitbucket_ts(at_ms),
                             "content": {"type": "rendered", "raw": "Late note.", "markup": "markdown"},
                             "user": _user(login), "deleted": False, "pullrequest": link}, "pull_request": link}
        self.activity[SLUG][number].insert(0, entry)
        pr["updated_on"], pr["comment_count"] = bitbucket_ts(at_ms), pr["comment_count"] + 1
        return entry

    def open_pull_request(self, title: str, login: str, at) -> dict:
        """A new OPEN pull request at ``at``, with the `update` that opened it and no commits yet."""
        number = max(self.pull_requests[SLUG], default=0) + 1
        at_ms, author = as_ms(at), _user(login)
        link = {"type": "pullrequest", "id": number, "title": title,
                "links": {"html": {"href": f"{WEB}/{WORKSPACE}/{SLUG}/pull-requests/{number}"}}}
        ends = {"source": {"branch": {"name": f"feature/{number}"}, "repository": {"full_name": f"{WORKSPACE}/{SLUG}"}},
                "destination": {"branch": {"name": "main"}, "repository": {"full_name": f"{WORKSPACE}/{SLUG}"}}}
        pr = {**link, **ends, "description": "", "state": "OPEN", "author": author, "merge_commit": None,
              "comment_count": 0, "task_count": 0, "close_source_branch": True, "closed_by": None, "reason": "",
              "created_on": bitbucket_ts(at_ms), "updated_on": bitbucket_ts(at_ms)}
        self.pull_requests[SLUG][number] = pr
        self.activity[SLUG][number] = [{"update": {"state": "OPEN", "title": title, "description": "",
                                                   "date": pr["created_on"], "author": author, "reason": "", **ends},
                                        "pull_request": link}]
        self.pr_commits[SLUG][number] = []
        return pr

    def _pipeline(self, slug: str, i: int, commit: dict) -> dict:
        start = _ms(commit["date"]) + 2 * MS_PER_MINUTE
        failed = zlib.crc32(commit["hash"].encode()) % 7 == 0
        result = ("pipeline_state_completed_failed", "FAILED") if failed else \
            ("pipeline_state_completed_successful", "SUCCESSFUL")
        return {
            "type": "pipeline", "uuid": _uuid("pipeline", slug, i), "build_number": i + 1,
            "creator": _user("bitbucket-pipelines"), "repository": {"full_name": f"{WORKSPACE}/{slug}"},
            "target": {"type": "pipeline_ref_target", "ref_type": "branch", "ref_name": "main",
                       "commit": {"type": "commit", "hash": commit["hash"]},
                       "selector": {"type": "branches", "pattern": "main"}},
            "trigger": {"type": "pipeline_trigger_push", "name": "PUSH"},
            "state": {"type": "pipeline_state_completed", "name": "COMPLETED",
                      "result": {"type": result[0], "name": result[1]}},
            "created_on": bitbucket_ts(start), "completed_on": bitbucket_ts(start + 10 * MS_PER_MINUTE),
            "build_seconds_used": 600, "run_number": 1,
        }

    def _derive_deployment(self, store: RepoStore, dep: dict) -> None:
        states = [s for s in store.deployment_statuses.get(dep["id"], []) if s["state"] != "inactive"]
        final = states[-1]["state"] if states else None
        finished = _ms(states[-1]["created_at"]) if states else None
        status = {"success": "SUCCESSFUL", "failure": "FAILED", "error": "FAILED"}.get(final or "")
        self.add_deployment(dep["environment"], _ms(dep["created_at"]), status=status,
                            finished_at=finished if status else None)

    def environment(self, name: str) -> dict:
        wanted = name.lower()
        return next(e for e in self.environments[SLUG] if e["slug"] == wanted or e["name"].lower() == wanted)

    def add_deployment(self, environment: str, started_at, *, status: str | None = "SUCCESSFUL",
                       finished_at=None) -> dict:
        """A deployment of the latest commit at ``started_at``: status SUCCESSFUL, FAILED, STOPPED, or None
        while it is in progress."""
        started = as_ms(started_at)
        commits = [c for c in self.commits[SLUG] if _ms(c["date"]) <= started] or self.commits[SLUG][:1]
        commit = commits[-1]
        env = self.environment(environment)
        n = len(self.deployments[SLUG]) + 1
        pipeline = {"type": "pipeline", "uuid": _uuid("deploy-pipeline", SLUG, n)}
        if status is None:
            state = {"type": "deployment_state_in_progress", "name": "IN_PROGRESS",
                     "started_on": bitbucket_ts(started)}
        else:
            state = {"type": "deployment_state_completed", "name": "COMPLETED",
                     "status": {"type": f"deployment_state_completed_status_{status.lower()}", "name": status},
                     "started_on": bitbucket_ts(started), "completed_on": bitbucket_ts(as_ms(finished_at))}
        url = f"{WEB}/{WORKSPACE}/{SLUG}/addon/pipelines/home#!/results/{n}"
        deployment = {
            "type": "deployment", "uuid": _uuid("deployment", SLUG, n), "state": state,
            "environment": {"type": "deployment_environment", "uuid": env["uuid"]},
            "release": {"type": "deployment_release", "uuid": _uuid("release", SLUG, n), "name": f"#{n}",
                        "url": url, "commit": {"type": "commit", "hash": commit["hash"]},
                        "created_on": bitbucket_ts(started)},
            "deployable": {"type": "deployment_release", "uuid": _uuid("deployable", SLUG, n), "name": f"#{n}",
                           "url": url, "pipeline": pipeline, "commit": {"type": "commit", "hash": commit["hash"]},
                           "created_on": bitbucket_ts(started)},
            "last_update_time": bitbucket_ts(as_ms(finished_at) if status else started),
        }
        self.deployments[SLUG].append(deployment)
        return deployment


class BitbucketApi(MountedApi):
    PREFIX = "bitbucket"

    def __init__(self, org: Org, *, tokens: set[str] | list[str] | None = None, mirrored: str = MIRRORED):
        self.org = org
        self.data = BitbucketData(org, mirrored)  # `mirrored`: another GitHub repository (the fault matrix's)
        self.tokens = set(tokens) if tokens is not None else None
        r = self.router = Router()
        repo = "/2.0/repositories/{workspace}/{slug}"
        r.add("GET", "/2.0/user", lambda req: Response(200, _user("throughline-bot")))
        r.add("GET", "/2.0/repositories/{workspace}", self.repositories)
        r.add("GET", repo, lambda req: Response(200, self._repo(req)))
        r.add("GET", repo + "/pullrequests", self.pull_requests)
        r.add("GET", repo + "/pullrequests/{id}/activity", self.activity)
        r.add("GET", repo + "/pullrequests/{id}/commits", self.pr_commits)
        r.add("GET", repo + "/commits/{revision}", self.commits)
        r.add("GET", repo + "/pipelines", self.pipelines)  # with or without the trailing slash (Router)
        r.add("GET", repo + "/environments", lambda req: self._paged(req, self.data.environments[self._slug(req)]))
        r.add("GET", repo + "/deployments",
              lambda req: self._paged(req, self._sorted(req, self.data.deployments[self._slug(req)])))

    # ------------------------------------------------------------------ front door

    def serve(self, req: Request) -> Response:
        if self.tokens is not None and bearer_or_basic_token(req) not in self.tokens:
            return self.error_response(401, "Unauthorized", {})
        resolved = self.router.resolve(req.method, req.path)
        if resolved is None:
            return self.error_response(404, "Resource not found", {})
        handler, req.params = resolved
        try:
            return handler(req)  # the server holds the Org's lock
        except ApiError as exc:
            return self.error_response(exc.status, exc.message, exc.headers)

    def error_response(self, status: int, message: str, headers: dict[str, str]) -> Response:
        return Response(status, {"type": "error", "error": {"message": message}}, dict(headers))

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return self.error_response(401, "Unauthorized", {})
        if fault.kind == "rate_limit":
            retry_after = fault.opts.get("retry_after")
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return self.error_response(int(fault.opts.get("status", 429)),
                                       "Rate limit for this resource has been exceeded", headers)
        if fault.kind == "server_error" and int(fault.opts.get("status", 500)) == 500:
            return self.error_response(500, "Something went wrong", {})
        return None

    # ------------------------------------------------------------------ helpers

    def _slug(self, req: Request) -> str:
        if req.params["workspace"] != WORKSPACE or req.params["slug"] not in self.data.repositories:
            raise ApiError(404, f"Repository {req.params['workspace']}/{req.params['slug']} not found")
        return req.params["slug"]

    def _repo(self, req: Request) -> dict:
        return self.data.repositories[self._slug(req)]

    @staticmethod
    def _paged(req: Request, items: list, cap: int = 100) -> Response:
        pagelen = req.int_arg("pagelen", 10, minimum=1, maximum=cap)
        page = req.int_arg("page", 1, minimum=1, strict=True)
        chunk = items[(page - 1) * pagelen: page * pagelen]
        body = {"size": len(items), "page": page, "pagelen": pagelen, "values": chunk}
        if page * pagelen < len(items):
            body["next"] = req.url_with(page=page + 1)
        if page > 1:
            body["previous"] = req.url_with(page=page - 1)
        return Response(200, body)

    @staticmethod
    def _sorted(req: Request, items: list[dict]) -> list[dict]:
        """Apply ``q`` (one comparison on updated_on or created_on) and ``sort``."""
        q = req.arg("q")
        if q:
            match = _Q.match(q)
            if match is None:
                raise ApiError(400, f"Invalid query: {q}")
            field, op, value = match.groups()
            try:
                bound = parse_ms(value.replace("Z", "+00:00"))
            except ValueError:
                raise ApiError(400, f"Invalid datetime in query: {value}") from None
            test = {">": lambda v: v > bound, ">=": lambda v: v >= bound,
                    "<": lambda v: v < bound, "<=": lambda v: v <= bound}[op]
            items = [i for i in items if i.get(field) and test(_ms(i[field]))]
        sort = req.arg("sort")
        if sort:
            field = sort.lstrip("-")
            if field not in ("updated_on", "created_on", "id", "slug"):
                raise ApiError(400, f"Invalid sort field: {sort}")
            items = sorted(items, key=lambda i: (str(i.get(field) or ""), str(i.get("id") or i.get("uuid"))),
                           reverse=sort.startswith("-"))
        return items

    def _pr(self, req: Request) -> tuple[str, int]:
        slug = self._slug(req)
        try:
            number = int(req.params["id"])
        except ValueError:
            raise ApiError(404, "Pull request not found") from None
        if number not in self.data.pull_requests[slug]:
            raise ApiError(404, "Pull request not found")
        return slug, number

    # ------------------------------------------------------------------ routes

    def repositories(self, req: Request) -> Response:
        if req.params["workspace"] != WORKSPACE:
            raise ApiError(404, f"Workspace {req.params['workspace']} not found")
        return self._paged(req, self._sorted(req, list(self.data.repositories.values())))

    def pull_requests(self, req: Request) -> Response:
        slug = self._slug(req)
        states = set(req.args("state")) or {"OPEN"}
        items = [p for p in self.data.pull_requests[slug].values() if p["state"] in states]
        return self._paged(req, self._sorted(req, items), cap=SMALL_PAGES)

    def activity(self, req: Request) -> Response:
        slug, number = self._pr(req)
        return self._paged(req, self.data.activity[slug][number], cap=SMALL_PAGES)

    def pr_commits(self, req: Request) -> Response:
        slug, number = self._pr(req)
        return self._paged(req, self.data.pr_commits[slug][number], cap=SMALL_PAGES)

    def _position(self, slug: str, revision: str) -> int:
        """Where a full or abbreviated hash is on the default branch (404 for one Bitbucket does not know)."""
        found = [i for i, c in enumerate(self.data.commits[slug])
                 if len(revision) >= 7 and c["hash"].startswith(revision)]
        if not found:
            raise ApiError(404, f"Commit not found: {revision}")
        return found[0]

    def commits(self, req: Request) -> Response:
        """``git log <revision> ^<exclude>...``: the revision's history, newest first, less what any excluded
        revision reaches (the history is one line, so that is everything up to the newest excluded)."""
        slug = self._slug(req)
        head = self._position(slug, req.params["revision"])
        floor = max((self._position(slug, x) for x in req.args("exclude")), default=-1)
        return self._paged(req, self.data.commits[slug][floor + 1: head + 1][::-1], cap=SMALL_PAGES)

    def pipelines(self, req: Request) -> Response:
        slug = self._slug(req)
        return self._paged(req, self._sorted(req, self.data.pipelines[slug]))
