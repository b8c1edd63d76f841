"""Azure DevOps Services REST 7.1 over an Org: the Data team's Boards, Repos and Pipelines, mounted at
``/azure_devops`` (organization ``acme``, project ``Data``, repository ``data-platform``).

The world (``AzureDevOpsWorld``, deterministic from the seed and the Org's history window), all times UTC:
  * DATA_ITEMS work items of the Agile process (User Story, Bug; every tenth a Task), the Tasks and every third
    item under the Feature "Lakehouse migration", itself under the Epic "Data platform" (each child names its
    parent in System.Parent and a System.LinkTypes.Hierarchy-Reverse relation),
    moving New -> Active -> Resolved -> Closed (a few Removed, the newest still New or Active), each move one
    revision with its System.State, System.BoardColumn and System.ChangedDate; tags and area/iteration paths;
  * DATA_PULL_REQUESTS pull requests, most completed (votes 10 or 5 by a reviewer, each with its system
    "VoteUpdate" thread, a text comment thread, two commits), one abandoned, the newest active;
  * the default team `Data Team` with two-week iterations `Sprint N` over the window: a work item starts in the
    sprint it was created in, and while unfinished is carried over to the next one at each sprint review (an update
    on the iteration's last day, 16:00, changing System.IterationPath and System.IterationId);
  * a build of `data-platform-ci` for each completed pull request, 5 minutes after its merge, 10 minutes long
    (every seventh failed), and for each successful build a deployment record to the `staging` environment,
    then one to `production` (the fourth production deployment failed).
Wire behaviours kept on purpose: WIQL (POST) answers ids only, at most `$top` (a query past 20,000 without
`$top` is 400 VS402337), filters `[System.ChangedDate] >= '<date>'` and `[System.TeamProject] = '<name>'`;
workitemsbatch takes at most 200 ids; updates page by `$top`/`$skip` (200 at most); pull requests by
`$top`/`$skip`, newest first, `searchCriteria.status` (active by default) and the closed-time range; builds,
environments, deployment records and pull request commits page by the `x-ms-continuationtoken` header;
every request needs `api-version`; credentials are HTTP Basic with the PAT as password (401 otherwise); a
rate-limit fault is a 429 with Retry-After and the X-RateLimit-* headers Azure DevOps sends.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import time
import uuid

from connectors.kit.faults import Fault
from connectors.kit.http import ApiError, Request, Response, Router

from .api import MountedApi, basic_password, history_window_ms
from .model import Org
from .timefmt import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, github_ts, parse_ms

ORGANIZATION = "acme"
PROJECT = "Data"
REPO = "data-platform"
DATA_ITEMS = 40
DATA_PULL_REQUESTS = 24
WIQL_MAX = 20_000
WEB = "https://dev.azure.com"
_BOUND = re.compile(r"\[System\.ChangedDate\]\s*>=\s*'([^']+)'", re.I)
_PROJECT = re.compile(r"\[System\.TeamProject\]\s*=\s*'((?:[^']|'')*)'", re.I)
BOARD = {"New": "New", "Active": "Active", "Resolved": "Resolved", "Closed": "Closed", "Removed": "Closed"}
PEOPLE = ("Dana Data", "Eli Engineer", "Fay Fields", "Gus Graph")


SPRINT_MS = 14 * MS_PER_DAY


def ado_id(*parts: object) -> str:
    return str(uuid.UUID(hashlib.md5(":".join(map(str, parts)).encode()).hexdigest()))


def ado_ts(ms: int) -> str:
    """Azure DevOps writes up to 7 fractional digits; milliseconds here."""
    return github_ts(ms).replace("Z", f".{ms % 1000:03d}Z")


def _ms(text: str) -> int:
    return parse_ms(text.replace("Z", "+00:00"))


def identity(name: str) -> dict:
    login = name.lower().replace(" ", ".")
    return {"displayName": name, "id": ado_id("user", name), "uniqueName": f"{login}@acme.example",
            "url": f"{WEB}/{ORGANIZATION}/_apis/Identities/{ado_id('user', name)}", "imageUrl": ""}


class AzureDevOpsWorld:
    """The Data team's project from ``start_ms`` to ``anchor_ms``, as it stood at ``cut_ms`` if given (the Org's
    cut, simulator/cut.py): drawn to the anchor, then what happens from the cut on left out."""

    def __init__(self, start_ms: int, anchor_ms: int, seed: int = 7, cut_ms: int | None = None):
        rng = random.Random(f"{seed}:azure_devops")
        self.cut_ms = cut_ms
        until = anchor_ms if cut_ms is None else cut_ms
        self.project = {"id": ado_id("project", PROJECT), "name": PROJECT, "state": "wellFormed",
                        "url": f"{WEB}/{ORGANIZATION}/_apis/projects/{ado_id('project', PROJECT)}"}
        self.repository = {"id": ado_id("repo", REPO), "name": REPO, "project": self.project,
                           "url": f"{WEB}/{ORGANIZATION}/{PROJECT}/_apis/git/repositories/{ado_id('repo', REPO)}"}
        self.first_sprint = start_ms // SPRINT_MS
        self.items: dict[int, dict] = {}
        self.updates: dict[int, list[dict]] = {}
        span = anchor_ms - start_ms
        # the portfolio backlogs: the Epic "Data platform" holds the Feature, each the parent of the level below
        epic, feature = 999, 1000
        # with target dates (Microsoft.VSTS.Scheduling.TargetDate): the Feature's four weeks after the as-of day,
        # the Epic's twelve
        self._add_item(epic, "Epic", "Data platform", start_ms, [("New", start_ms),
                       ("Active", start_ms + 4 * MS_PER_DAY)], until, None, [], anchor_ms + 84 * MS_PER_DAY)
        self._add_item(feature, "Feature", "Lakehouse migration", start_ms, [("New", start_ms),
                       ("Active", start_ms + 3 * MS_PER_DAY)], until, epic, [], anchor_ms + 28 * MS_PER_DAY)
        for n in range(1, DATA_ITEMS + 1):
            created = start_ms + int((n - 1 + rng.random() * 0.5) * span / DATA_ITEMS)
            kind = "Task" if n % 10 == 0 else ("Bug" if n % 4 == 0 else "User Story")
            moves, at = [("New", created)], created
            for state in ("Active", "Resolved", "Closed"):
                at += int((0.5 + rng.random() * 4) * MS_PER_DAY)
                if at >= anchor_ms - MS_PER_HOUR:
                    break
                moves.append((state, at))
            if n % 13 == 0 and len(moves) >= 2:
                moves = moves[:2] + [("Removed", moves[1][1] + MS_PER_DAY)]
            tags = ["tech-debt"] if n % 6 == 0 else []
            moves = [(state, at) for state, at in moves if at < until]
            if not moves:
                continue  # created after the cut
            # the Feature's backlog: the Tasks and every third story or bug (the rest have no parent)
            self._add_item(n + 1000, kind, f"Data item {n}", created, moves, until,
                           feature if kind == "Task" or n % 3 == 0 else None, tags)
        self.pull_requests: list[dict] = []
        self.threads: dict[int, list[dict]] = {}
        self.commits: dict[int, list[dict]] = {}
        self.builds: list[dict] = []
        self.environments = [self._environment(i, name, start_ms) for i, name in ((1, "staging"), (2, "production"))]
        self.records: dict[int, list[dict]] = {1: [], 2: []}
        for n in range(1, DATA_PULL_REQUESTS + 1):
            created = start_ms + int((n - 1 + rng.random() * 0.3) * span / DATA_PULL_REQUESTS)
            self._add_pull_request(n, created, until, rng)
        for records in self.records.values():
            records.reverse()  # newest first, as the API lists them
        self.team = {"id": ado_id("team", PROJECT), "name": f"{PROJECT} Team", "description": "The default team.",
                     "url": f"{WEB}/{ORGANIZATION}/_apis/projects/{self.project['id']}/teams/{ado_id('team', PROJECT)}",
                     "identityUrl": f"{WEB}/{ORGANIZATION}/_apis/Identities/{ado_id('team', PROJECT)}",
                     "projectName": PROJECT, "projectId": self.project["id"]}
        self.iterations = [self._iteration(k, until)
                           for k in range(self.first_sprint, (until + SPRINT_MS - 1) // SPRINT_MS + 1)]

    # ------------------------------------------------------------------ work items

    def _add_item(self, wid: int, kind: str, title: str, created: int, moves: list[tuple[str, int]],
                  anchor_ms: int, parent: int | None, tags: list[str], target_ms: int | None = None) -> None:
        author = identity(PEOPLE[wid % len(PEOPLE)])
        area = f"{PROJECT}\\Pipelines" if wid % 3 == 0 else PROJECT
        url = f"{WEB}/{ORGANIZATION}/{self.project['id']}/_apis/wit/workItems/{wid}"
        # Revisions in time order: the state moves, and the carry-overs of an unfinished item: at each sprint
        # review (its iteration's last day, 16:00) it is moved to the next iteration, as a team does by hand. An
        # item created after its sprint's review starts in the next one; an Epic or Feature stays in the backlog (the
        # root).
        sprint = created // SPRINT_MS
        review = (sprint + 1) * SPRINT_MS - MS_PER_DAY + 16 * MS_PER_HOUR
        if created >= review:
            sprint, review = sprint + 1, review + SPRINT_MS
        iteration = PROJECT if kind in ("Epic", "Feature") else self._path(sprint)
        finished = next((at for to, at in moves if to in ("Closed", "Removed")), anchor_ms)
        revisions: list[tuple[int, str | None, str | None]] = [(at, to, None) for to, at in moves]
        while kind not in ("Epic", "Feature") and review < min(finished, anchor_ms - MS_PER_HOUR):
            sprint += 1
            revisions.append((review, None, self._path(sprint)))
            review += SPRINT_MS
        revisions.sort(key=lambda revision: revision[0])
        updates: list[dict] = []
        state = None
        for rev, (at, to, path) in enumerate(revisions, start=1):
            fields: dict = {
                "System.Rev": {"oldValue": rev - 1, "newValue": rev} if rev > 1 else {"newValue": rev},
                "System.ChangedDate": {"oldValue": ado_ts(revisions[rev - 2][0]), "newValue": ado_ts(at)} if rev > 1
                else {"newValue": ado_ts(at)},
                "System.ChangedBy": {"newValue": author},
            }
            if to is not None:
                fields["System.State"] = {"oldValue": state, "newValue": to} if state else {"newValue": to}
                fields["System.BoardColumn"] = ({"oldValue": BOARD[state], "newValue": BOARD[to]} if state
                                                else {"newValue": BOARD[to]})
                state = to
            if path is not None:
                fields["System.IterationPath"] = {"oldValue": iteration, "newValue": path}
                fields["System.IterationId"] = {"oldValue": self._node(iteration), "newValue": self._node(path)}
                iteration = path
            if rev == 1:
                fields.update({"System.Id": {"newValue": wid}, "System.WorkItemType": {"newValue": kind},
                               "System.Title": {"newValue": title}, "System.AreaPath": {"newValue": area},
                               "System.IterationPath": {"newValue": iteration},
                               "System.IterationId": {"newValue": self._node(iteration)},
                               "System.TeamProject": {"newValue": PROJECT},
                               "System.CreatedDate": {"newValue": ado_ts(created)}})
                if tags:
                    fields["System.Tags"] = {"newValue": "; ".join(tags)}
            update = {"id": rev, "workItemId": wid, "rev": rev, "revisedBy": author,
                      "revisedDate": ado_ts(revisions[rev][0]) if rev < len(revisions) else "9999-01-01T00:00:00Z",
                      "fields": fields, "url": f"{url}/updates/{rev}"}
            if rev == 1 and parent is not None:
                update["relations"] = {"added": [self._parent(parent)]}
            updates.append(update)
        last = revisions[-1][0]
        state_changed = moves[-1][1]
        fields = {"System.Id": wid, "System.AreaPath": area, "System.TeamProject": PROJECT,
                  "System.IterationPath": iteration, "System.IterationId": self._node(iteration),
                  "System.WorkItemType": kind, "System.State": state,
                  "System.Reason": "Moved to state " + state, "System.CreatedDate": ado_ts(created),
                  "System.CreatedBy": author, "System.ChangedDate": ado_ts(last), "System.ChangedBy": author,
                  "System.Title": title, "System.BoardColumn": BOARD[state], "System.BoardColumnDone": False,
                  "Microsoft.VSTS.Common.Priority": 2, "Microsoft.VSTS.Common.StateChangeDate": ado_ts(state_changed)}
        if kind == "User Story":
            fields["Microsoft.VSTS.Scheduling.StoryPoints"] = float(1 + wid % 5)
        if tags:
            fields["System.Tags"] = "; ".join(tags)
        if parent is not None:
            fields["System.Parent"] = parent
        if target_ms is not None:  # the planning date of a portfolio item, midnight UTC as the web form sets it
            fields["Microsoft.VSTS.Scheduling.TargetDate"] = ado_ts(target_ms - target_ms % MS_PER_DAY)
        item = {"id": wid, "rev": len(revisions), "fields": fields, "url": url,
                "_links": {"html": {"href": f"{WEB}/{ORGANIZATION}/{PROJECT}/_workitems/edit/{wid}"}}}
        if parent is not None:
            item["relations"] = [self._parent(parent)]
        self.items[wid] = item
        self.updates[wid] = updates

    def _path(self, k: int) -> str:
        return f"{PROJECT}\\{self._sprint_name(k)}"

    @staticmethod
    def _node(path: str) -> int:
        """System.IterationId: the iteration's classification node id (a number, not the team iteration's GUID)."""
        return int(hashlib.md5(path.encode()).hexdigest()[:6], 16)

    def _sprint_name(self, k: int) -> str:
        return f"Sprint {k - self.first_sprint + 1}"

    def _iteration(self, k: int, anchor_ms: int) -> dict:
        """The k-th two-week sprint since the epoch (a work item's iteration path names the one it was created in)."""
        start, finish = k * SPRINT_MS, (k + 1) * SPRINT_MS - MS_PER_DAY
        # the dates are days: the finish day is still current
        frame = "past" if finish + MS_PER_DAY <= anchor_ms else "current" if start <= anchor_ms else "future"
        iid = ado_id("iteration", k)
        return {"id": iid, "name": self._sprint_name(k), "path": self._path(k),
                "attributes": {"startDate": github_ts(start), "finishDate": github_ts(finish), "timeFrame": frame},
                "url": f"{WEB}/{ORGANIZATION}/{self.project['id']}/_apis/work/teamsettings/iterations/{iid}"}

    def move(self, wid: int, state: str, at_ms: int) -> None:
        """A revision of work item ``wid`` that moves it to ``state`` at ``at_ms`` (a change made while a run reads)."""
        item, updates = self.items[wid], self.updates[wid]
        before, rev = item["fields"]["System.State"], item["rev"] + 1
        updates[-1]["revisedDate"] = ado_ts(at_ms)
        updates.append({"id": rev, "workItemId": wid, "rev": rev, "revisedBy": item["fields"]["System.ChangedBy"],
                        "revisedDate": "9999-01-01T00:00:00Z", "url": f"{item['url']}/updates/{rev}", "fields": {
                            "System.Rev": {"oldValue": rev - 1, "newValue": rev},
                            "System.State": {"oldValue": before, "newValue": state},
                            "System.BoardColumn": {"oldValue": BOARD[before], "newValue": BOARD[state]},
                            "System.ChangedDate": {"oldValue": item["fields"]["System.ChangedDate"],
                                                   "newValue": ado_ts(at_ms)}}})
        item["rev"] = rev
        item["fields"].update({"System.State": state, "System.BoardColumn": BOARD[state],
                               "System.ChangedDate": ado_ts(at_ms), "Microsoft.VSTS.Common.StateChangeDate": ado_ts(at_ms)})

    def add(self, kind: str, title: str, at_ms: int) -> int:
        """A new work item, in New, created at ``at_ms``; its id."""
        wid = max(self.items) + 1
        self._add_item(wid, kind, title, at_ms, [("New", at_ms)], at_ms + 1, None, [])
        return wid

    def _parent(self, parent: int) -> dict:
        return {"rel": "System.LinkTypes.Hierarchy-Reverse",
                "url": f"{WEB}/{ORGANIZATION}/{self.project['id']}/_apis/wit/workItems/{parent}",
                "attributes": {"isLocked": False, "name": "Parent"}}

    # ------------------------------------------------------------------ repos and pipelines

    def _add_pull_request(self, n: int, created: int, anchor_ms: int, rng: random.Random) -> None:
        author, reviewer = identity(PEOPLE[n % 4]), identity(PEOPLE[(n + 1) % 4])
        first_commit = created - int((1 + rng.random() * 6) * MS_PER_HOUR)
        commits = [{"commitId": hashlib.sha1(f"ado:{n}:{k}".encode()).hexdigest(),
                    "author": {"name": author["displayName"], "email": author["uniqueName"],
                               "date": ado_ts(first_commit + k * MS_PER_HOUR)},
                    "committer": {"name": author["displayName"], "email": author["uniqueName"],
                                  "date": ado_ts(first_commit + k * MS_PER_HOUR)},
                    "comment": f"Data change {n}.{k}", "url": f"{self.repository['url']}/commits/x{n}{k}"}
                   for k in range(2)]
        commented = created + int((1 + rng.random() * 5) * MS_PER_HOUR)
        voted = commented + int(rng.random() * 4 * MS_PER_HOUR)
        merged = voted + int((0.5 + rng.random() * 12) * MS_PER_HOUR)
        if self.cut_ms is not None:
            if created >= self.cut_ms:
                return
            commits = [c for c in commits if _ms(c["author"]["date"]) < self.cut_ms] or commits[:1]
        status = "active" if merged >= anchor_ms or n == DATA_PULL_REQUESTS else (
            "abandoned" if n % 11 == 0 else "completed")
        vote = 5 if n % 3 == 0 else 10
        pr = {
            "repository": self.repository, "pullRequestId": n, "codeReviewId": n, "status": status,
            "createdBy": author, "creationDate": ado_ts(created), "title": f"Data pipeline change {n}",
            "description": "", "sourceRefName": f"refs/heads/feature/data-{n}", "targetRefName": "refs/heads/main",
            "mergeStatus": "succeeded", "isDraft": False, "mergeId": ado_id("merge", n),
            "lastMergeSourceCommit": {"commitId": commits[-1]["commitId"]},
            "reviewers": [{**reviewer, "reviewerUrl": reviewer["url"], "vote": vote if status != "active" else 0,
                           "hasDeclined": False, "isRequired": True, "isFlagged": False}],
            "url": f"{self.repository['url']}/pullRequests/{n}", "supportsIterations": True,
        }
        threads = [self._thread(n, 1, reviewer, commented, "text", "Could this read the partition once?")]
        if self.cut_ms is not None and commented >= self.cut_ms:
            threads = []
        if status != "active":
            pr["closedDate"] = ado_ts(merged)
            pr["closedBy"] = author
            if status == "completed":
                merge_sha = hashlib.sha1(f"ado:merge:{n}".encode()).hexdigest()
                pr["lastMergeCommit"] = {"commitId": merge_sha}
                pr["completionOptions"] = {"mergeStrategy": "squash", "deleteSourceBranch": True}
                threads.append(self._vote(n, 2, reviewer, voted, vote))
                self._add_build(merge_sha, merged + 5 * MS_PER_MINUTE, anchor_ms)
        self.pull_requests.append(pr)
        self.threads[n] = threads
        self.commits[n] = commits[::-1]  # newest first

    def _thread(self, n: int, tid: int, who: dict, at: int, kind: str, text: str, **extra) -> dict:
        return {"id": n * 100 + tid, "publishedDate": ado_ts(at), "lastUpdatedDate": ado_ts(at),
                "comments": [{"id": 1, "parentCommentId": 0, "author": who, "content": text,
                              "publishedDate": ado_ts(at), "lastUpdatedDate": ado_ts(at),
                              "lastContentUpdatedDate": ado_ts(at), "commentType": kind, "usersLiked": []}],
                "status": "active" if kind == "text" else "unknown", "threadContext": None,
                "properties": {}, "identities": None, "isDeleted": False, "_links": {}, **extra}

    def _vote(self, n: int, tid: int, who: dict, at: int, vote: int) -> dict:
        thread = self._thread(n, tid, who, at, "system", f"{who['displayName']} voted {vote}")
        thread["properties"] = {
            "CodeReviewThreadType": {"$type": "System.String", "$value": "VoteUpdate"},
            "CodeReviewVoteResult": {"$type": "System.String", "$value": str(vote)},
            "CodeReviewVotedByIdentity": {"$type": "System.String", "$value": "1"},
        }
        thread["identities"] = {"1": who}
        return thread

    def _add_build(self, sha: str, start: int, anchor_ms: int) -> None:
        number = len(self.builds) + 1
        finish = start + 10 * MS_PER_MINUTE
        if finish >= anchor_ms:
            return
        failed = number % 7 == 0
        definition = {"id": 12, "name": "data-platform-ci", "path": "\\", "type": "build", "queueStatus": "enabled",
                      "url": f"{WEB}/{ORGANIZATION}/{self.project['id']}/_apis/build/Definitions/12"}
        build = {
            "id": 500 + number, "buildNumber": f"{github_ts(start)[:10].replace('-', '')}.{number}",
            "status": "completed", "result": "failed" if failed else "succeeded",
            "queueTime": ado_ts(start - MS_PER_MINUTE), "startTime": ado_ts(start), "finishTime": ado_ts(finish),
            "sourceBranch": "refs/heads/main", "sourceVersion": sha, "definition": definition,
            "project": self.project, "reason": "individualCI", "priority": "normal",
            "requestedFor": identity("Dana Data"), "repository": {"id": self.repository["id"], "name": REPO,
                                                                   "type": "TfsGit"},
            "url": f"{WEB}/{ORGANIZATION}/{self.project['id']}/_apis/build/Builds/{500 + number}",
            "_links": {"web": {"href": f"{WEB}/{ORGANIZATION}/{PROJECT}/_build/results?buildId={500 + number}"}},
        }
        self.builds.append(build)
        if failed:
            return
        for env, offset, stage in ((1, 1, "Deploy_Staging"), (2, 10, "Deploy_Production")):
            began = finish + offset * MS_PER_MINUTE
            ended = began + 4 * MS_PER_MINUTE
            if ended >= anchor_ms:
                return
            production = len(self.records[2]) + 1 if env == 2 else 0
            self.records[env].append({
                "id": 9000 + len(self.records[1]) + len(self.records[2]) + 1, "environmentId": env,
                "requestIdentifier": ado_id("request", build["id"], env), "serviceOwner": ado_id("owner"),
                "scopeId": self.project["id"], "resourceId": 0, "planType": "Build",
                "planId": ado_id("plan", build["id"]), "stageName": stage, "jobName": "Deploy",
                "stageAttempt": 1, "jobAttempt": 1,
                "definition": {"id": 12, "name": "data-platform-ci"},
                "owner": {"id": build["id"], "name": build["buildNumber"]},
                "result": "failed" if production == 4 else "succeeded",
                "queueTime": ado_ts(began - MS_PER_MINUTE), "startTime": ado_ts(began), "finishTime": ado_ts(ended),
            })

    def _environment(self, eid: int, name: str, start_ms: int) -> dict:
        who = identity("Dana Data")
        return {"id": eid, "name": name, "description": "", "createdBy": who, "createdOn": ado_ts(start_ms),
                "lastModifiedBy": who, "lastModifiedOn": ado_ts(start_ms), "project": self.project}


class AzureDevOpsApi(MountedApi):
    PREFIX = "azure_devops"

    def __init__(self, org: Org, *, tokens: set[str] | list[str] | None = None):
        self.org = org
        self.tokens = set(tokens) if tokens is not None else None
        self._world: AzureDevOpsWorld | None = None
        r = self.router = Router()
        at = "/{org}/{project}/_apis/"
        r.add("GET", "/{org}/_apis/projects/{project}", lambda req: Response(200, self._project(req)))
        r.add("POST", at + "wit/wiql", self.wiql)
        r.add("POST", at + "wit/workitemsbatch", self.batch)
        r.add("GET", at + "wit/workItems/{id}/updates", self.updates)
        r.add("GET", at + "git/pullrequests", self.pull_requests)
        r.add("GET", at + "git/repositories/{repo}/pullRequests/{id}/threads",
              lambda req: self._whole(self.world.threads[self._pr(req)]))
        r.add("GET", at + "git/repositories/{repo}/pullRequests/{id}/commits",
              lambda req: self._tokened(req, self.world.commits[self._pr(req)], "$top"))
        r.add("GET", at + "build/builds", self.builds)
        r.add("GET", at + "distributedtask/environments",
              lambda req: self._tokened(self._checked(req), self.world.environments, "$top"))
        r.add("GET", at + "distributedtask/environments/{env}/environmentdeploymentrecords", self.records)
        r.add("GET", "/{org}/_apis/projects/{project}/teams",
              lambda req: self._skipped(self._checked(req), [self.world.team], 100))
        r.add("GET", "/{org}/{project}/{team}/_apis/work/teamsettings/iterations", self.iterations)

    @property
    def world(self) -> AzureDevOpsWorld:
        """Built on first use (a benchmark that never asks Azure DevOps pays nothing)."""
        if self._world is None:
            self._world = AzureDevOpsWorld(*history_window_ms(self.org), cut_ms=self.org.cut_ms)
        return self._world

    # ------------------------------------------------------------------ front door

    def serve(self, req: Request) -> Response:
        if self.tokens is not None and basic_password(req) not in self.tokens:
            return self.error_response(401, "Access Denied: the personal access token is not valid", {})
        resolved = self.router.resolve(req.method, req.path)
        if resolved is None:
            return self.error_response(404, "The resource cannot be found.", {})
        handler, req.params = resolved
        try:
            return handler(req)
        except ApiError as exc:
            return self.error_response(exc.status, exc.message, exc.headers)

    def error_response(self, status: int, message: str, headers: dict[str, str]) -> Response:
        return Response(status, {"$id": "1", "innerException": None, "message": message,
                                 "typeName": "Microsoft.VisualStudio.Services.WebApi.VssServiceException",
                                 "typeKey": "VssServiceException", "errorCode": 0, "eventId": 3000}, dict(headers))

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return self.error_response(401, "Access Denied: the personal access token is not valid", {})
        if fault.kind == "rate_limit":
            retry_after = fault.opts.get("retry_after", 1)
            # X-RateLimit-Reset is an epoch time: the client waits for it when Retry-After is missing
            wait = float(fault.opts.get("reset_seconds", retry_after if retry_after is not None else 60.0))
            headers = {"X-RateLimit-Resource": "Core", "X-RateLimit-Delay": "0.5",
                       "X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": str(int(time.time() + wait))}
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            return self.error_response(int(fault.opts.get("status", 429)), "Request was blocked due to exceeding "
                                       "usage of resource 'Core' in namespace 'User'.", headers)
        return None

    # ------------------------------------------------------------------ helpers

    def _checked(self, req: Request) -> Request:
        if not req.arg("api-version"):
            raise ApiError(400, "No api-version was supplied for the request. An api-version is required.")
        if req.params.get("org") != ORGANIZATION:
            raise ApiError(404, f"VS800075: The project with id 'vstfs:///Classification/TeamProject/"
                                f"{req.params.get('project')}' does not exist, or you do not have permission to "
                                "access it.")
        if req.params.get("project") not in (PROJECT, self.world.project["id"]):
            raise ApiError(404, f"TF200016: The following project does not exist: {req.params.get('project')}. "
                                "Verify that the name of the project is correct and that the project exists on "
                                "the specified Azure DevOps Server.")
        return req

    def _project(self, req: Request) -> dict:
        return self.world.project if self._checked(req) else {}

    @staticmethod
    def _whole(items: list) -> Response:
        return Response(200, {"value": items, "count": len(items)})

    @staticmethod
    def _skipped(req: Request, items: list, cap: int) -> Response:
        top = req.int_arg("$top", cap, minimum=1, maximum=cap)
        skip = req.int_arg("$skip", 0, minimum=0, strict=True)
        chunk = items[skip: skip + top]
        return Response(200, {"value": chunk, "count": len(chunk)})

    @staticmethod
    def _tokened(req: Request, items: list, size: str, cap: int = 1000) -> Response:
        """A page by continuation token: the token is where the next page starts (opaque to the client)."""
        top = req.int_arg(size, 50, minimum=1, maximum=cap)
        token = req.arg("continuationToken")
        start = 0
        if token:
            try:
                start = int(base64.b64decode(token).decode())
            except ValueError:
                raise ApiError(400, "The continuation token is not valid.") from None
        chunk = items[start: start + top]
        headers = {}
        if start + top < len(items):
            headers["x-ms-continuationtoken"] = base64.b64encode(str(start + top).encode()).decode()
        return Response(200, {"value": chunk, "count": len(chunk)}, headers)

    def _pr(self, req: Request) -> int:
        self._checked(req)
        try:
            number = int(req.params["id"])
        except ValueError:
            raise ApiError(404, "TF401180: The requested pull request was not found.") from None
        if number not in self.world.threads or req.params["repo"] not in (REPO, self.world.repository["id"]):
            raise ApiError(404, "TF401180: The requested pull request was not found.")
        return number

    # ------------------------------------------------------------------ routes

    def wiql(self, req: Request) -> Response:
        self._checked(req)
        query = str(req.json().get("query") or "")
        if not query.upper().startswith("SELECT"):
            raise ApiError(400, "TF51005: The query references a field that does not exist.")
        items = sorted(self.world.items.values(), key=lambda i: (i["fields"]["System.ChangedDate"], i["id"]))
        project = _PROJECT.search(query)
        if project:
            items = [i for i in items if i["fields"]["System.TeamProject"] == project.group(1).replace("''", "'")]
        bound = _BOUND.search(query)
        if bound:
            since = _ms(bound.group(1))
            items = [i for i in items if _ms(i["fields"]["System.ChangedDate"]) >= since]
        top = req.arg("$top")
        if top is None and len(items) > WIQL_MAX:
            raise ApiError(400, "VS402337: The number of work items returned exceeds the size limit of 20000. "
                                "Change the query to return fewer items.")
        items = items[: int(top)] if top is not None else items
        base = f"{WEB}/{ORGANIZATION}/{self.world.project['id']}/_apis/wit/workItems"
        return Response(200, {
            "queryType": "flat", "queryResultType": "workItem", "asOf": ado_ts(int(time.time() * 1000)),
            "columns": [{"referenceName": "System.Id", "name": "ID",
                         "url": f"{WEB}/{ORGANIZATION}/_apis/wit/fields/System.Id"}],
            "sortColumns": [{"field": {"referenceName": "System.ChangedDate", "name": "Changed Date"},
                             "descending": False}],
            "workItems": [{"id": i["id"], "url": f"{base}/{i['id']}"} for i in items]})

    def batch(self, req: Request) -> Response:
        self._checked(req)
        body = req.json()
        ids = body.get("ids") or []
        if len(ids) > 200:
            raise ApiError(400, "VS403474: The maximum number of work items that can be requested is 200.")
        omit = str(body.get("errorPolicy") or "").lower() == "omit"
        found = []
        for wid in ids:
            item = self.world.items.get(int(wid))
            if item is None and not omit:
                raise ApiError(404, f"TF401232: Work item {wid} does not exist, or you do not have permissions "
                                    "to read it.")
            found.append(item)
        return Response(200, {"count": len(found), "value": found})

    def updates(self, req: Request) -> Response:
        self._checked(req)
        updates = self.world.updates.get(int(req.params["id"]) if req.params["id"].isdigit() else -1)
        if updates is None:
            raise ApiError(404, f"TF401232: Work item {req.params['id']} does not exist.")
        return self._skipped(req, updates, 200)

    def pull_requests(self, req: Request) -> Response:
        self._checked(req)
        status = (req.arg("searchCriteria.status") or "active").lower()
        items = [p for p in self.world.pull_requests if status == "all" or p["status"] == status]
        if req.arg("searchCriteria.queryTimeRangeType") == "closed":
            items = [p for p in items if p.get("closedDate")]
            key = "closedDate"
        else:
            key = "creationDate"
        if req.arg("searchCriteria.minTime"):
            since = _ms(req.arg("searchCriteria.minTime"))
            items = [p for p in items if _ms(p[key]) >= since]
        items = sorted(items, key=lambda p: p[key], reverse=True)
        return self._skipped(req, items, 1000)

    def builds(self, req: Request) -> Response:
        self._checked(req)
        items = [b for b in self.world.builds if req.arg("statusFilter") in (None, "completed")]
        if req.arg("minTime"):
            since = _ms(req.arg("minTime"))
            items = [b for b in items if _ms(b["finishTime"]) >= since]
        order = req.arg("queryOrder") or "queueTimeDescending"
        field = next((f"{name}Time" for name in ("finish", "start") if order.startswith(name)), "queueTime")
        items = sorted(items, key=lambda b: (b[field], b["id"]), reverse=order.endswith("Descending"))
        return self._tokened(req, items, "$top")

    def iterations(self, req: Request) -> Response:
        self._checked(req)
        if req.params["team"] not in (self.world.team["id"], self.world.team["name"]):
            raise ApiError(404, f"The team with id {req.params['team']} does not exist.")
        return self._whole(self.world.iterations)

    def records(self, req: Request) -> Response:
        self._checked(req)
        env = int(req.params["env"]) if req.params["env"].isdigit() else -1
        if env not in self.world.records:
            raise ApiError(404, f"Environment with id {req.params['env']} not found.")
        return self._tokened(req, self.world.records[env], "top")
