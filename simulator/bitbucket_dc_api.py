"""Bitbucket Data Center REST 1.0 over an Org, mounted at ``/bitbucket_dc/rest/api/1.0``.

The demo organisation's Mobile team keeps its backend on a Bitbucket Data Center server: project ``MOB``,
repository ``mobile-api``, whose history is derived from the Org's GitHub repository ``MIRRORED``
(acme/platform-infra, which no other Bitbucket world mirrors), so it is as deterministic as the Org and its
timings are the ones GitHub already carries. All times are epoch milliseconds, as Data Center writes them:
  * default-branch commits: one per GitHub default-branch commit (hash ``sha_of("bitbucket-dc", slug, i)``),
    only to name merge commits;
  * pull requests: one per GitHub pull request (same number, title and times; OPEN, MERGED or DECLINED, with
    `closedDate` once closed and, once merged, `properties.mergeCommit`: the full hash of the default-branch
    commit its GitHub merge is), listed newest update first for ``order=NEWEST`` (the default), oldest first
    for ``OLDEST``;
  * activities, newest first, each with its own id: OPENED at the opening, per review a COMMENTED (with its
    comment), APPROVED a second later for an approving review and REVIEWED ("needs work") for one asking for
    changes, MERGED (with its `commit`) at the merge or DECLINED at the close;
  * each pull request's commits, newest first (`id`, `author.name`/`emailAddress`, `authorTimestamp`).
Wire behaviours kept on purpose: pages ``{"size", "limit", "start", "isLastPage", "nextPageStart",
"values"}`` with ``start``/``limit`` (limit 25 by default, capped at ``MAX_LIMIT``, a server setting); pull
requests list OPEN only unless ``state`` is given (ALL, OPEN, MERGED or DECLINED; 400 otherwise);
credentials are HTTP Basic (any user, the password a token) or Bearer (an HTTP access token), 401 otherwise;
errors are Data Center's ``{"errors": [{"message", "exceptionName"}]}``; a rate-limit fault is a 429 with
the fault's Retry-After (none when the fault sets none).
"""

from __future__ import annotations

import zlib

from connectors.kit.faults import Fault
from connectors.kit.http import ApiError, Request, Response, Router

from .api import MountedApi, bearer_or_basic_token
from .model import Org, RepoStore, sha_of
from .timefmt import as_ms, parse_ms

PROJECT = "MOB"
SLUG = "mobile-api"
MIRRORED = "acme/platform-infra"  # whose GitHub history the repository's is derived from
SERVER = "https://bitbucket.acme.example"
API = "/rest/api/1.0"
MAX_LIMIT = 100
STATES = ("OPEN", "MERGED", "DECLINED")


def _ms(text: str) -> int:
    return parse_ms(text.replace("Z", "+00:00"))


def _user(login: str) -> dict:
    return {"name": login, "emailAddress": f"{login}@acme.example", "id": zlib.crc32(login.encode()) % 100_000,
            "displayName": login.replace("-", " ").title(), "active": True, "slug": login, "type": "NORMAL",
            "links": {"self": [{"href": f"{SERVER}/users/{login}"}]}}


