"""Jira Cloud REST v3 (and the agile API, and a Data Center style v2 search) over an Org.

Shapes follow Atlassian's OpenAPI description (../shared/reference) and the recorded real objects in
../shared/fixtures/devlake/jira. Deliberate behaviours a connector must cope with, as on Jira Cloud:
  * ``/search/jql`` returns ``id``, ``key`` and ``self`` only unless ``fields`` asks for more; it has no
    ``total``; it refuses unbounded JQL; page size is capped (``max_page_size``) whatever is asked.
  * ``expand=changelog`` embeds at most ``changelog_embed_limit`` histories. Jira sorts the embedded
    histories newest first (the recorded DevLake issues show this, and Atlassian documents "sorted by date,
    starting from the most recent"), so a truncated embed holds the most RECENT ones and the oldest must be
    paged from ``/issue/{id}/changelog``, which is oldest first. ``changelog_embed_order="oldest_first"``
    flips the embed for clients written against the other assumption.
  * JQL date literals are in the user's time zone (see jql.py).
  * the deprecated ``/rest/api/3/search`` answers 410 Gone, as it does on Cloud since its removal.
Credentials (``tokens``): Basic auth passes if its password (the API token) or its whole ``email:token``
is accepted; Bearer passes if the token is. None accepts anything, even no credentials (the demo's default).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import simulator.jql as jql  # not `from . import jql`: that imports the package, whose __init__ imports us
from connectors.kit.faults import Fault
from connectors.kit.http import ApiError, Request, Response, Router, retry_after_value

from .api import MountedApi
from .model import Org
from .timefmt import parse_ms

_REMOVED_SEARCH = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration "
    "guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)


def error_body(*messages: str, errors: dict | None = None) -> dict:
    return {"errorMessages": list(messages), "errors": errors or {}}


class JiraApi(MountedApi):
    """Options: ``tokens`` (accepted secrets, None: anything), ``changelog_embed_limit`` (most histories embedded
    by ``expand=changelog``; Jira Cloud: 100), ``changelog_embed_order`` ("newest_first", Jira Cloud's, or
    "oldest_first"), ``max_page_size`` (cap on search ``maxResults``), ``time_zone`` (the calling user's zone
    for JQL dates, ``/myself``; None keeps the Org's)."""

    PREFIX = "jira"
    SHORTHANDS = {"jira_tokens": "tokens", "changelog_embed_limit": "changelog_embed_limit",
                  "changelog_embed_order": "changelog_embed_order", "max_page_size": "max_page_size",
                  "jira_time_zone": "time_zone"}

    def __init__(self, org: Org, *, tokens: Iterable[str] | None = None, changelog_embed_limit: int = 100,
                 max_page_size: int = 100, changelog_embed_order: str = "newest_first", time_zone: str | None = None):
        if changelog_embed_order not in ("newest_first", "oldest_first"):
            raise ValueError("changelog_embed_order is newest_first or oldest_first")
        self.org = org
        if time_zone is not None:
            org.jira_myself["timeZone"] = time_zone
        self.tokens = set(tokens) if tokens is not None else None
        self.changelog_embed_limit = changelog_embed_limit
        self.max_page_size = max_page_size
        self.changelog_embed_order = changelog_embed_order
        r = self.router = Router()
        r.add("GET", "/rest/api/3/search/jql", self.search_jql)
        r.add("POST", "/rest/api/3/search/jql", self.search_jql)
        r.add("GET", "/rest/api/3/search", self.search_removed)
        r.add("POST", "/rest/api/3/search", self.search_removed)
        r.add("GET", "/rest/api/2/search", self.search_offset)
        r.add("POST", "/rest/api/2/search", self.search_offset)
        for v in ("2", "3"):
            r.add("GET", f"/rest/api/{v}/issue/{{id_or_key}}/changelog", self.changelog)
            r.add("GET", f"/rest/api/{v}/issue/{{id_or_key}}", self.issue)
            r.add("GET", f"/rest/api/{v}/status", self.statuses)
            r.add("GET", f"/rest/api/{v}/field", self.fields)
            r.add("GET", f"/rest/api/{v}/project/search", self.project_search)
            r.add("GET", f"/rest/api/{v}/project", self.projects)
            r.add("GET", f"/rest/api/{v}/project/{{id_or_key}}", self.project)
            r.add("GET", f"/rest/api/{v}/myself", self.myself)
            r.add("GET", f"/rest/api/{v}/serverInfo", self.server_info)
        r.add("POST", "/rest/api/3/changelog/bulkfetch", self.changelog_bulkfetch)
        r.add("GET", "/rest/agile/1.0/board", self.boards)
        r.add("GET", "/rest/agile/1.0/board/{board_id}/sprint", self.sprints)

    # ------------------------------------------------------------------ front door

    def serve(self, req: Request) -> Response:
        if not self._authorized(req.headers.get("Authorization")):
            return self.error_response(401, "Client must be authenticated to access this resource.",
                                       {"WWW-Authenticate": 'Basic realm="protected-area"'})
        found = self.router.resolve(req.method, req.path)
        if found is None:
            raise ApiError(404, "null for uri: " + req.base_url + req.path)
        handler, req.params = found
        return handler(req)

    def error_response(self, status: int, message: str, headers: dict[str, str]) -> Response:
        return Response(status, error_body(message), dict(headers))

    def fault_response(self, fault: Fault, req: Request) -> Response | None:
        if fault.kind == "unauthorized":
            return self.error_response(401, "Client must be authenticated to access this resource.", {})
        if fault.kind == "server_error" and int(fault.opts.get("status", 500)) == 500:
            return self.error_response(500, "Internal server error", {})
        if fault.kind == "rate_limit":
            retry_after = fault.opts.get("retry_after", 1)
            headers: dict[str, str] = {}
            if retry_after is not None:
                headers["Retry-After"] = retry_after_value(retry_after)
            wait = float(fault.opts.get("reset_seconds", retry_after if retry_after is not None else 60.0))
            reset = datetime.fromtimestamp(time.time() + wait, tz=timezone.utc)
            headers.update({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%MZ"),
                            "RateLimit-Reason": "jira-burst-based"})
            return self.error_response(int(fault.opts.get("status", 429)), "Rate limit exceeded.", headers)
        return None

    def _authorized(self, header: str | None) -> bool:
        if self.tokens is None:
            return True
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() in self.tokens
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip()).decode()
            except Exception:  # noqa: BLE001
                return False
            _email, _, secret = decoded.partition(":")
            return secret in self.tokens or decoded in self.tokens
        return False

    # ------------------------------------------------------------------ search

    def _search_params(self, req: Request) -> dict[str, Any]:
        """GET query parameters and POST bodies in one shape."""
        if req.method == "POST":
            body = req.json()
            fields = body.get("fields")
            expand = body.get("expand")
            return {
                "jql": body.get("jql") or "",
                "token": body.get("nextPageToken"),
                "max": body.get("maxResults"),
                "start": body.get("startAt"),
                "fields": [f.strip() for f in fields] if isinstance(fields, list) else _split(fields),
                "expand": _split(",".join(expand) if isinstance(expand, list) else expand),
            }
        fields = [f.strip() for raw in req.args("fields") for f in raw.split(",") if f.strip()]
        return {
            "jql": req.arg("jql") or "",
            "token": req.arg("nextPageToken"),
            "max": req.arg("maxResults"),
            "start": req.arg("startAt"),
            "fields": fields if req.args("fields") else None,
            "expand": _split(",".join(req.args("expand"))),
        }

    def _parse(self, text: str) -> jql.Query:
        try:
            return jql.parse(text, self.org, self.org.jira_myself["timeZone"], int(time.time() * 1000))
        except jql.JqlError as exc:
            raise ApiError(400, str(exc)) from None

    def _page_size(self, raw: Any, default: int) -> int:
        if raw is None or raw == "":
            return min(default, self.max_page_size)
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ApiError(400, f"The value '{raw}' is invalid for maxResults.") from None
        if value < 0:
            raise ApiError(400, "maxResults must not be negative.")
        return min(value, self.max_page_size)

    def search_jql(self, req: Request) -> Response:
        p = self._search_params(req)
        query = self._parse(p["jql"])
        if not query.bounded:
            raise ApiError(400, "Unbounded JQL queries are not allowed here. Please add a search restriction to "
                                "your query.")
        limit = self._page_size(p["max"], 50)
        try:
            after = jql.decode_token(p["token"], query) if p["token"] else None
        except jql.JqlError as exc:
            raise ApiError(400, str(exc)) from None
        with self.org.lock:
            # One row beyond the page tells whether another page exists, without counting the rest.
            rows = list(itertools.islice(jql.iterate(self.org, query, after), limit + 1))
            more = len(rows) > limit and limit > 0
            rows = rows[:limit]
            issues = [self._render(row[3], p["fields"], p["expand"], default_all=False) for row in rows]
        body: dict[str, Any] = {"issues": issues}
        if more:
            body["nextPageToken"] = jql.encode_token(rows[-1], query)
        body["isLast"] = not more
        return Response(200, body)

    def search_removed(self, req: Request) -> Response:
        raise ApiError(410, _REMOVED_SEARCH)

    def search_offset(self, req: Request) -> Response:
        """Data Center's /rest/api/2/search: startAt/maxResults/total; fields default to all."""
        p = self._search_params(req)
        query = self._parse(p["jql"])
        limit = self._page_size(p["max"], 50)
        try:
            start = max(0, int(p["start"] or 0))
        except (TypeError, ValueError):
            raise ApiError(400, f"The value '{p['start']}' is invalid for startAt.") from None
        with self.org.lock:
            total = jql.count(self.org, query)
            rows = jql.offset_page(self.org, query, start, limit)
            issues = [self._render(row[3], p["fields"], p["expand"], default_all=True) for row in rows]
        return Response(200, {"expand": "schema,names", "startAt": start, "maxResults": limit, "total": total,
                              "issues": issues})

    def _render(self, issue_id: str, fields: list[str] | None, expand: list[str], *, default_all: bool) -> dict:
        issue = self.org.jira_issues[issue_id]
        want_changelog = "changelog" in expand
        if fields is None:
            fields = ["*navigable"] if default_all else []
        include_all = "*all" in fields or "*navigable" in fields
        excluded = {f[1:] for f in fields if f.startswith("-")}
        named = [f for f in fields if f and not f.startswith(("-", "*")) and f not in ("id", "key")]
        if not include_all and not named:
            out = {"id": issue["id"], "key": issue["key"], "self": issue["self"]}
        elif include_all and not excluded and not want_changelog:
            return issue  # the stored dict is already exactly the answer
        else:
            stored = issue["fields"]
            if include_all:
                selected = {k: v for k, v in stored.items() if k not in excluded} if excluded else stored
            else:
                selected = {k: stored[k] for k in named if k in stored and k not in excluded}
            out = {"expand": issue["expand"], "id": issue["id"], "self": issue["self"], "key": issue["key"],
                   "fields": selected}
        if want_changelog:
            histories = self.org.jira_changelogs.get(issue_id, [])
            total = len(histories)
            n = min(total, self.changelog_embed_limit)
            if self.changelog_embed_order == "newest_first":
                embedded = histories[::-1][:n] if n else []
            else:
                embedded = histories[:n]
            out["changelog"] = {"startAt": 0, "maxResults": n, "total": total, "histories": embedded}
        return out

    # ------------------------------------------------------------------ single issue and changelogs

    def _issue_or_404(self, id_or_key: str) -> dict:
        try:
            return self.org.jira_issue(id_or_key)
        except KeyError:
            raise ApiError(404, "Issue does not exist or you do not have permission to see it.") from None

    def issue(self, req: Request) -> Response:
        with self.org.lock:
            issue = self._issue_or_404(req.params["id_or_key"])
            fields = [f.strip() for raw in req.args("fields") for f in raw.split(",") if f.strip()] or None
            return Response(200, self._render(issue["id"], fields, _split(",".join(req.args("expand"))),
                                              default_all=True))

    def changelog(self, req: Request) -> Response:
        start = req.int_arg("startAt", 0, minimum=0, strict=True)
        size = req.int_arg("maxResults", 100, minimum=1, maximum=100, strict=True)
        with self.org.lock:
            issue = self._issue_or_404(req.params["id_or_key"])
            histories = self.org.jira_changelogs.get(issue["id"], [])
            values = histories[start:start + size]
            total = len(histories)
        base = f"{req.base_url}{req.path}"
        body: dict[str, Any] = {"self": f"{base}?maxResults={size}&startAt={start}"}
        if start + size < total:
            body["nextPage"] = f"{base}?maxResults={size}&startAt={start + size}"
        body.update(maxResults=size, startAt=start, total=total, isLast=start + size >= total, values=values)
        return Response(200, body)

    def changelog_bulkfetch(self, req: Request) -> Response:
        body = req.json()
        wanted = body.get("issueIdsOrKeys")
        if not isinstance(wanted, list) or not wanted or len(wanted) > 1000:
            raise ApiError(400, "issueIdsOrKeys must list between 1 and 1000 issue ids or keys.")
        field_ids = body.get("fieldIds") or []
        if len(field_ids) > 10:
            raise ApiError(400, "fieldIds must list at most 10 field ids.")
        limit = body.get("maxResults", 1000)
        if not isinstance(limit, int) or not 1 <= limit <= 10000:
            raise ApiError(400, "maxResults must be between 1 and 10000.")
        fingerprint = _fingerprint(wanted, field_ids)
        start = 0
        if body.get("nextPageToken"):
            try:
                start, fp = json.loads(base64.urlsafe_b64decode(body["nextPageToken"].encode()))
                if fp != fingerprint or not isinstance(start, int) or start < 0:
                    raise ValueError
            except Exception:  # noqa: BLE001 - one answer for every bad token
                raise ApiError(400, "The provided next page token is invalid or expired.") from None
        keep = set(field_ids)
        with self.org.lock:
            ids = set()
            for ref in wanted:
                try:
                    ids.add(self.org.jira_issue(str(ref))["id"])
                except KeyError:
                    continue  # issues the caller cannot see are left out, not an error
            # As Jira documents: "sorted by changelog date and issue IDs, starting from the oldest changelog
            # and smallest issue ID" (one issue's histories of equal date stay in their own order).
            entries = []
            for issue_id in ids:
                for pos, h in enumerate(self.org.jira_changelogs.get(issue_id, [])):
                    if keep:
                        items = [i for i in h["items"] if i.get("fieldId") in keep]
                        if not items:
                            continue
                        h = {**h, "items": items}
                    entries.append((parse_ms(h["created"]), int(issue_id), pos, issue_id, h))
        entries.sort(key=lambda e: e[:3])
        page = entries[start:start + limit]
        out: list[dict] = []
        for _, _, _, issue_id, h in page:
            # Consecutive histories of one issue share a group; the same issue may come again later.
            if out and out[-1]["issueId"] == issue_id:
                out[-1]["changeHistories"].append(h)
            else:
                out.append({"issueId": issue_id, "changeHistories": [h]})
        result: dict[str, Any] = {"issueChangeLogs": out}
        if start + limit < len(entries):
            result["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps([start + limit, fingerprint]).encode()).decode()
        return Response(200, result)

    # ------------------------------------------------------------------ reference data

    def statuses(self, req: Request) -> Response:
        return Response(200, self.org.jira_statuses)

    def fields(self, req: Request) -> Response:
        return Response(200, self.org.jira_fields)

    def projects(self, req: Request) -> Response:
        return Response(200, list(self.org.jira_projects.values()))

    def project(self, req: Request) -> Response:
        wanted = req.params["id_or_key"]
        for project in self.org.jira_projects.values():
            if wanted in (project["key"], project["id"]):
                return Response(200, project)
        raise ApiError(404, f"No project could be found with key '{wanted}'.")

    def project_search(self, req: Request) -> Response:
        start = req.int_arg("startAt", 0, minimum=0, strict=True)
        size = req.int_arg("maxResults", 50, minimum=1, maximum=100, strict=True)
        projects = sorted(self.org.jira_projects.values(), key=lambda p: p["key"])
        keys = {k.strip() for raw in req.args("keys") for k in raw.split(",") if k.strip()}
        if keys:
            projects = [p for p in projects if p["key"] in keys or p["id"] in keys]
        text = (req.arg("query") or "").lower()
        if text:
            projects = [p for p in projects if text in p["key"].lower() or text in p["name"].lower()]
        return Response(200, _offset_page(req, projects, start, size, with_total=True))

    def myself(self, req: Request) -> Response:
        return Response(200, self.org.jira_myself)

    def server_info(self, req: Request) -> Response:
        return Response(200, {
            "baseUrl": req.base_url,
            "displayUrl": req.base_url,
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100283,
            "serverTitle": "Jira",
            "defaultLocale": {"locale": "en_US"},
            "serverTimeZone": "Etc/UTC",
        })

    def boards(self, req: Request) -> Response:
        start = req.int_arg("startAt", 0, minimum=0, strict=True)
        size = req.int_arg("maxResults", 50, minimum=1, maximum=50, strict=True)
        boards = self.org.jira_boards
        project = req.arg("projectKeyOrId")
        if project:
            boards = [b for b in boards if project in (b["location"]["projectKey"], str(b["location"]["projectId"]))]
        board_type = req.arg("type")
        if board_type:
            boards = [b for b in boards if b["type"] in board_type.split(",")]
        return Response(200, _offset_page(req, boards, start, size, with_total=True))

    def sprints(self, req: Request) -> Response:
        try:
            sprints = self.org.jira_sprints[int(req.params["board_id"])]
        except (KeyError, ValueError):
            raise ApiError(404, "Board does not exist or you do not have permission to see it.") from None
        state = req.arg("state")
        if state:
            sprints = [s for s in sprints if s["state"] in state.split(",")]
        start = req.int_arg("startAt", 0, minimum=0, strict=True)
        size = req.int_arg("maxResults", 50, minimum=1, maximum=50, strict=True)
        # The agile sprint list has no total: clients must follow isLast.
        return Response(200, _offset_page(req, sprints, start, size, with_total=False))


def _offset_page(req: Request, items: list, start: int, size: int, *, with_total: bool) -> dict[str, Any]:
    page = items[start:start + size]
    is_last = start + size >= len(items)
    body: dict[str, Any] = {"self": req.url_with(startAt=start, maxResults=size)}
    if not is_last:
        body["nextPage"] = req.url_with(startAt=start + size, maxResults=size)
    body.update(maxResults=size, startAt=start)
    if with_total:
        body["total"] = len(items)
    body.update(isLast=is_last, values=page)
    return body


def _split(raw: str | None) -> list[str]:
    if not raw:
        return []
    return [part.strip() for part in raw.split(",") if part.strip()]


def _fingerprint(wanted: list, field_ids: list) -> str:
    return hashlib.sha1(json.dumps([wanted, field_ids]).encode()).hexdigest()[:12]
