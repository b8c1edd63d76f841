"""GitHub REST (api.github.com) over an Org: the list endpoints a delivery-metrics connector reads.

Shapes follow the recorded real objects in ../shared/fixtures/devlake/github. Behaviours kept on purpose:
  * lists are paged with ``per_page`` (default 30, max 100) and ``page``, and the only way to know there is
    a next page is the RFC 8288 ``Link`` header (absent when everything fits on one page);
  * ``/pulls`` defaults to ``state=open`` and newest first; ``/deployments`` and their statuses are newest
    first; ``/actions/runs`` answers ``{total_count, workflow_runs}``, newest first, and when searched
    (``created``, ``status``, ``branch``, ``event``, ``head_sha``, ``actor``) only the first 1000 results
    can be paged, as on GitHub: ``total_count`` still tells the true number, so a client can see that it
    must narrow its ``created`` window;
  * ``/issues`` lists pull requests too (with a ``pull_request`` key), as GitHub does;
  * a renamed repository (``Org.github_rename_repo``) answers its old name with 301 to the new one;
  * ``/commits?sha=`` lists that sha's history, newest first, within ``since``/``until`` (committer date,
    both inclusive); ``/compare/{base}...{head}`` lists the commits reachable from head and not from base,
    oldest first (250 unpaged, else per page), empty when head is behind, and a sha the repository does not
    have is 404 ``Not Found`` (a deployed sha force-pushed away);
  * ``/issues/{n}/timeline`` of a PR holds ``review_requested`` and ``reviewed`` events derived from its
    reviews and requested reviewers (see ``_pull_timeline``); ``/tags`` lists ``RepoStore.tags``;
  * every 200 carries an ``ETag``; a matching ``If-None-Match`` gets 304 with the same headers (``Link``
    included) and spends no rate budget; GitHub Apps (``apps``) get installation tokens from
    ``POST /app/installations/{id}/access_tokens`` with their JWT (read, not verified);
  * each token has an hourly budget (``rate_limit`` per ``rate_window`` seconds, GitHub: 5000/3600) that
    resets on the window's end, reported in ``X-RateLimit-*`` on every answer, errors and faults included;
    ``/rate_limit`` is free. ``tokens``: accepted tokens (``Authorization: Bearer X`` or ``token X``);
    None accepts any.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
import math
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from connectors.kit.faults import Fault
from connectors.kit.http import ApiError, Request, Response, Router, encoded, retry_after_value

from .api import MountedApi
from .model import Org, RepoStore, node_id
from .timefmt import MS_PER_DAY, github_ts, parse_ms

DOCS = "https://docs.github.com/rest"
_RUN_SEARCH_PARAMS = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")
_RUN_SEARCH_CAP = 1000
_RUN_STATUSES = {"completed", "action_required", "cancelled", "failure", "neutral", "skipped", "stale",
                 "success", "timed_out", "in_progress", "queued", "requested", "waiting", "pending"}
_JSON = "application/json; charset=utf-8"
_RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


def error_body(message: str, status: int, doc: str = DOCS) -> dict:
    return {"message": message, "documentation_url": doc, "status": str(status)}


def _error(status: int, message: str, headers: dict[str, str] | None = None, doc: str = DOCS) -> Response:
    return Response(status, error_body(message, status, doc), dict(headers or {}), _JSON)


# ---------------------------------------------------------------------- serving indexes and renderings of the Org


class RepoIndex:
    """Orderings the GitHub endpoints serve from, so a page is a slice rather than a scan."""

    def __init__(self, store: RepoStore):
        pulls = sorted(store.pulls.values(), key=lambda p: p["number"])
        self.pulls_by_number = {
            "all": pulls,
            "open": [p for p in pulls if p["state"] == "open"],
            "closed": [p for p in pulls if p["state"] == "closed"],
        }
        by_updated = sorted(pulls, key=lambda p: (p["updated_at"], p["number"]))
        self.pulls_by_updated = {
            "all": by_updated,
            "open": [p for p in by_updated if p["state"] == "open"],
            "closed": [p for p in by_updated if p["state"] == "closed"],
        }
        self.commit_pos = {c["sha"]: i for i, c in enumerate(store.commits)}
        self.commit_dates = [c["commit"]["committer"]["date"] for c in store.commits]
        # GitHub timestamps have one fixed width and zone, so their strings sort like the instants.
        deps = sorted(store.deployments.values(), key=lambda d: (d["created_at"], d["id"]))
        self.deployments = deps
        self.deployments_by: dict[str, dict[str, list[dict]]] = {"environment": {}, "sha": {}, "ref": {}, "task": {}}
        for d in deps:
            for attr, table in self.deployments_by.items():
                table.setdefault(d[attr], []).append(d)
        runs = sorted(store.runs.values(), key=lambda r: (r["created_at"], r["id"]))
        self.runs = runs
        self.run_created = [r["created_at"] for r in runs]
        self.runs_by_status: dict[str, list[dict]] = {}
        self.runs_by: dict[str, dict[str, list[dict]]] = {"head_branch": {}, "event": {}, "head_sha": {}}
        for r in runs:
            self.runs_by_status.setdefault(r["status"], []).append(r)
            if r["conclusion"]:
                self.runs_by_status.setdefault(r["conclusion"], []).append(r)
            for attr, table in self.runs_by.items():
                table.setdefault(r[attr], []).append(r)
        self.runs_by_status_created = {k: [r["created_at"] for r in v] for k, v in self.runs_by_status.items()}
        self.releases = sorted(store.releases.values(), key=lambda r: (r["created_at"], r["id"]), reverse=True)


def repo_index(org: Org, full_name: str) -> RepoIndex:
    """The repository's serving index, cached on the Org (``Org.repo_indexes``) until it changes."""
    with org.lock:
        index = org.repo_indexes.get(full_name)
        if index is None:
            index = org.repo_indexes[full_name] = RepoIndex(org.repos[full_name])
        return index


