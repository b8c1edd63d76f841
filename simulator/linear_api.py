"""Linear's GraphQL API (api.linear.app/graphql) over an Org: the Mobile team (MOB), which plans in Linear, mounted
at /linear.

Not a GraphQL engine: it answers the queries the connector sends (connectors/linear), told apart by their operation
name (`query Issues(...)`, `IssueHistory`, `Teams`, `WorkflowStates`, `Cycles`, `Projects`, `Check`), with the
objects shaped as Linear's schema documents them (packages/sdk/src/schema.graphql of linear/linear).

The world (``LinearWorld``, deterministic from the seed and the Org's history window): one team, its workflow
(Triage, Backlog, Todo, In Progress, In Review, Done, Canceled with their `type`), two-week cycles, two projects
in one initiative, and MOB_ISSUES issues that move through the workflow; one of them bounces between In Progress
and In Review often enough that its history has more than one page.

Wire behaviours kept on purpose:
  * connections take `first` (default 50, more than 250 is an error) and `after` (an opaque cursor; a forged one
    is an error) and answer `nodes` and `pageInfo { hasNextPage endCursor }`;
  * `issues(orderBy: updatedAt)` lists the most recently updated first; `filter: {updatedAt: {gte: $since}}`
    and `team: {key: {in: $teams}}` filter; archived objects only with `includeArchived: true`;
  * credentials are `Authorization: <personal API key>`: a missing or unknown key is HTTP 400 with a GraphQL
    error of code AUTHENTICATION_ERROR; every answer carries `X-RateLimit-Requests-Limit/-Remaining/-Reset`
    (reset in epoch milliseconds) and `X-Complexity`; past ``requests_per_hour`` (None: unlimited) a request is
    HTTP 400 with code RATELIMITED, as Linear answers (a `rate_limit` fault: the same, with its `status`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import time
from typing import Any

from connectors.kit.faults import Fault
from connectors.kit.http import Request, Response

from .api import MountedApi, history_window_ms
from .model import Org
from .timefmt import MS_PER_DAY, MS_PER_HOUR, github_ts, parse_ms

TEAM_KEY = "MOB"
TEAM_NAME = "Mobile"
MOB_ISSUES = 60
LONG_HISTORY = 60  # history entries of the one issue whose history has more than a page
MAX_FIRST = 250
# Linear's workflow of a new team, with the `type` every state has.
STATES = (("Triage", "triage"), ("Backlog", "backlog"), ("Todo", "unstarted"), ("In Progress", "started"),
          ("In Review", "started"), ("Done", "completed"), ("Canceled", "canceled"))
_OPERATION = re.compile(r"query\s+(\w+)")
_FIRST_OF = re.compile(r"\b(history|labels|teams|initiatives)\(first:\s*(\d+)\)")


def linear_id(*parts: object) -> str:
    """A UUID-looking id, stable for the same parts (Linear's ids are UUIDs)."""
    h = hashlib.md5(":".join(map(str, parts)).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _ts(ms: int) -> str:
    return github_ts(ms).replace("Z", ".000Z")  # Linear writes milliseconds


class LinearWorld:
    """The Mobile team's Linear workspace from ``start_ms`` to ``anchor_ms`` (ms), as it stood at ``cut_ms`` if
    given (the Org's cut, simulator/cut.py): drawn to the anchor, then what happens from the cut on left out."""

    def __init__(self, start_ms: int, anchor_ms: int, seed: int = 7, cut_ms: int | None = None):
        rng = random.Random(f"{seed}:linear")
        horizon, anchor_ms = anchor_ms, anchor_ms if cut_ms is None else cut_ms
        self.team = {"id": linear_id("team", TEAM_KEY), "key": TEAM_KEY, "name": TEAM_NAME,
                     "createdAt": _ts(start_ms - 30 * MS_PER_DAY), "updatedAt": _ts(start_ms - 30 * MS_PER_DAY),
                     "archivedAt": None}
        ref = {"id": self.team["id"], "key": TEAM_KEY}
        self.states = [{"id": linear_id("state", name), "name": name, "type": kind, "position": float(i),
                        "team": ref, "archivedAt": None} for i, (name, kind) in enumerate(STATES)]
        self.state = {s["name"]: s for s in self.states}
        self.cycles: list[dict] = []
        starts = start_ms - start_ms % MS_PER_DAY
        number = 1
        while starts < anchor_ms:
            ends = starts + 14 * MS_PER_DAY
            self.cycles.append({"id": linear_id("cycle", number), "number": float(number), "name": None,
                                "startsAt": _ts(starts), "endsAt": _ts(ends),
                                "completedAt": _ts(ends) if ends <= anchor_ms else None,
                                "createdAt": _ts(starts - MS_PER_DAY), "updatedAt": _ts(min(ends, anchor_ms)),
                                "archivedAt": None, "team": ref})
            starts, number = ends, number + 1
        initiative = {"id": linear_id("initiative", 1), "name": "Mobile checkout parity", "status": "Active",
                      "targetDate": github_ts(horizon + 60 * MS_PER_DAY)[:10]}
        self.projects = [self._project(i, name, start_ms, anchor_ms, ref, initiative)
                         for i, name in enumerate(("Offline cart", "Wallet payments"))]
        self.issues: list[dict] = []
        self.history: dict[str, list[dict]] = {}
        span = horizon - start_ms
        for n in range(1, MOB_ISSUES + 1):
            created = start_ms + int((n - 1 + rng.random() * 0.5) * span / MOB_ISSUES)
            self._add_issue(n, created, horizon, anchor_ms, rng, ref)

    def _project(self, i: int, name: str, start_ms: int, anchor_ms: int, team: dict, initiative: dict) -> dict:
        started = start_ms + (i * 40 + 5) * MS_PER_DAY
        done = i == 0 and started + 90 * MS_PER_DAY < anchor_ms
        completed = started + 90 * MS_PER_DAY if done else None
        status = ("Completed", "completed") if done else ("In Progress", "started")
        return {"id": linear_id("project", name), "name": name, "url": f"https://linear.app/acme/project/{i}",
                "createdAt": _ts(started - 7 * MS_PER_DAY), "updatedAt": _ts(completed or anchor_ms - MS_PER_DAY),
                "archivedAt": None, "startDate": github_ts(started)[:10],
                "targetDate": github_ts(started + 100 * MS_PER_DAY)[:10], "startedAt": _ts(started),
                "completedAt": _ts(completed) if completed else None, "canceledAt": None,
                "progress": 1.0 if done else 0.5,
                "status": {"id": linear_id("project-status", status[0]), "name": status[0], "type": status[1]},
                "teams": {"nodes": [team], "pageInfo": {"hasNextPage": False, "endCursor": None}},
                "initiatives": {"nodes": [initiative], "pageInfo": {"hasNextPage": False, "endCursor": None}}}

    def _add_issue(self, n: int, created: int, horizon: int, anchor_ms: int, rng: random.Random, team: dict) -> None:
        """Issue ``n``'s moves are drawn to the ``horizon``, the issue served as it stood at ``anchor_ms``."""
        issue_id = linear_id("issue", n)
        path = ["Backlog", "Todo", "In Progress", "In Review", "Done"]
        if n % 9 == 0:
            path = ["Backlog", "Todo", "Canceled"]
        elif n == 2:  # the long history: review ping-pong
            path = ["Backlog", "Todo", *(["In Progress", "In Review"] * (LONG_HISTORY // 2)), "Done"]
        moves: list[tuple[int, str]] = []
        at = created
        for state in path[1:]:
            at += int(rng.uniform(0.2, 3.0) * MS_PER_DAY) if n != 2 else int(0.1 * MS_PER_DAY)
            if at >= horizon:
                break
            moves.append((at, state))
        moves = [(when, state) for when, state in moves if when < anchor_ms]
        entries = []
        previous = path[0]
        for k, (when, state) in enumerate(moves):
            entries.append({"id": linear_id("history", n, k), "createdAt": _ts(when),
                            "fromStateId": self.state[previous]["id"], "toStateId": self.state[state]["id"],
                            "fromEstimate": None, "toEstimate": None, "fromCycleId": None, "toCycleId": None,
                            "fromProjectId": None, "toProjectId": None, "fromParentId": None, "toParentId": None})
            previous = state
        current = self.state[previous]
        times = {name: when for when, name in moves}
        updated = moves[-1][0] if moves else created
        cycle = next((c for c in self.cycles if parse_ms(c["startsAt"]) <= updated < parse_ms(c["endsAt"])), None)
        estimate, priority = float(rng.choice((1, 2, 3, 5))), float(rng.randint(0, 4))
        if created >= anchor_ms:
            return  # not yet created at the cut (drawn all the same, so later issues draw what they did)
        self.history[issue_id] = entries
        self.issues.append({
            "id": issue_id, "identifier": f"{TEAM_KEY}-{n}", "title": f"Mobile issue {n}",
            "url": f"https://linear.app/acme/issue/{TEAM_KEY}-{n}", "createdAt": _ts(created),
            "updatedAt": _ts(updated),
            "archivedAt": None, "startedAt": _ts(times["In Progress"]) if "In Progress" in times else None,
            "completedAt": _ts(times["Done"]) if "Done" in times else None,
            "canceledAt": _ts(times["Canceled"]) if "Canceled" in times else None,
            "estimate": estimate, "priority": priority,
            "state": {"id": current["id"], "name": current["name"], "type": current["type"]},
            "team": team, "cycle": {"id": cycle["id"]} if cycle else None,
            "project": {"id": self.projects[n % 2]["id"]} if n % 3 else None, "parent": None,
            "assignee": {"id": linear_id("user", n % 4),
                         "name": ("Sam Park", "Tea Horvat", "Uma Rao", "Vic Ode")[n % 4]},
            "labels": [{"id": linear_id("label", "bug"), "name": "Bug"}] if n % 4 == 0 else
                      [{"id": linear_id("label", "feature"), "name": "Feature"}],
        })


def connection(items: list[dict], variables: dict, default: int = 50) -> dict:
    """One page of a connection: `first`/`after` over ``items`` (the cursor is an opaque offset)."""
    first = variables.get("first") or default
    if not isinstance(first, int) or not 0 < first <= MAX_FIRST:
        raise GraphQLError(f"Argument 'first' must be between 1 and {MAX_FIRST}", "INVALID_INPUT")
    offset = 0
    if variables.get("after"):
        try:
            offset = int(json.loads(base64.b64decode(variables["after"]))["o"])
        except (ValueError, KeyError, TypeError):
            raise GraphQLError("Invalid cursor", "INVALID_INPUT") from None
    page = items[offset:offset + first]
    end = offset + len(page)
    cursor = base64.b64encode(json.dumps({"o": end}).encode()).decode() if page else None
    return {"nodes": page, "pageInfo": {"hasNextPage": end < len(items), "endCursor": cursor}}


class GraphQLError(Exception):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def answer(world: LinearWorld, query: str, variables: dict) -> dict:
    """The `data` of the connector's query ``query`` with ``variables`` (GraphQLError for what Linear refuses)."""
    found = _OPERATION.search(query or "")
    operation = found.group(1) if found else None
    firsts = {name: int(n) for name, n in _FIRST_OF.findall(query)}
    teams = variables.get("teams")
    if operation == "Issues":
        since = variables.get("since")
        issues = [i for i in world.issues if (since is None or parse_ms(i["updatedAt"]) >= parse_ms(since))
                  and (teams is None or i["team"]["key"] in teams)]
        issues.sort(key=lambda i: (i["updatedAt"], i["id"]), reverse=True)
        page = connection(issues, variables)
        page["nodes"] = [_issue_node(world, i, firsts) for i in page["nodes"]]
        return {"issues": page}
    if operation == "IssueHistory":
        history = world.history.get(variables.get("id") or "")
        if history is None:
            raise GraphQLError("Entity not found: Issue", "ENTITY_NOT_FOUND")
        page = connection(history, variables)
        page["nodes"] = [{**h, "issue": {"id": variables["id"]}} for h in page["nodes"]]
        return {"issue": {"history": page}}
    if operation == "Check":
        return {"viewer": {"id": linear_id("user", "viewer")}, "teams": connection([world.team], {})}
    lists = {"Teams": ("teams", [world.team]), "WorkflowStates": ("workflowStates", world.states),
             "Cycles": ("cycles", [c for c in world.cycles if teams is None or c["team"]["key"] in teams]),
             "Projects": ("projects", world.projects)}
    if operation in lists:
        name, items = lists[operation]
        return {name: connection(items, variables)}
    raise GraphQLError(f"Unknown operation {operation!r}: the simulator answers the connector's queries only",
                       "GRAPHQL_VALIDATION_FAILED")


def _issue_node(world: LinearWorld, issue: dict, firsts: dict[str, int]) -> dict:
    labels = issue["labels"][:firsts.get("labels", 50)]
    node = {**issue, "labels": {"nodes": labels, "pageInfo": {"hasNextPage": False, "endCursor": None}}}
    node["history"] = connection(world.history[issue["id"]], {"first": firsts.get("history", 50)})
    return node


class LinearApi(MountedApi):
    PREFIX = "linear"

    def __init__(self, org: Org, *, tokens: set[str] | list[str] | None = None,
                 requests_per_hour: int | None = None):
        self.org = org
        self.tokens = set(tokens) if tokens is not None else None
        self.requests_per_hour = requests_per_hour
        self.used = 0
        self._world: LinearWorld | None = None

    @property
    def world(self) -> LinearWorld:
        """Built on first use (a benchmark that never asks Linear pays nothing)."""
        if self._world is None:
            self._world = LinearWorld(*history_window_ms(self.org), cut_ms=self.org.cut_ms)
        return self._world

    def _limits(self) -> dict[str, str]:
        limit = self.requests_per_hour or 5000
        reset = (int(time.time() * 1000) // MS_PER_HOUR + 1) * MS_PER_HOUR
        return {"X-RateLimit-Requests-Limit": str(limit),
                "X-RateLimit-Requests-Remaining": str(max(0, limit - self.used)),
                "X-RateLimit-Requests-Reset": str(reset)}

    def serve(self, req: Request) -> Response:
        if req.method != "POST" or req.path.rstrip("/") != "/graphql":
            return Response(404, {"errors": [{"message": "Not found", "extensions": {"code": "NOT_FOUND"}}]})
        if self.tokens is not None and (req.headers.get("Authorization") or "") not in self.tokens:
            return _errors(400, "Authentication required, not authenticated", "AUTHENTICATION_ERROR")
        self.used += 1
        if self.requests_per_hour is not None and self.used > self.requests_per_hour:
            response = _errors(400, "Rate limit exceeded", "RATELIMITED")
            response.headers.update(self._limits())
            return response
        try:
            body = json.loads(req.body or b"null")
            data = answer(self.world, body.get("query", ""), body.get("variables") or {})
        except GraphQLError as exc:
            return _errors(400, str(exc), exc.code)
        except (ValueError, AttributeError):
            return _errors(400, "POST body missing, invalid Content-Type, or JSON object has no keys.",
                           "BAD_USER_INPUT")
        return Response(200, {"data": data}, {**self._limits(), "X-Complexity": "1"})

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return _errors(400, "Authentication required, not authenticated", "AUTHENTICATION_ERROR")
        if fault.kind == "rate_limit":
            response = _errors(int(fault.opts.get("status", 400)), "Rate limit exceeded", "RATELIMITED")
            response.headers.update({**self._limits(), "X-RateLimit-Requests-Remaining": "0"})
            return response
        return None


def _errors(status: int, message: str, code: str) -> Response:
    return Response(status, {"errors": [{"message": message, "extensions": {"code": code}}]})