class BitbucketDataCenterData:
    """The Data Center objects of an Org, in wire format."""

    def __init__(self, org: Org, mirrored: str = MIRRORED):
        self.repositories: dict[str, dict] = {}
        self.pull_requests: dict[str, dict[int, dict]] = {}
        self.activities: dict[str, dict[int, list[dict]]] = {}
        self.pr_commits: dict[str, dict[int, list[dict]]] = {}
        store = org.repos.get(mirrored)
        if store is not None and store.commits:
            self._derive(SLUG, store)

    def _derive(self, slug: str, store: RepoStore) -> None:
        self.repositories[slug] = {
            "id": zlib.crc32(f"{PROJECT}/{slug}".encode()) % 10_000, "slug": slug, "name": slug, "hierarchyId":
            sha_of("bitbucket-dc", "hierarchy", slug)[:20], "scmId": "git", "state": "AVAILABLE",
            "statusMessage": "Available", "forkable": True, "public": False, "archived": False,
            "project": {"key": PROJECT, "id": 7, "name": "Mobile", "public": False, "type": "NORMAL",
                        "links": {"self": [{"href": f"{SERVER}/projects/{PROJECT}"}]}},
            "links": {"self": [{"href": f"{SERVER}/projects/{PROJECT}/repos/{slug}/browse"}]},
        }
        mainline = {c["sha"]: sha_of("bitbucket-dc", slug, i) for i, c in enumerate(store.commits)}
        self.pull_requests[slug], self.activities[slug], self.pr_commits[slug] = {}, {}, {}
        for pr in sorted(store.pulls.values(), key=lambda p: p["number"]):
            self._derive_pull_request(slug, store, pr, mainline)

    def _ref(self, slug: str, branch: str, commit: str | None) -> dict:
        return {"id": f"refs/heads/{branch}", "displayId": branch, "latestCommit": commit, "type": "BRANCH",
                "repository": {"slug": slug, "name": slug, "project": {"key": PROJECT}}}

    @staticmethod
    def _commit(sha: str, message: str, author: str, at: int) -> dict:
        person = {"name": author, "emailAddress": f"{author.lower().replace(' ', '.')}@acme.example"}
        return {"id": sha, "displayId": sha[:11], "author": person, "authorTimestamp": at, "committer": person,
                "committerTimestamp": at, "message": message, "parents": []}

    def _derive_pull_request(self, slug: str, store: RepoStore, pr: dict, mainline: dict[str, str]) -> None:
        number = pr["number"]
        merged = pr["merged_at"] is not None
        state = "OPEN" if pr["state"] == "open" else ("MERGED" if merged else "DECLINED")
        author = _user(pr["user"]["login"])
        commits = [self._commit(sha_of("bitbucket-dc", slug, "pr", number, k), c["commit"]["message"],
                                c["commit"]["author"]["name"], _ms(c["commit"]["author"]["date"]))
                   for k, c in enumerate(store.pr_commits.get(number, []))]
        opened = _ms(pr["created_at"])
        closed = _ms(pr["merged_at"]) if merged else (_ms(pr["closed_at"]) if pr.get("closed_at") else None)
        merge = mainline.get(pr["merge_commit_sha"], sha_of("bitbucket-dc", slug, "merge", number)) if merged else None
        body = {
            "id": number, "version": 0, "title": pr["title"], "description": pr["body"] or "", "state": state,
            "open": state == "OPEN", "closed": state != "OPEN", "createdDate": opened,
            "updatedDate": _ms(pr["updated_at"]),
            "fromRef": self._ref(slug, pr["head"]["ref"], commits[-1]["id"] if commits else None),
            "toRef": self._ref(slug, "main", None), "locked": False,
            "author": {"user": author, "role": "AUTHOR", "approved": False, "status": "UNAPPROVED"},
            "reviewers": [], "participants": [],
            "properties": {"commentCount": 0, "openTaskCount": 0, "resolvedTaskCount": 0},
            "links": {"self": [{"href": f"{SERVER}/projects/{PROJECT}/repos/{slug}/pull-requests/{number}"}]},
        }
        if state != "OPEN":
            body["closedDate"] = closed if closed is not None else body["updatedDate"]
        if merge:
            body["properties"]["mergeCommit"] = {"displayId": merge[:11], "id": merge}
        entries = [(opened, {"action": "OPENED", "user": author})]
        for k, review in enumerate(store.reviews.get(number, [])):
            reviewer, at = _user(review["user"]["login"]), _ms(review["submitted_at"])
            text = {"APPROVED": "Looks good to me.", "CHANGES_REQUESTED": "Please handle the timeout case."}.get(
                review["state"], "A question on the retry.")
            comment = {"id": 400_000 + number * 100 + k, "version": 0, "text": text, "author": reviewer,
                       "createdDate": at, "updatedDate": at, "comments": [], "tasks": [], "severity": "NORMAL",
                       "state": "OPEN"}
            entries.append((at, {"action": "COMMENTED", "user": reviewer, "commentAction": "ADDED", "comment": comment}))
            if review["state"] == "APPROVED":
                entries.append((at + 1000, {"action": "APPROVED", "user": reviewer}))
            elif review["state"] == "CHANGES_REQUESTED":
                entries.append((at + 1000, {"action": "REVIEWED", "user": reviewer}))
        if merged:
            entries.append((closed, {"action": "MERGED", "user": author,
                                     "commit": self._commit(merge, f"Merge pull request #{number}", "Bitbucket", closed)}))
        elif state == "DECLINED":
            entries.append((body["closedDate"], {"action": "DECLINED", "user": author}))
        body["properties"]["commentCount"] = sum(e["action"] == "COMMENTED" for _, e in entries)
        ordered = sorted(entries, key=lambda x: x[0])
        activities = [{"id": number * 100 + i, "createdDate": at, **entry} for i, (at, entry) in enumerate(ordered)]
        self.pull_requests[slug][number] = body
        self.activities[slug][number] = activities[::-1]
        self.pr_commits[slug][number] = commits[::-1]

    def comment(self, number: int, login: str, at) -> dict:
        """A comment on pull request ``number`` at ``at``: it heads its activities and moves `updatedDate`."""
        pr, at_ms, who = self.pull_requests[SLUG][number], as_ms(at), _user(login)
        activities = self.activities[SLUG][number]
        comment = {"id": 500_000 + number * 100 + len(activities), "version": 0, "text": "Late note.",
                   "author": who, "createdDate": at_ms, "updatedDate": at_ms, "comments": [], "tasks": []}
        entry = {"id": number * 100 + len(activities), "createdDate": at_ms, "action": "COMMENTED", "user": who,
                 "commentAction": "ADDED", "comment": comment}
        activities.insert(0, entry)
        pr["updatedDate"] = at_ms
        pr["properties"]["commentCount"] += 1
        return entry

    def open_pull_request(self, title: str, login: str, at) -> dict:
        """A new OPEN pull request at ``at``, with the activity that opened it and no commits yet."""
        number = max(self.pull_requests[SLUG], default=0) + 1
        at_ms, author = as_ms(at), _user(login)
        pr = {"id": number, "version": 0, "title": title, "description": "", "state": "OPEN", "open": True,
              "closed": False, "createdDate": at_ms, "updatedDate": at_ms,
              "fromRef": self._ref(SLUG, f"feature/{number}", None), "toRef": self._ref(SLUG, "main", None),
              "locked": False, "author": {"user": author, "role": "AUTHOR", "approved": False, "status": "UNAPPROVED"},
              "reviewers": [], "participants": [],
              "properties": {"commentCount": 0, "openTaskCount": 0, "resolvedTaskCount": 0},
              "links": {"self": [{"href": f"{SERVER}/projects/{PROJECT}/repos/{SLUG}/pull-requests/{number}"}]}}
        self.pull_requests[SLUG][number] = pr
        self.activities[SLUG][number] = [{"id": number * 100, "createdDate": at_ms, "action": "OPENED", "user": author}]
        self.pr_commits[SLUG][number] = []
        return pr