def build_repo_indexes(org: Org) -> None:
    """Build every repository's index now rather than on the first request that needs it."""
    with org.lock:
        for name in org.repos:
            repo_index(org, name)


def pull_as_issue(org: Org, store: RepoStore, pr: dict) -> dict:
    """A pull request as the issues endpoint lists it (GitHub lists PRs there too)."""
    return {
        "url": pr["issue_url"],
        "repository_url": f"{org.github_api}/repos/{store.full_name}",
        "html_url": pr["html_url"],
        "id": pr["id"] + 10_000_000_000,  # an issue id distinct from the PR id, as on GitHub
        "node_id": node_id("PR", pr["id"]),
        "number": pr["number"],
        "title": pr["title"],
        "user": pr["user"],
        "labels": pr["labels"],
        "state": pr["state"],
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": 0,
        "created_at": pr["created_at"],
        "updated_at": pr["updated_at"],
        "closed_at": pr["closed_at"],
        "author_association": "MEMBER",
        "active_lock_reason": None,
        "draft": pr["draft"],
        "pull_request": {"url": pr["url"], "html_url": pr["html_url"], "merged_at": pr["merged_at"]},
        "body": pr["body"],
        "performed_via_github_app": None,
        "state_reason": None,
    }


class _RateBudget:
    """GitHub's primary rate limit for one token: a fixed window that resets on the hour boundary."""

    def __init__(self, limit: int, window: int):
        self.limit = limit
        self.window = window
        self.used = 0
        self.reset = int(time.time()) + window

    def roll(self) -> None:
        now = int(time.time())
        if now >= self.reset:
            self.used = 0
            self.reset = now + self.window

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Resource": "core",
        }