class BitbucketDataCenterApi(MountedApi):
    PREFIX = "bitbucket_dc"

    def __init__(self, org: Org, *, tokens: set[str] | list[str] | None = None, mirrored: str = MIRRORED):
        self.org = org
        self.data = BitbucketDataCenterData(org, mirrored)
        self.tokens = set(tokens) if tokens is not None else None
        r = self.router = Router()
        repo = API + "/projects/{project}/repos/{slug}"
        r.add("GET", API + "/projects/{project}/repos", self.repositories)
        r.add("GET", repo, lambda req: Response(200, self.data.repositories[self._slug(req)]))
        r.add("GET", repo + "/pull-requests", self.pull_requests)
        r.add("GET", repo + "/pull-requests/{id}/activities",
              lambda req: self._paged(req, self.data.activities[self._slug(req)][self._number(req)]))
        r.add("GET", repo + "/pull-requests/{id}/commits",
              lambda req: self._paged(req, self.data.pr_commits[self._slug(req)][self._number(req)]))

    # ------------------------------------------------------------------ front door

    def serve(self, req: Request) -> Response:
        if self.tokens is not None and bearer_or_basic_token(req) not in self.tokens:
            return self.error_response(401, "Authentication failed. Please check your credentials and try again.", {})
        resolved = self.router.resolve(req.method, req.path)
        if resolved is None:
            return self.error_response(404, f"No resource at {req.path}", {})
        handler, req.params = resolved
        try:
            return handler(req)  # the server holds the Org's lock
        except ApiError as exc:
            return self.error_response(exc.status, exc.message, exc.headers)

    def error_response(self, status: int, message: str, headers: dict[str, str]) -> Response:
        exception = {401: "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException",
                     404: "com.atlassian.bitbucket.NoSuchEntityException",
                     429: "com.atlassian.bitbucket.ratelimit.RateLimitedException"}.get(status)
        return Response(status, {"errors": [{"context": None, "message": message, "exceptionName": exception}]},
                        dict(headers))

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return self.error_response(401, "Authentication failed. Please check your credentials and try again.", {})
        if fault.kind == "rate_limit":
            retry_after = fault.opts.get("retry_after")
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return self.error_response(int(fault.opts.get("status", 429)), "You have been rate limited.", headers)
        if fault.kind == "server_error" and int(fault.opts.get("status", 500)) == 500:
            return self.error_response(500, "An internal server error occurred.", {})
        return None

    # ------------------------------------------------------------------ helpers

    def _project(self, req: Request) -> str:
        if req.params["project"] != PROJECT:
            raise ApiError(404, f"Project {req.params['project']} does not exist.")
        return PROJECT

    def _slug(self, req: Request) -> str:
        self._project(req)
        if req.params["slug"] not in self.data.repositories:
            raise ApiError(404, f"Repository {PROJECT}/{req.params['slug']} does not exist.")
        return req.params["slug"]

    def _number(self, req: Request) -> int:
        slug = self._slug(req)
        try:
            number = int(req.params["id"])
        except ValueError:
            raise ApiError(404, "Pull request not found") from None
        if number not in self.data.pull_requests[slug]:
            raise ApiError(404, f"Pull request {number} does not exist in {PROJECT}/{slug}.")
        return number

    @staticmethod
    def _paged(req: Request, items: list) -> Response:
        limit = req.int_arg("limit", 25, minimum=1, maximum=MAX_LIMIT)
        start = req.int_arg("start", 0, minimum=0, strict=True)
        chunk = items[start:start + limit]
        last = start + len(chunk) >= len(items)
        body = {"size": len(chunk), "limit": limit, "start": start, "isLastPage": last, "values": chunk}
        if not last:
            body["nextPageStart"] = start + len(chunk)
        return Response(200, body)

    # ------------------------------------------------------------------ routes

    def repositories(self, req: Request) -> Response:
        self._project(req)
        return self._paged(req, sorted(self.data.repositories.values(), key=lambda r: r["slug"]))

    def pull_requests(self, req: Request) -> Response:
        slug = self._slug(req)
        state = (req.arg("state") or "OPEN").upper()
        order = (req.arg("order") or "NEWEST").upper()
        if state not in (*STATES, "ALL"):
            raise ApiError(400, f"Invalid state {state}: one of ALL, {', '.join(STATES)}")
        if order not in ("NEWEST", "OLDEST"):
            raise ApiError(400, f"Invalid order {order}: NEWEST or OLDEST")
        items = [p for p in self.data.pull_requests[slug].values() if state == "ALL" or p["state"] == state]
        items.sort(key=lambda p: (p["updatedDate"], p["id"]), reverse=order == "NEWEST")
        return self._paged(req, items)