class GitHubApi(MountedApi):
    """Options: ``tokens``, ``rate_limit`` and ``rate_window`` (see the module docstring), ``apps`` (app id ->
    installation id: the app's JWT is read, not verified, as the standard library has no crypto: its issuer
    must be a known app and it must not be expired), ``app_token_seconds`` (installation token lifetime)."""

    PREFIX = "github"
    SHORTHANDS = {"github_tokens": "tokens", "github_rate_limit": "rate_limit",
                  "github_rate_window": "rate_window", "github_apps": "apps",
                  "github_app_token_seconds": "app_token_seconds"}
    ALIASES = {"rate_limit_remaining": "rate_limit_remaining", "github_app_tokens": "app_tokens"}

    def __init__(self, org: Org, *, tokens: Iterable[str] | None = None, rate_limit: int = 5000,
                 rate_window: int = 3600, apps: dict[str, int] | None = None, app_token_seconds: int = 3600):
        self.org = org
        self.tokens = set(tokens) if tokens is not None else None
        self.rate_limit, self.rate_window = rate_limit, rate_window
        self.apps = dict(apps or {})
        self.app_token_seconds = app_token_seconds
        self.app_tokens: list[str] = []
        self._budgets: dict[str, _RateBudget] = {}
        self._budget_lock = threading.Lock()
        r = self.router = Router()
        repo = "/repos/{owner}/{repo}"
        r.add("GET", "/user", self.user)
        r.add("GET", "/orgs/{org}/repos", self.org_repos)
        r.add("GET", repo, self.repo)
        r.add("GET", repo + "/pulls", self.pulls)
        r.add("GET", repo + "/pulls/{number}", self.pull)
        r.add("GET", repo + "/pulls/{number}/reviews", self.reviews)
        r.add("GET", repo + "/pulls/{number}/commits", self.pull_commits)
        r.add("GET", repo + "/commits", self.commits)
        r.add("GET", repo + "/commits/{sha}", self.commit)
        r.add("GET", repo + "/compare/{basehead}", self.compare)
        r.add("GET", repo + "/deployments", self.deployments)
        r.add("GET", repo + "/deployments/{deployment_id}", self.deployment)
        r.add("GET", repo + "/deployments/{deployment_id}/statuses", self.deployment_statuses)
        r.add("GET", repo + "/releases", self.releases)
        r.add("GET", repo + "/tags", self.tags)
        r.add("GET", repo + "/issues", self.issues)
        r.add("GET", repo + "/issues/{number}", self.issue)
        r.add("GET", repo + "/issues/{number}/timeline", self.timeline)
        r.add("GET", repo + "/actions/workflows", self.workflows)
        r.add("GET", repo + "/actions/workflows/{workflow_id}/runs", self.runs)
        r.add("GET", repo + "/actions/runs", self.runs)
        r.add("GET", repo + "/actions/runs/{run_id}", self.run)
        r.add("GET", repo + "/actions/runs/{run_id}/jobs", self.jobs)

    # ------------------------------------------------------------------ front door

    def serve(self, req: Request) -> Response:
        if self.apps and (req.path.startswith("/app/") or req.path.endswith("/installation")):
            response = self._serve_app(req)
            response.content_type = _JSON
            return response
        token = _token(req.headers.get("Authorization"))
        if self.tokens is not None and token not in self.tokens:
            message = "Requires authentication" if token is None else "Bad credentials"
            return _error(401, message, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59",
                                         "X-RateLimit-Reset": str(int(time.time()) + 3600),
                                         "X-RateLimit-Used": "1", "X-RateLimit-Resource": "core"})
        req.token = token
        budget = self._budget(token or "anonymous")
        with self._budget_lock:
            budget.roll()
            counted = req.path.rstrip("/") != "/rate_limit"  # asking for the limit is free, as on GitHub
            if counted and budget.used >= budget.limit:
                return _error(403, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for "
                                   "help, please include the request ID.", budget.headers(), doc=_RATE_DOCS)
            if counted:
                budget.used += 1
            rate_headers = budget.headers()
        try:
            if req.path.rstrip("/") == "/rate_limit":
                response = Response(200, self._rate_limit_body(budget))
            else:
                found = self.router.resolve(req.method, req.path)
                if found is None:
                    raise ApiError(404, "Not Found")
                handler, req.params = found
                response = handler(req)
                response.body = encoded(response.body)
        except ApiError as exc:
            response = _error(exc.status, exc.message, exc.headers)
        except Exception:  # noqa: BLE001 - a bug in the simulator must not kill the server thread
            traceback.print_exc(file=sys.stderr)
            response = _error(500, "Server Error")
        if response.status == 200 and req.method == "GET" and isinstance(response.body, bytes) and counted:
            # Conditional requests, as on GitHub: every answer carries an ETag of its body; a matching
            # If-None-Match gets 304 without a body and does not spend the token's budget.
            etag = f'W/"{hashlib.sha1(response.body).hexdigest()}"'
            response.headers = {**response.headers, "ETag": etag}
            if req.headers.get("If-None-Match") == etag:
                with self._budget_lock:
                    budget.used = max(0, budget.used - 1)
                    rate_headers = budget.headers()
                response = Response(304, b"", response.headers)
        response.content_type = _JSON
        response.headers = {**rate_headers, "X-GitHub-Media-Type": "github.v3; format=json", **response.headers}
        return response

    def error_response(self, status: int, message: str, headers: dict[str, str]) -> Response:
        return _error(status, message, headers)

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        kind, opts = fault.kind, fault.opts
        if kind == "unauthorized":
            response = _error(401, "Bad credentials")
        elif kind == "server_error" and int(opts.get("status", 500)) == 500:
            response = _error(500, "Server Error")
        elif kind == "rate_limit":
            retry_after = opts.get("retry_after", 1)
            headers: dict[str, str] = {}
            if retry_after is not None:
                headers["Retry-After"] = retry_after_value(retry_after)
            wait = float(opts.get("reset_seconds", retry_after if retry_after is not None else 60.0))
            headers.update({"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Used": str(self.rate_limit),
                            "X-RateLimit-Reset": str(int(time.time() + wait + 0.999)),
                            "X-RateLimit-Resource": "core"})
            if opts.get("limit") == "primary":  # the token's hourly quota is used up
                message = "API rate limit exceeded for user ID 1."
            else:
                message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            response = _error(int(opts.get("status", 429)), message, headers, doc=_RATE_DOCS)
        else:
            return None
        # GitHub sends its rate headers on every API answer, errors included.
        token = _token(req.headers.get("Authorization")) or "anonymous"
        response.headers = {**self._budget(token).headers(), **response.headers}
        return response

    def rate_limit_remaining(self, token: str) -> int:
        budget = self._budgets.get(token)
        return self.rate_limit if budget is None else max(0, budget.limit - budget.used)

    def _budget(self, key: str) -> _RateBudget:
        with self._budget_lock:
            budget = self._budgets.get(key)
            if budget is None:
                budget = self._budgets[key] = _RateBudget(self.rate_limit, self.rate_window)
            return budget

    def _rate_limit_body(self, budget: _RateBudget) -> dict:
        core = {"limit": budget.limit, "used": budget.used, "remaining": max(0, budget.limit - budget.used),
                "reset": budget.reset}
        other = {"limit": 30, "used": 0, "remaining": 30, "reset": int(time.time()) + 60}
        return {"resources": {"core": core, "search": other, "graphql": dict(core, limit=5000, used=0,
                                                                              remaining=5000)},
                "rate": core}

    def _serve_app(self, req: Request) -> Response:
        """The app endpoints, authenticated by the app's JWT: its installation, and installation tokens."""
        claims = _jwt_claims(_token(req.headers.get("Authorization")))
        app_id = str(claims.get("iss")) if claims else None
        if app_id not in self.apps or float(claims.get("exp", 0)) < time.time():
            return _error(401, "A JSON web token could not be decoded")
        installation = self.apps[app_id]
        parts = req.path.strip("/").split("/")
        if req.method == "GET" and req.path.endswith("/installation"):
            return Response(200, {"id": installation, "app_id": int(app_id) if app_id.isdigit() else app_id})
        if req.method == "POST" and parts[:2] == ["app", "installations"] and parts[3:] == ["access_tokens"]:
            if parts[2] != str(installation):
                return _error(404, "Not Found")
            with self._budget_lock:
                token = f"ghs_simulated_{app_id}_{len(self.app_tokens) + 1}"
                self.app_tokens.append(token)
                if self.tokens is not None:
                    self.tokens.add(token)
            expires = datetime.fromtimestamp(time.time() + self.app_token_seconds, tz=timezone.utc)
            return Response(201, {"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  "permissions": {"contents": "read", "pull_requests": "read"}})
        return _error(404, "Not Found")

    # ------------------------------------------------------------------ helpers

    def _store(self, req: Request) -> RepoStore:
        name = f"{req.params['owner']}/{req.params['repo']}"
        store = self.org.repos.get(name)
        if store is None:
            new = self.org.github_renamed.get(name)
            if new is not None:
                # GitHub points at /repositories/{id}/...; the same path under the new name serves here.
                target = req.base_url + "/repos/" + new + req.path[len("/repos/" + name):]
                if req.query:
                    target += "?" + urlencode(req.query)
                raise ApiError(301, "Moved Permanently", {"Location": target})
            raise ApiError(404, "Not Found")
        return store

    def _index(self, store: RepoStore) -> RepoIndex:
        return repo_index(self.org, store.full_name)

    @staticmethod
    def _page_args(req: Request, default: int = 30, maximum: int = 100) -> tuple[int, int]:
        return req.int_arg("per_page", default, minimum=1, maximum=maximum), req.int_arg("page", 1, minimum=1)

    @staticmethod
    def _link(req: Request, page: int, last: int) -> dict[str, str]:
        """GitHub's Link header: prev/next/last/first as they apply; no header for a single page."""
        if last <= 1 and page <= 1:
            return {}
        parts = []
        if page > 1:
            parts.append(f'<{req.url_with(page=min(page - 1, last))}>; rel="prev"')
        if page < last:
            parts.append(f'<{req.url_with(page=page + 1)}>; rel="next"')
            parts.append(f'<{req.url_with(page=last)}>; rel="last"')
        if page > 1:
            parts.append(f'<{req.url_with(page=1)}>; rel="first"')
        return {"Link": ", ".join(parts)} if parts else {}

    def _paged(self, req: Request, items: list, *, newest_first: bool = False, reachable: int | None = None,
               default: int = 30, maximum: int = 100) -> tuple[list, dict[str, str]]:
        """Slice one page out of ``items`` (ascending order; ``newest_first`` serves it reversed)."""
        per_page, page = self._page_args(req, default, maximum)
        n = len(items) if reachable is None else min(len(items), reachable)
        last = max(1, math.ceil(n / per_page))
        lo = (page - 1) * per_page
        hi = min(n, page * per_page)
        if lo >= hi:
            chunk = []
        elif newest_first:
            total = len(items)
            chunk = items[total - hi:total - lo][::-1]
        else:
            chunk = items[lo:hi]
        return chunk, self._link(req, page, last)

    # ------------------------------------------------------------------ user, org, repos

    def user(self, req: Request) -> Response:
        return Response(200, {**self.org.github_user("throughline-bot"), "name": "Throughline Bot"})

    def org_repos(self, req: Request) -> Response:
        owner = self.org.github_orgs.get(req.params["org"])
        if owner is None:
            raise ApiError(404, "Not Found")
        repos = [s.repo for s in self.org.repos.values() if s.repo["owner"]["login"] == owner["login"]]
        kind = req.arg("type", "all")
        if kind == "public":
            repos = [r for r in repos if not r["private"]]
        elif kind == "private":
            repos = [r for r in repos if r["private"]]
        sort = req.arg("sort", "created")
        key = {"full_name": "full_name", "updated": "updated_at", "pushed": "pushed_at"}.get(sort, "created_at")
        direction = req.arg("direction") or ("asc" if sort == "full_name" else "desc")
        repos = sorted(repos, key=lambda r: (r[key], r["id"]))
        chunk, headers = self._paged(req, repos, newest_first=direction == "desc")
        return Response(200, chunk, headers)

    def repo(self, req: Request) -> Response:
        return Response(200, self._store(req).repo)

    # ------------------------------------------------------------------ pull requests

    def pulls(self, req: Request) -> Response:
        store = self._store(req)
        index = self._index(store)
        state = req.arg("state", "open")
        if state not in ("open", "closed", "all"):
            raise ApiError(422, "Validation Failed")
        sort = req.arg("sort", "created")
        direction = req.arg("direction") or ("desc" if sort == "created" else "asc")
        table = index.pulls_by_updated if sort == "updated" else index.pulls_by_number
        items = table[state]
        base = req.arg("base")
        if base and base != store.repo["default_branch"]:
            items = []  # every simulated PR targets the default branch
        head = req.arg("head")
        if head:
            ref = head.split(":", 1)[-1]
            items = [p for p in items if p["head"]["ref"] == ref]
        chunk, headers = self._paged(req, items, newest_first=direction == "desc")
        return Response(200, chunk, headers)

    def _pull(self, req: Request) -> tuple[RepoStore, dict]:
        store = self._store(req)
        try:
            return store, store.pulls[int(req.params["number"])]
        except (KeyError, ValueError):
            raise ApiError(404, "Not Found") from None

    def pull(self, req: Request) -> Response:
        store, pr = self._pull(req)
        commits = store.pr_commits.get(pr["number"], [])
        return Response(200, {
            **pr,
            "merged": pr["merged_at"] is not None,
            "mergeable": None if pr["state"] == "closed" else True,
            "comments": 0,
            "review_comments": 0,
            "commits": len(commits),
            "additions": 10 * len(commits),
            "deletions": 3 * len(commits),
            "changed_files": len(commits),
        })

    def reviews(self, req: Request) -> Response:
        store, pr = self._pull(req)
        chunk, headers = self._paged(req, store.reviews.get(pr["number"], []))
        return Response(200, chunk, headers)

    def pull_commits(self, req: Request) -> Response:
        store, pr = self._pull(req)
        # GitHub lists at most 250 commits of a pull request, oldest first.
        chunk, headers = self._paged(req, store.pr_commits.get(pr["number"], [])[:250])
        return Response(200, chunk, headers)

    # ------------------------------------------------------------------ commits

    def _resolve_ref(self, store: RepoStore, index: RepoIndex, ref: str) -> int:
        """Position on the (linear) default branch of a branch name, tag or full sha."""
        if ref in (store.repo["default_branch"], "HEAD"):
            if not store.commits:
                raise ApiError(409, "Git Repository is empty.")
            return len(store.commits) - 1
        sha = store.tags.get(ref, ref)
        pos = index.commit_pos.get(sha)
        if pos is None:
            raise ApiError(404, f"No commit found for SHA: {ref}")
        return pos

    def commits(self, req: Request) -> Response:
        store = self._store(req)
        index = self._index(store)
        end = self._resolve_ref(store, index, req.arg("sha") or store.repo["default_branch"]) + 1
        start = 0
        since, until = req.arg("since"), req.arg("until")
        if since:
            start = bisect.bisect_left(index.commit_dates, github_ts(_parse_time(since)))
        if until:
            end = min(end, bisect.bisect_right(index.commit_dates, github_ts(_parse_time(until))))
        items = store.commits[start:end] if start < end else []
        chunk, headers = self._paged(req, items, newest_first=True)
        return Response(200, chunk, headers)

    def commit(self, req: Request) -> Response:
        store = self._store(req)
        index = self._index(store)
        pos = self._resolve_ref(store, index, req.params["sha"])
        return Response(200, {**store.commits[pos], "stats": {"total": 13, "additions": 10, "deletions": 3},
                              "files": []})

    def compare(self, req: Request) -> Response:
        store = self._store(req)
        index = self._index(store)
        basehead = req.params["basehead"]
        if "..." not in basehead:
            raise ApiError(404, "Not Found")
        base_ref, head_ref = basehead.split("...", 1)
        try:
            base = self._resolve_ref(store, index, base_ref)
            head = self._resolve_ref(store, index, head_ref)
        except ApiError as exc:
            if exc.status != 404:
                raise
            # Unlike /commits?sha=, a compare naming a sha the repository does not have (force-pushed
            # away) says only "Not Found".
            raise ApiError(404, "Not Found") from None
        ahead, behind = max(0, head - base), max(0, base - head)
        between = store.commits[base + 1:head + 1] if head > base else []
        if req.arg("per_page") is None and req.arg("page") is None:
            chunk, headers = between[:250], {}  # unpaginated, GitHub returns up to 250 commits
        else:
            chunk, headers = self._paged(req, between)
        api = f"{self.org.github_api}/repos/{store.full_name}"
        web = f"{self.org.github_web}/{store.full_name}"
        return Response(200, {
            "url": f"{api}/compare/{basehead}",
            "html_url": f"{web}/compare/{basehead}",
            "permalink_url": f"{web}/compare/{store.commits[base]['sha']}...{store.commits[head]['sha']}",
            "diff_url": f"{web}/compare/{basehead}.diff",
            "patch_url": f"{web}/compare/{basehead}.patch",
            "base_commit": store.commits[base],
            "merge_base_commit": store.commits[min(base, head)],
            "status": "identical" if base == head else ("ahead" if head > base else "behind"),
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": ahead,
            "commits": chunk,
            "files": [],
        }, headers)

    # ------------------------------------------------------------------ deployments and releases

    def deployments(self, req: Request) -> Response:
        store = self._store(req)
        index = self._index(store)
        filters = {k: req.arg(k) for k in ("environment", "sha", "ref", "task") if req.arg(k)}
        if filters:
            # Start from the narrowest pre-built list, then check the remaining filters on it only.
            candidates = min((index.deployments_by[k].get(v, []) for k, v in filters.items()), key=len)
            items = [d for d in candidates if all(d[k] == v for k, v in filters.items())]
        else:
            items = index.deployments
        chunk, headers = self._paged(req, items, newest_first=True)
        return Response(200, chunk, headers)

    def _deployment(self, req: Request) -> tuple[RepoStore, dict]:
        store = self._store(req)
        try:
            return store, store.deployments[int(req.params["deployment_id"])]
        except (KeyError, ValueError):
            raise ApiError(404, "Not Found") from None

    def deployment(self, req: Request) -> Response:
        return Response(200, self._deployment(req)[1])

    def deployment_statuses(self, req: Request) -> Response:
        store, dep = self._deployment(req)
        chunk, headers = self._paged(req, store.deployment_statuses.get(dep["id"], []), newest_first=True)
        return Response(200, chunk, headers)

    def releases(self, req: Request) -> Response:
        store = self._store(req)
        chunk, headers = self._paged(req, self._index(store).releases)
        return Response(200, chunk, headers)

    def tags(self, req: Request) -> Response:
        # GitHub documents no order for /tags; newest-looking names first (descending) is what it
        # tends to serve, and any fixed order keeps pages stable.
        store = self._store(req)
        api = f"{self.org.github_api}/repos/{store.full_name}"
        items = [
            {
                "name": name,
                "zipball_url": f"{api}/zipball/refs/tags/{name}",
                "tarball_url": f"{api}/tarball/refs/tags/{name}",
                "commit": {"sha": sha, "url": f"{api}/commits/{sha}"},
                "node_id": node_id("REF", zlib.crc32(f"{store.full_name}:refs/tags/{name}".encode())),
            }
            for name, sha in sorted(store.tags.items(), reverse=True)
        ]
        chunk, headers = self._paged(req, items)
        return Response(200, chunk, headers)

    # ------------------------------------------------------------------ issues

    def issues(self, req: Request) -> Response:
        # Incidents are few, but PRs are listed here too; this endpoint scans, unlike the others.
        store = self._store(req)
        state = req.arg("state", "open")
        labels = {name.strip() for name in (req.arg("labels") or "").split(",") if name.strip()}
        since = req.arg("since")
        since_ts = github_ts(_parse_time(since)) if since else None
        sort = req.arg("sort", "created")
        direction = req.arg("direction", "desc")
        rows = list(store.issues.values())
        if not labels:
            rows += [pull_as_issue(self.org, store, p) for p in store.pulls.values()]
        picked = []
        for row in rows:
            if state != "all" and row["state"] != state:
                continue
            if labels and not labels <= {label["name"] for label in row["labels"]}:
                continue
            if since_ts and row["updated_at"] < since_ts:
                continue
            picked.append(row)
        key = "updated_at" if sort == "updated" else "created_at"
        picked.sort(key=lambda r: (r[key], r["number"]))
        chunk, headers = self._paged(req, picked, newest_first=direction == "desc")
        return Response(200, chunk, headers)

    def issue(self, req: Request) -> Response:
        store = self._store(req)
        try:
            number = int(req.params["number"])
        except ValueError:
            raise ApiError(404, "Not Found") from None
        if number in store.issues:
            return Response(200, store.issues[number])
        if number in store.pulls:
            return Response(200, pull_as_issue(self.org, store, store.pulls[number]))
        raise ApiError(404, "Not Found")

    def timeline(self, req: Request) -> Response:
        store = self._store(req)
        try:
            number = int(req.params["number"])
        except ValueError:
            raise ApiError(404, "Not Found") from None
        if number in store.pulls:
            events = self._pull_timeline(store, store.pulls[number])
        elif number in store.issues:
            events = []  # the simulator keeps no comments or events on issues
        else:
            raise ApiError(404, "Not Found")
        chunk, headers = self._paged(req, events)
        return Response(200, chunk, headers)

    def _pull_timeline(self, store: RepoStore, pr: dict) -> list[dict]:
        """A PR's review events, derived from its reviews and pending reviewers so reruns agree.

        The author requests every reviewer when the PR opens; a reviewer who then reviews leaves
        ``requested_reviewers``, as on GitHub, so everyone requested is the pending ones plus those who
        reviewed. Like GitHub's timeline, a ``reviewed`` event is the review with ``submitted_at`` and
        ``user`` (no ``actor``, no ``created_at``) and a lower-case ``state``; oldest first.
        """
        reviews = store.reviews.get(pr["number"], [])
        requested: dict[str, dict] = {}
        for user in [*(r["user"] for r in reviews), *pr["requested_reviewers"]]:
            requested.setdefault(user["login"], user)
        api = f"{self.org.github_api}/repos/{store.full_name}"
        events = []
        for login, user in requested.items():
            # Issue-event ids are their own sequence on GitHub; offset them past any simulated review id.
            ident = 10**10 + zlib.crc32(f"{store.full_name}#{pr['number']}:review_requested:{login}".encode())
            events.append({
                "id": ident,
                "node_id": node_id("RRE", ident),
                "url": f"{api}/issues/events/{ident}",
                "actor": pr["user"],
                "event": "review_requested",
                "commit_id": None,
                "commit_url": None,
                "created_at": pr["created_at"],
                "review_requester": pr["user"],
                "requested_reviewer": user,
                "performed_via_github_app": None,
            })
        events += [{**r, "state": r["state"].lower(), "event": "reviewed"} for r in reviews]
        return sorted(events, key=lambda e: (e.get("created_at") or e["submitted_at"], e["event"] != "review_requested",
                                             e["id"]))

    # ------------------------------------------------------------------ Actions

    def workflows(self, req: Request) -> Response:
        store = self._store(req)
        items = sorted(store.workflows.values(), key=lambda w: w["id"])
        chunk, headers = self._paged(req, items)
        return Response(200, {"total_count": len(items), "workflows": chunk}, headers)

    def runs(self, req: Request) -> Response:
        store = self._store(req)
        index = self._index(store)
        status = req.arg("status")
        if status and status not in _RUN_STATUSES:
            raise ApiError(422, "Validation Failed")
        # Start from the narrowest pre-built list (all runs, one status, one branch, event or sha); the
        # lists that are sorted by creation carry their creation stamps for bisecting ``created``.
        candidates: list[tuple[list[dict], list[str] | None]] = [(index.runs, index.run_created)]
        checks: list[tuple[str, Any]] = []
        if status:
            candidates.append((index.runs_by_status.get(status, []), index.runs_by_status_created.get(status, [])))
            checks.append(("status", status))
        for param, attr in (("branch", "head_branch"), ("event", "event"), ("head_sha", "head_sha")):
            value = req.arg(param)
            if value:
                candidates.append((index.runs_by[attr].get(value, []), None))
                checks.append((attr, value))
        workflow = req.params.get("workflow_id")
        if workflow is not None:
            wf = next((w for w in store.workflows.values()
                       if str(w["id"]) == workflow or w["path"].rsplit("/", 1)[-1] == workflow), None)
            if wf is None:
                raise ApiError(404, "Not Found")
            checks.append(("workflow_id", wf["id"]))
        if req.arg("actor"):
            checks.append(("actor", req.arg("actor")))
        if req.arg("check_suite_id"):
            checks.append(("check_suite_id", req.int_arg("check_suite_id", -1)))
        items, created_list = min(candidates, key=lambda c: len(c[0]))
        created = req.arg("created")
        if created:
            lo_ts, hi_ts = _created_range(created)
            if created_list is not None:
                lo = bisect.bisect_left(created_list, lo_ts) if lo_ts else 0
                hi = bisect.bisect_left(created_list, hi_ts) if hi_ts else len(items)
                items = items[lo:hi] if lo < hi else []
            else:
                items = [r for r in items if (not lo_ts or r["created_at"] >= lo_ts)
                         and (not hi_ts or r["created_at"] < hi_ts)]
        if checks:
            items = [r for r in items if all(_run_matches(r, attr, value) for attr, value in checks)]
        searched = any(req.arg(p) for p in _RUN_SEARCH_PARAMS)
        chunk, headers = self._paged(req, items, newest_first=True,
                                     reachable=_RUN_SEARCH_CAP if searched else None)
        return Response(200, {"total_count": len(items), "workflow_runs": chunk}, headers)

    def _run(self, req: Request) -> tuple[RepoStore, dict]:
        store = self._store(req)
        try:
            return store, store.runs[int(req.params["run_id"])]
        except (KeyError, ValueError):
            raise ApiError(404, "Not Found") from None

    def run(self, req: Request) -> Response:
        return Response(200, self._run(req)[1])

    def jobs(self, req: Request) -> Response:
        store, run = self._run(req)
        jobs = self.org.github_jobs(store.full_name, run["id"])
        chunk, headers = self._paged(req, jobs)
        return Response(200, {"total_count": len(jobs), "jobs": chunk}, headers)


def _token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


def _jwt_claims(token: str | None) -> dict | None:
    if not token or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None


def _run_matches(run: dict, attr: str, value: Any) -> bool:
    if attr == "status":  # GitHub's status filter takes a status or a conclusion
        return run["status"] == value or run["conclusion"] == value
    if attr == "actor":
        return run["actor"]["login"] == value
    return run[attr] == value


def _parse_time(value: str) -> int:
    try:
        if len(value) == 10:
            return parse_ms(value + "T00:00:00+00:00")
        return parse_ms(value)
    except ValueError:
        raise ApiError(422, f"Invalid time: {value}") from None


def _created_range(value: str) -> tuple[str | None, str | None]:
    """GitHub search date syntax -> [lo, hi) as GitHub timestamp strings (None = unbounded)."""

    def start(text: str) -> int:
        return _parse_time(text)

    def after(text: str) -> int:
        # The instant just past what `text` names: the next day for a date, the next second otherwise.
        return _parse_time(text) + (MS_PER_DAY if len(text) == 10 else 1000)

    value = value.strip()
    lo = hi = None
    if ".." in value:
        a, b = value.split("..", 1)
        lo = None if a in ("", "*") else start(a)
        hi = None if b in ("", "*") else after(b)
    elif value.startswith(">="):
        lo = start(value[2:])
    elif value.startswith(">"):
        lo = after(value[1:])
    elif value.startswith("<="):
        hi = after(value[2:])
    elif value.startswith("<"):
        hi = start(value[1:])
    else:
        lo, hi = start(value), after(value)
    return (github_ts(lo) if lo is not None else None, github_ts(hi) if hi is not None else None)
