"""The synthetic organisation: Jira and GitHub objects stored exactly as the two APIs return them.

Every stored object is a plain dict in wire format, so a test can compare a raw table with the ground truth
by equality, and recorded real objects can be loaded beside generated ones. The HTTP layer only selects,
orders and wraps these dicts in page envelopes; it never re-shapes them.

Sharing: sub-objects that are the same for many records (a status, a project stub, a user, a repository,
a changelog item such as "To Do -> In Progress") are ONE dict referenced from every record, which keeps a
million issues in a few GB instead of tens. Consequence: to change one record, replace its sub-dict
(``issue["fields"]["status"] = org.jira_status("Done")``), never edit a shared one in place. The mutation
methods below do this for you and keep the serving indexes consistent; after editing dicts by hand, call
``org.invalidate()``.

Object URLs inside records (``self``, ``url``, ``html_url``) use fixed public-looking bases
(``https://acme.atlassian.net``, ``https://api.github.com``) whatever port the simulator listens on:
records stay byte-identical between runs and equal to the ground truth. Only page-level links (``nextPage``,
``Link`` headers) point at the running server, because clients must follow those.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .timefmt import as_ms, github_ts, jira_ts, parse_ms

JIRA_SITE = "https://acme.atlassian.net"
GITHUB_API = "https://api.github.com"
GITHUB_WEB = "https://github.com"

# Jira's fixed status categories (ids are Jira's own: 2 new, 4 indeterminate, 3 done).
_CATEGORY_DEFS = {
    "new": (2, "blue-gray", "To Do"),
    "indeterminate": (4, "yellow", "In Progress"),
    "done": (3, "green", "Done"),
}

_ISSUE_TYPE_DEFS = {
    # name: (id, hierarchyLevel, description)
    "Epic": ("10000", 1, "A big user story that needs to be broken down."),
    "Story": ("10001", 0, "Functionality or a feature expressed as a user goal."),
    "Task": ("10002", 0, "A small, distinct piece of work."),
    "Sub-task": ("10003", -1, "A small piece of work that's part of a larger task."),
    "Bug": ("10004", 0, "A problem or error."),
    "Initiative": ("10005", 2, "A large body of work that spans several epics."),
}
_PRIORITY_DEFS = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
_RESOLUTION_DEFS = {
    "Done": ("10000", "Work has been completed on this issue."),
    "Won't Do": ("10001", "This issue won't be actioned."),
    "Duplicate": ("10002", "The problem is a duplicate of an existing issue."),
}
STORY_POINTS_FIELD = "customfield_10016"
SPRINT_FIELD = "customfield_10020"
# Jira resolves an issue entering a done-category status with this resolution unless told otherwise.
_DEFAULT_RESOLUTION_FOR_STATUS = {"Won't Do": "Won't Do"}


def sha_of(*parts: object) -> str:
    """A deterministic git-looking sha: the same inputs give the same sha in every run."""
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


def node_id(prefix: str, ident: int) -> str:
    # Real node ids are opaque base64; clients must not parse them, so any stable string will do.
    return f"{prefix}_kwDO{ident:x}"


@dataclass(eq=False)
class RepoStore:
    """Everything the simulator knows about one GitHub repository, in wire format."""

    repo: dict
    pulls: dict[int, dict] = field(default_factory=dict)
    reviews: dict[int, list[dict]] = field(default_factory=dict)
    pr_commits: dict[int, list[dict]] = field(default_factory=dict)
    commits: list[dict] = field(default_factory=list)  # default branch, oldest first (linear history)
    tags: dict[str, str] = field(default_factory=dict)  # tag name -> commit sha
    deployments: dict[int, dict] = field(default_factory=dict)
    deployment_statuses: dict[int, list[dict]] = field(default_factory=dict)  # oldest first
    releases: dict[int, dict] = field(default_factory=dict)
    workflows: dict[int, dict] = field(default_factory=dict)
    runs: dict[int, dict] = field(default_factory=dict)
    jobs: dict[int, list[dict]] = field(default_factory=dict)  # only runs whose jobs were stored explicitly
    issues: dict[int, dict] = field(default_factory=dict)  # real issues (incidents); PRs live in `pulls`
    next_number: int = 1  # issues and pull requests share one number sequence, as on GitHub
    run_numbers: dict[int, int] = field(default_factory=dict)  # workflow id -> last run_number
    mini: dict | None = None  # the short repository object embedded in workflow runs

    @property
    def full_name(self) -> str:
        return self.repo["full_name"]


class Org:
    """A Jira site plus a GitHub organisation, in memory, in wire format.

    Attributes most tests read (all wire-format dicts):
      jira_statuses (list), jira_fields (list), jira_projects (key -> project), jira_issues (id -> issue,
      without its changelog), jira_changelogs (issue id -> histories, oldest first), jira_boards (list),
      jira_sprints (board id -> sprints), jira_myself; github_orgs (login -> org), repos (full_name ->
      RepoStore).
    """

    def __init__(
        self,
        *,
        jira_site: str = JIRA_SITE,
        github_api: str = GITHUB_API,
        github_web: str = GITHUB_WEB,
        jira_time_zone: str = "America/New_York",
    ):
        # One lock for data and indexes: the server holds it while it answers, tests while they mutate.
        self.lock = threading.RLock()
        self.jira_site = jira_site
        self.github_api = github_api
        self.github_web = github_web
        self.jira_statuses: list[dict] = []
        self.jira_fields: list[dict] = _default_fields()
        self.jira_projects: dict[str, dict] = {}
        self.jira_issue_types: dict[str, dict] = {}
        self.jira_priorities: dict[str, dict] = {}
        self.jira_resolutions: dict[str, dict] = {}
        self.jira_users: dict[str, dict] = {}
        self.jira_issues: dict[str, dict] = {}
        self.jira_changelogs: dict[str, list[dict]] = {}
        self.jira_boards: list[dict] = []
        self.jira_sprints: dict[int, list[dict]] = {}
        self.jira_myself = {
            "self": f"{jira_site}/rest/api/3/user?accountId=5b10ac8d82e05b22cc7d4ef5",
            "accountId": "5b10ac8d82e05b22cc7d4ef5",
            "accountType": "atlassian",
            "emailAddress": "demo@example.com",
            "displayName": "Throughline Demo",
            "active": True,
            "timeZone": jira_time_zone,
            "locale": "en_US",
        }
        self.github_orgs: dict[str, dict] = {}
        self.repos: dict[str, RepoStore] = {}
        # Old full name -> new one: GitHub answers the old name with 301 to the new one (github_rename_repo).
        self.github_renamed: dict[str, str] = {}
        # Jobs of runs that were not stored explicitly are derived on demand (see github_jobs): a million
        # runs' jobs would otherwise dominate memory, and nobody reads most of them.
        self.github_job_factory: Callable[[RepoStore, dict], list[dict]] | None = None
        # Full name -> the orderings the GitHub endpoints serve from (github_api.RepoIndex), built on first
        # use; a mutation of the repository drops its entry.
        self.repo_indexes: dict[str, Any] = {}
        # What the generator planted on purpose (a review bottleneck, a WIP surge, a change-fail-rate spike,
        # KPI steps after given epics shipped, ...) as plain data the tests read; empty for hand-made orgs.
        self.planted: dict[str, Any] = {}
        # Business outcomes of the organisation, per outcomes-source kind (kpis, key_results,
        # key_result_values, surveys): rows as a file would hold them (simulator/outcomes.py).
        self.outcomes: dict[str, list[dict[str, Any]]] = {}
        # Epoch ms the history was cut at when it was generated past its as-of day (simulator/cut.py): the
        # worlds laid out beside the Org (Azure DevOps, Linear) cut theirs there too. None: not cut.
        self.cut_ms: int | None = None
        # The same world uncut (to its horizon), for APIs that number what they derive in derivation order.
        self.horizon_org: Org | None = None

        self._key_to_id: dict[str, str] = {}
        self._project_issue_ids: dict[str, list[str]] = {}
        self._project_next_number: dict[str, int] = {}
        self._jira_index: dict[str, list[tuple[int, int, str]]] = {}
        self._jira_dirty: set[str] = set()
        self._status_by_name: dict[str, dict] = {}
        self._status_by_id: dict[str, dict] = {}
        self._status_items: dict[tuple[str | None, str], dict] = {}
        self._parent_stubs: dict[str, dict] = {}
        self._gh_users: dict[str, dict] = {}
        self._repos_by_id: dict[int, RepoStore] = {}
        self._counters: dict[str, int] = {
            "jira_issue": 10000,
            "jira_history": 100000,
            "jira_project": 9999,
            "jira_board": 0,
            "jira_sprint": 0,
            "jira_issue_link": 10100,
            "gh_user": 90000000,
            "gh_repo": 700000000,
            "pull": 1900000000,
            "review": 2100000000,
            "deployment": 1400000000,
            "deployment_status": 3300000000,
            "release": 150000000,
            "workflow": 60000000,
            "run": 9100000000,
            "check_suite": 24000000000,
            "issue": 2400000000,
            "label": 5100000000,
        }
        self._labels: dict[tuple[str, str], dict] = {}
        self._project_stubs: dict[str, dict] = {}
        self._identities: dict[str, dict] = {}
        self._components: dict[tuple[str, str], dict] = {}
        self._automation_user: dict | None = None
        for name in _ISSUE_TYPE_DEFS:
            self._issue_type(name)
        for name in _PRIORITY_DEFS:
            self._priority(name)
        for name in _RESOLUTION_DEFS:
            self._resolution(name)

    # ------------------------------------------------------------------ ids and shared dicts

    def next_id(self, kind: str, explicit: int | str | None = None) -> int:
        """Next id of a kind, always above every id used so far (explicit ids move the counter too)."""
        if explicit is not None:
            value = int(explicit)
            if value > self._counters[kind]:
                self._counters[kind] = value
            return value
        self._counters[kind] += 1
        return self._counters[kind]

    def _issue_type(self, name: str) -> dict:
        found = self.jira_issue_types.get(name)
        if found is None:
            ident, level, description = _ISSUE_TYPE_DEFS.get(name, (str(10100 + len(self.jira_issue_types)), 0, ""))
            found = {
                "self": f"{self.jira_site}/rest/api/3/issuetype/{ident}",
                "id": ident,
                "description": description,
                "iconUrl": f"{self.jira_site}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{ident}",
                "name": name,
                "subtask": level < 0,
                "avatarId": int(ident),
                "hierarchyLevel": level,
            }
            self.jira_issue_types[name] = found
        return found

    def _priority(self, name: str) -> dict:
        found = self.jira_priorities.get(name)
        if found is None:
            ident = _PRIORITY_DEFS.get(name, str(10 + len(self.jira_priorities)))
            found = {
                "self": f"{self.jira_site}/rest/api/3/priority/{ident}",
                "iconUrl": f"{self.jira_site}/images/icons/priorities/{name.lower()}.svg",
                "name": name,
                "id": ident,
            }
            self.jira_priorities[name] = found
        return found

    def _resolution(self, name: str) -> dict:
        found = self.jira_resolutions.get(name)
        if found is None:
            ident, description = _RESOLUTION_DEFS.get(name, (str(10100 + len(self.jira_resolutions)), ""))
            found = {
                "self": f"{self.jira_site}/rest/api/3/resolution/{ident}",
                "id": ident,
                "description": description,
                "name": name,
            }
            self.jira_resolutions[name] = found
        return found

    # ------------------------------------------------------------------ Jira: reference data

    def jira_add_status(self, name: str, category: str, status_id: int | str | None = None) -> dict:
        """Add a workflow status; ``category`` is one of new, indeterminate, done."""
        with self.lock:
            if category not in _CATEGORY_DEFS:
                raise ValueError(f"category must be one of {sorted(_CATEGORY_DEFS)}, not {category!r}")
            ident = str(status_id if status_id is not None else 10100 + len(self.jira_statuses))
            cat_id, color, cat_name = _CATEGORY_DEFS[category]
            status = {
                "self": f"{self.jira_site}/rest/api/3/status/{ident}",
                "description": "",
                "iconUrl": f"{self.jira_site}/images/icons/statuses/generic.png",
                "name": name,
                "untranslatedName": name,
                "id": ident,
                "statusCategory": {
                    "self": f"{self.jira_site}/rest/api/3/statuscategory/{cat_id}",
                    "id": cat_id,
                    "key": category,
                    "colorName": color,
                    "name": cat_name,
                },
            }
            self.jira_statuses.append(status)
            self._status_by_name[name] = status
            self._status_by_id[ident] = status
            return status

    def jira_status(self, name_or_id: str) -> dict:
        status = self._status_by_name.get(name_or_id) or self._status_by_id.get(str(name_or_id))
        if status is None:
            raise KeyError(f"no Jira status {name_or_id!r}; add it with jira_add_status")
        return status

    def jira_status_item(self, from_status: str | None, to_status: str) -> dict:
        """The changelog item of a status change; shared between all histories making the same move."""
        key = (from_status, to_status)
        item = self._status_items.get(key)
        if item is None:
            src = self.jira_status(from_status) if from_status is not None else None
            dst = self.jira_status(to_status)
            item = {
                "field": "status",
                "fieldtype": "jira",
                "fieldId": "status",
                "from": src["id"] if src else None,
                "fromString": src["name"] if src else None,
                "to": dst["id"],
                "toString": dst["name"],
            }
            self._status_items[key] = item
        return item

    def jira_add_project(self, key: str, name: str, project_id: int | str | None = None, *, board: bool = True) -> dict:
        """Add a project (and, by default, its scrum board)."""
        with self.lock:
            ident = str(self.next_id("jira_project", project_id))
            project = {
                "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                "self": f"{self.jira_site}/rest/api/3/project/{ident}",
                "id": ident,
                "key": key,
                "name": name,
                "avatarUrls": {"48x48": f"{self.jira_site}/rest/api/3/universal_avatar/view/type/project/avatar/10400"},
                "projectTypeKey": "software",
                "simplified": False,
                "style": "classic",
                "isPrivate": False,
                "properties": {},
            }
            self.jira_projects[key] = project
            self._project_issue_ids[key] = []
            self._project_next_number[key] = 1
            self._jira_dirty.add(key)
            if board:
                self.jira_add_board(key)
            return project

    def jira_project_stub(self, key: str) -> dict:
        """The project as it appears inside an issue's fields (one dict shared by all its issues)."""
        stub = self._project_stubs.get(key)
        if stub is None:
            project = self.jira_projects[key]
            stub = {
                "self": project["self"],
                "id": project["id"],
                "key": project["key"],
                "name": project["name"],
                "projectTypeKey": "software",
                "simplified": False,
                "avatarUrls": project["avatarUrls"],
            }
            self._project_stubs[key] = stub
        return stub

    def jira_add_board(self, project_key: str, name: str | None = None, board_id: int | None = None) -> dict:
        with self.lock:
            project = self.jira_projects[project_key]
            ident = self.next_id("jira_board", board_id)
            board = {
                "id": ident,
                "self": f"{self.jira_site}/rest/agile/1.0/board/{ident}",
                "name": name or f"{project_key} board",
                "type": "scrum",
                "location": {
                    "projectId": int(project["id"]),
                    "displayName": f"{project['name']} ({project_key})",
                    "projectName": project["name"],
                    "projectKey": project_key,
                    "projectTypeKey": "software",
                    "name": f"{project['name']} ({project_key})",
                },
            }
            self.jira_boards.append(board)
            self.jira_sprints[ident] = []
            return board

    def jira_add_sprint(
        self, board_id: int, name: str, start, end, state: str, *, complete=None, goal: str = "", sprint_id=None
    ) -> dict:
        """A sprint in the agile API's shape; ``sprint_field_value`` gives its shape inside an issue."""
        with self.lock:
            ident = self.next_id("jira_sprint", sprint_id)
            sprint = {
                "id": ident,
                "self": f"{self.jira_site}/rest/agile/1.0/sprint/{ident}",
                "state": state,
                "name": name,
                "startDate": _agile_ts(as_ms(start)),
                "endDate": _agile_ts(as_ms(end)),
                "createdDate": _agile_ts(as_ms(start) - 3 * 86_400_000),
                "originBoardId": board_id,
                "goal": goal,
            }
            if complete is not None:
                sprint["completeDate"] = _agile_ts(as_ms(complete))
            self.jira_sprints[board_id].append(sprint)
            return sprint

    @staticmethod
    def sprint_field_value(sprint: dict) -> dict:
        value = {
            "id": sprint["id"],
            "name": sprint["name"],
            "state": sprint["state"],
            "boardId": sprint["originBoardId"],
            "goal": sprint["goal"],
            "startDate": sprint["startDate"],
            "endDate": sprint["endDate"],
        }
        if "completeDate" in sprint:
            value["completeDate"] = sprint["completeDate"]
        return value

    def jira_add_user(self, display_name: str, account_id: str | None = None, email: str | None = None) -> dict:
        with self.lock:
            account_id = account_id or sha_of("jira-user", display_name)[:24]
            user = {
                "self": f"{self.jira_site}/rest/api/3/user?accountId={account_id}",
                "accountId": account_id,
                "displayName": display_name,
                "active": True,
                "timeZone": "Europe/London",
                "accountType": "atlassian",
            }
            if email:
                user["emailAddress"] = email
            self.jira_users[account_id] = user
            return user

    # ------------------------------------------------------------------ Jira: issues

    def jira_issue(self, key_or_id: str) -> dict:
        ident = self._key_to_id.get(key_or_id, key_or_id)
        try:
            return self.jira_issues[ident]
        except KeyError:
            raise KeyError(f"no Jira issue {key_or_id!r}") from None

    def jira_link_blocks(self, blocker: str, blocked: str) -> dict:
        """``blocker`` blocks ``blocked``: a "Blocks" issue link, shown on both issues' ``issuelinks`` as
        Jira shows it (the blocker's entry names the other issue as ``outwardIssue``, the blocked one's as
        ``inwardIssue``, each with its summary, status, priority and type). Returns the blocker's entry."""
        with self.lock:
            ident = str(self.next_id("jira_issue_link"))
            ends = [self.jira_issue(blocker), self.jira_issue(blocked)]
            link_type = {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks",
                         "self": f"{self.jira_site}/rest/api/3/issueLinkType/10000"}
            entries = []
            for issue, other, side in ((ends[0], ends[1], "outwardIssue"), (ends[1], ends[0], "inwardIssue")):
                f = other["fields"]
                stub = {"id": other["id"], "key": other["key"], "self": other["self"],
                        "fields": {"summary": f["summary"], "status": f["status"], "priority": f["priority"],
                                   "issuetype": f["issuetype"]}}
                entry = {"id": ident, "self": f"{self.jira_site}/rest/api/3/issueLink/{ident}", "type": link_type,
                         side: stub}
                issue["fields"].setdefault("issuelinks", []).append(entry)
                entries.append(entry)
            return entries[0]

    def jira_histories(self, key_or_id: str) -> list[dict]:
        return self.jira_changelogs[self.jira_issue(key_or_id)["id"]]

    def jira_create_issue(
        self,
        project_key: str,
        issue_type: str,
        summary: str,
        created,
        *,
        status: str | None = None,
        key: str | None = None,
        issue_id: int | str | None = None,
        priority: str = "Medium",
        labels: Iterable[str] = (),
        components: Iterable[str] = (),
        parent: str | None = None,
        story_points: float | None = None,
        assignee: dict | None = None,
        reporter: dict | None = None,
        sprints: Iterable[dict] = (),
    ) -> dict:
        """Create an issue as it is right after creation: no history, ``updated == created``.

        ``status`` defaults to the first status of category ``new``; ``parent`` is an epic's key.
        """
        with self.lock:
            created_ms = as_ms(created)
            if key is None:
                number = self._project_next_number[project_key]
                key = f"{project_key}-{number}"
            else:
                number = int(key.rsplit("-", 1)[1])
            self._project_next_number[project_key] = max(self._project_next_number[project_key], number + 1)
            ident = str(self.next_id("jira_issue", issue_id))
            if status is None:
                status = next(s["name"] for s in self.jira_statuses if s["statusCategory"]["key"] == "new")
            status_obj = self.jira_status(status)
            reporter = reporter or assignee
            fields = self.jira_issue_fields(
                project_key,
                issue_type,
                summary,
                created_ms,
                status_obj,
                priority=priority,
                labels=list(labels),
                components=list(components),
                parent=self._parent_stub(parent) if parent else None,
                story_points=story_points,
                assignee=assignee,
                reporter=reporter,
                sprints=[self.sprint_field_value(s) for s in sprints] or None,
            )
            issue = self.jira_issue_envelope(ident, key, fields)
            self.jira_put_issue(issue, [])
            return issue

    def jira_issue_fields(
        self,
        project_key: str,
        issue_type: str,
        summary: str,
        created_ms: int,
        status: dict,
        *,
        priority: str = "Medium",
        labels: list[str] | None = None,
        components: list[str] | None = None,
        parent: dict | None = None,
        story_points: float | None = None,
        assignee: dict | None = None,
        reporter: dict | None = None,
        sprints: list[dict] | None = None,
        updated_ms: int | None = None,
        resolution: str | None = None,
        resolution_ms: int | None = None,
        category_change_ms: int | None = None,
    ) -> dict:
        """An issue's ``fields`` in wire format; the generator calls this directly for speed."""
        created = jira_ts(created_ms)
        fields = {
            "summary": summary,
            "issuetype": self._issue_type(issue_type),
            "status": status,
            "project": self.jira_project_stub(project_key),
            "priority": self._priority(priority),
            "created": created,
            "updated": jira_ts(updated_ms) if updated_ms is not None else created,
            "resolution": self._resolution(resolution) if resolution else None,
            "resolutiondate": jira_ts(resolution_ms) if resolution_ms is not None else None,
            "statuscategorychangedate": jira_ts(category_change_ms) if category_change_ms is not None else created,
            "labels": labels or [],
            "components": [self._component(project_key, c) for c in components or ()],
            "assignee": assignee,
            "reporter": reporter,
            "creator": reporter,
            STORY_POINTS_FIELD: story_points,
            SPRINT_FIELD: sprints,
            "issuelinks": [],
        }
        if parent is not None:
            fields["parent"] = parent
        return fields

    def jira_issue_envelope(self, ident: str, key: str, fields: dict) -> dict:
        return {
            "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
            "id": ident,
            "self": f"{self.jira_site}/rest/api/3/issue/{ident}",
            "key": key,
            "fields": fields,
        }

    def _component(self, project_key: str, name: str) -> dict:
        table = self._components
        found = table.get((project_key, name))
        if found is None:
            ident = str(10000 + len(table))
            found = {"self": f"{self.jira_site}/rest/api/3/component/{ident}", "id": ident, "name": name}
            table[(project_key, name)] = found
        return found

    def _parent_stub(self, epic_key: str) -> dict:
        epic = self.jira_issue(epic_key)
        stub = self._parent_stubs.get(epic["id"])
        if stub is None:
            f = epic["fields"]
            stub = {
                "id": epic["id"],
                "key": epic["key"],
                "self": epic["self"],
                "fields": {
                    "summary": f["summary"],
                    "status": f["status"],
                    "priority": f["priority"],
                    "issuetype": f["issuetype"],
                },
            }
            self._parent_stubs[epic["id"]] = stub
        return stub

    def jira_parent_stub(self, epic_key: str) -> dict:
        """The ``parent`` value children of an epic carry; shared, and kept in step with the epic's status."""
        with self.lock:
            return self._parent_stub(epic_key)

    def jira_put_issue(self, issue: dict, histories: list[dict]) -> None:
        """Store (or replace) an issue and its full changelog; works for recorded real issues too."""
        with self.lock:
            ident = issue["id"]
            key = issue["key"]
            project_key = issue["fields"]["project"]["key"]
            old = self.jira_issues.get(ident)
            if old is None:
                self._project_issue_ids.setdefault(project_key, []).append(ident)
            else:
                self._unindex(old)
            self.jira_issues[ident] = issue
            self.jira_changelogs[ident] = histories
            self._key_to_id[key] = ident
            self._index_insert(issue)

    def jira_load_issue(self, raw: dict, histories: list[dict] | None = None) -> dict:
        """Store a recorded real issue (e.g. from a search with ``expand=changelog``) as it is.

        Its embedded changelog, if any, becomes the stored changelog (oldest first) unless ``histories``
        gives the complete one; its project is added from the issue's project stub if unknown.
        """
        with self.lock:
            issue = {k: v for k, v in raw.items() if k != "changelog"}
            if histories is None:
                histories = sorted((raw.get("changelog") or {}).get("histories", []),
                                   key=lambda h: (parse_ms(h["created"]), int(h["id"])))
            stub = issue["fields"]["project"]
            if stub["key"] not in self.jira_projects:
                self.jira_projects[stub["key"]] = dict(stub)
                self._project_stubs[stub["key"]] = stub
                self._project_next_number[stub["key"]] = 1
            number = int(issue["key"].rsplit("-", 1)[1])
            self._project_next_number[stub["key"]] = max(self._project_next_number[stub["key"]], number + 1)
            self.next_id("jira_issue", issue["id"])
            self.jira_put_issue(issue, histories)
            return issue

    def jira_load_status(self, raw: dict) -> dict:
        """Add a recorded real ``/status`` object as it is."""
        with self.lock:
            self.jira_statuses.append(raw)
            self._status_by_name[raw["name"]] = raw
            self._status_by_id[str(raw["id"])] = raw
            return raw

    def jira_delete_issue(self, key_or_id: str) -> None:
        """Delete an issue the way Jira does: it simply stops appearing in searches."""
        with self.lock:
            issue = self.jira_issue(key_or_id)
            ident = issue["id"]
            project_key = issue["fields"]["project"]["key"]
            self._unindex(issue)
            del self.jira_issues[ident]
            self.jira_changelogs.pop(ident, None)
            self._key_to_id.pop(issue["key"], None)
            self._project_issue_ids[project_key].remove(ident)

    def jira_history(self, ident: str, created_ms: int, items: list[dict], author: dict | None) -> dict:
        return {
            "id": ident,
            "author": author or self._system_author(),
            "created": jira_ts(created_ms),
            "items": items,
        }

    def _system_author(self) -> dict:
        author = self._automation_user
        if author is None:
            author = self.jira_add_user("Automation for Jira", account_id="557058:f58131cb-b67d-43c7-b30d-6b58d40bd077")
            author["accountType"] = "app"
            self._automation_user = author
        return author

    def jira_add_history(self, key: str, at, items: list[dict], *, author: dict | None = None) -> dict:
        """Append a history entry of arbitrary items and bump ``updated`` (e.g. a label edit)."""
        with self.lock:
            issue = self.jira_issue(key)
            at_ms = as_ms(at)
            history = self.jira_history(str(self.next_id("jira_history")), at_ms, items, author)
            self.jira_changelogs[issue["id"]].append(history)
            self._bump_updated(issue, at_ms)
            return history

    def jira_add_transition(self, key: str, to_status: str, at, *, author: dict | None = None,
                            resolution: str | None = None) -> dict:
        """Move an issue to ``to_status`` at ``at``, as a Jira user would: one changelog history, the status,
        the resolution (set on entering a done-category status, cleared on leaving it),
        ``statuscategorychangedate`` and ``updated`` all change together."""
        with self.lock:
            issue = self.jira_issue(key)
            fields = issue["fields"]
            at_ms = as_ms(at)
            old = fields["status"]
            new = self.jira_status(to_status)
            items = [self.jira_status_item(old["name"], new["name"])]
            old_cat, new_cat = old["statusCategory"]["key"], new["statusCategory"]["key"]
            if new_cat == "done" and old_cat != "done":
                res = self._resolution(resolution or _DEFAULT_RESOLUTION_FOR_STATUS.get(new["name"], "Done"))
                items.append(resolution_item(None, res))
                fields["resolution"] = res
                fields["resolutiondate"] = jira_ts(at_ms)
            elif old_cat == "done" and new_cat != "done":
                if fields.get("resolution"):
                    items.append(resolution_item(fields["resolution"], None))
                fields["resolution"] = None
                fields["resolutiondate"] = None
            if old_cat != new_cat:
                fields["statuscategorychangedate"] = jira_ts(at_ms)
            fields["status"] = new
            history = self.jira_history(str(self.next_id("jira_history")), at_ms, items, author)
            self.jira_changelogs[issue["id"]].append(history)
            stub = self._parent_stubs.get(issue["id"])
            if stub is not None:
                stub["fields"]["status"] = new
            self._bump_updated(issue, at_ms)
            return history

    def jira_touch(self, key: str, at) -> None:
        """Bump ``updated`` without a history entry (a comment, a worklog)."""
        with self.lock:
            self._bump_updated(self.jira_issue(key), as_ms(at))

    def _bump_updated(self, issue: dict, at_ms: int) -> None:
        if at_ms > parse_ms(issue["fields"]["updated"]):
            self._unindex(issue)
            issue["fields"]["updated"] = jira_ts(at_ms)
            self._index_insert(issue)

    # A built index is patched in place (one bisect and a list insert or delete): tests and benchmarks
    # that touch a few issues between runs must not pay for re-sorting a project of a million issues.
    # Anything the patch cannot follow marks the project dirty instead, for a rebuild on next use.

    @staticmethod
    def _index_row(issue: dict) -> tuple[int, int, str]:
        return (parse_ms(issue["fields"]["updated"]), int(issue["key"].rsplit("-", 1)[1]), issue["id"])

    def _index_insert(self, issue: dict) -> None:
        project_key = issue["fields"]["project"]["key"]
        index = self._jira_index.get(project_key)
        if index is None or project_key in self._jira_dirty:
            self._jira_dirty.add(project_key)
            return
        bisect.insort(index, self._index_row(issue))

    def _unindex(self, issue: dict) -> None:
        project_key = issue["fields"]["project"]["key"]
        index = self._jira_index.get(project_key)
        if index is None or project_key in self._jira_dirty:
            self._jira_dirty.add(project_key)
            return
        row = self._index_row(issue)
        pos = bisect.bisect_left(index, row)
        if pos < len(index) and index[pos] == row:
            del index[pos]
        else:
            self._jira_dirty.add(project_key)

    def jira_index(self, project_key: str) -> list[tuple[int, int, str]]:
        """(updated ms, key number, issue id) ascending: the order of ``ORDER BY updated ASC, key ASC``."""
        with self.lock:
            if project_key in self._jira_dirty or project_key not in self._jira_index:
                rows = []
                for ident in self._project_issue_ids.get(project_key, ()):
                    issue = self.jira_issues[ident]
                    rows.append((parse_ms(issue["fields"]["updated"]), int(issue["key"].rsplit("-", 1)[1]), ident))
                rows.sort()
                self._jira_index[project_key] = rows
                self._jira_dirty.discard(project_key)
            return self._jira_index[project_key]

    # ------------------------------------------------------------------ GitHub: reference data

    def github_user(self, login: str) -> dict:
        """A user as GitHub embeds it (``user``, ``creator``, ``actor``); one shared dict per login."""
        user = self._gh_users.get(login)
        if user is None:
            ident = self.next_id("gh_user")
            user = {
                "login": login,
                "id": ident,
                "node_id": node_id("U", ident),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{ident}?v=4",
                "gravatar_id": "",
                "url": f"{self.github_api}/users/{login}",
                "html_url": f"{self.github_web}/{login}",
                "type": "Bot" if login.endswith("[bot]") else "User",
                "site_admin": False,
            }
            self._gh_users[login] = user
        return user

    def github_add_org(self, login: str) -> dict:
        with self.lock:
            if login not in self.github_orgs:
                user = dict(self.github_user(login), type="Organization")
                self._gh_users[login] = user
                self.github_orgs[login] = user
            return self.github_orgs[login]

    def github_add_repo(self, full_name: str, *, default_branch: str = "main", archived: bool = False,
                        created_at="2024-03-01T10:00:00Z", description: str = "", language: str = "Python",
                        repo_id: int | None = None) -> RepoStore:
        with self.lock:
            owner_login, name = full_name.split("/")
            owner = self.github_add_org(owner_login)
            ident = self.next_id("gh_repo", repo_id)
            ts = github_ts(as_ms(created_at))
            api = f"{self.github_api}/repos/{full_name}"
            repo = {
                "id": ident,
                "node_id": node_id("R", ident),
                "name": name,
                "full_name": full_name,
                "private": True,
                "owner": owner,
                "html_url": f"{self.github_web}/{full_name}",
                "description": description,
                "fork": False,
                "url": api,
                "pulls_url": api + "/pulls{/number}",
                "deployments_url": api + "/deployments",
                "created_at": ts,
                "updated_at": ts,
                "pushed_at": ts,
                "homepage": None,
                "size": 1024,
                "language": language,
                "has_issues": True,
                "archived": archived,
                "disabled": False,
                "open_issues_count": 0,
                "license": None,
                "topics": [],
                "visibility": "private",
                "default_branch": default_branch,
                "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
            }
            store = RepoStore(repo=repo)
            self.repos[full_name] = store
            self._repos_by_id[ident] = store
            return store

    def github_rename_repo(self, old: str, new: str) -> RepoStore:
        """Rename a repository (same id) as GitHub does: new URLs, and the old name redirects for ever.

        Objects stored earlier (PRs, commits...) keep the URLs they were made with; GitHub would answer
        them with the new name, but nothing a connector keys on is in those URLs.
        """
        with self.lock:
            store = self.repos.pop(old)
            self._dirty_repo(store)
            api = f"{self.github_api}/repos/{new}"
            store.repo.update({
                "name": new.split("/", 1)[1], "full_name": new, "html_url": f"{self.github_web}/{new}",
                "url": api, "pulls_url": api + "/pulls{/number}", "deployments_url": api + "/deployments",
            })
            self.repos[new] = store
            self.github_renamed[old] = new
            return store

    def repo(self, full_name_or_id: str | int) -> RepoStore:
        if isinstance(full_name_or_id, int) or str(full_name_or_id).isdigit():
            return self._repos_by_id[int(full_name_or_id)]
        return self.repos[full_name_or_id]

    def _mini_repo(self, store: RepoStore) -> dict:
        """The short repository object embedded in workflow runs."""
        mini = store.mini
        if mini is None:
            r = store.repo
            mini = {k: r[k] for k in ("id", "node_id", "name", "full_name", "private", "owner", "html_url",
                                      "description", "fork", "url")}
            store.mini = mini
        return mini

    def _dirty_repo(self, store: RepoStore) -> None:
        self.repo_indexes.pop(store.full_name, None)

    def build_indexes(self) -> None:
        """Build the Jira search indexes now rather than on the first request that needs them (the GitHub
        ones: github_api.build_repo_indexes)."""
        with self.lock:
            for key in self.jira_projects:
                self.jira_index(key)

    def invalidate(self) -> None:
        """Rebuild every serving index on next use: call after editing stored dicts by hand."""
        with self.lock:
            self._jira_dirty.update(self._project_issue_ids)
            self.repo_indexes.clear()

    # ------------------------------------------------------------------ GitHub: commits

    def github_commit_dict(self, store: RepoStore, sha: str, message: str, author: dict, author_ms: int,
                           committer_ms: int, parents: list[str]) -> dict:
        full = store.full_name
        api = f"{self.github_api}/repos/{full}"
        name = author["login"]
        email = f"{author['id']}+{name}@users.noreply.github.com"
        return {
            "sha": sha,
            "node_id": node_id("C", int(sha[:12], 16)),
            "commit": {
                "author": {"name": name, "email": email, "date": github_ts(author_ms)},
                "committer": {"name": "GitHub", "email": "noreply@github.com", "date": github_ts(committer_ms)},
                "message": message,
                "tree": {"sha": sha_of("tree", sha), "url": f"{api}/git/trees/{sha_of('tree', sha)}"},
                "url": f"{api}/git/commits/{sha}",
                "comment_count": 0,
                "verification": _UNSIGNED,
            },
            "url": f"{api}/commits/{sha}",
            "html_url": f"{self.github_web}/{full}/commit/{sha}",
            "comments_url": f"{api}/commits/{sha}/comments",
            "author": author,
            "committer": self.github_user("web-flow"),
            "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{self.github_web}/{full}/commit/{p}"}
                        for p in parents],
        }

    def github_add_commit(self, full_name: str, message: str, at, *, author: str = "octocat",
                          sha: str | None = None, authored_at=None) -> dict:
        """Append a commit to the default branch (the simulator keeps it linear)."""
        with self.lock:
            store = self.repos[full_name]
            at_ms = as_ms(at)
            parents = [store.commits[-1]["sha"]] if store.commits else []
            sha = sha or sha_of(full_name, "commit", len(store.commits), message, at_ms)
            commit = self.github_commit_dict(store, sha, message, self.github_user(author),
                                             as_ms(authored_at) if authored_at is not None else at_ms, at_ms, parents)
            store.commits.append(commit)
            store.repo["pushed_at"] = github_ts(at_ms)
            self._dirty_repo(store)
            return commit

    def github_head_sha(self, full_name: str) -> str | None:
        commits = self.repos[full_name].commits
        return commits[-1]["sha"] if commits else None

    # ------------------------------------------------------------------ GitHub: pull requests

    def github_add_pull(self, full_name: str, title: str, created_at, *, user: str = "octocat",
                        body: str | None = None, head_ref: str | None = None, head_sha: str | None = None,
                        base_sha: str | None = None, draft: bool = False, number: int | None = None,
                        pull_id: int | None = None, commits: Iterable[tuple[str, Any]] = ()) -> dict:
        """Open a pull request. ``commits`` is (message, authored_at) pairs for ``/pulls/{n}/commits``;
        the last one becomes the head sha unless ``head_sha`` is given."""
        with self.lock:
            store = self.repos[full_name]
            created_ms = as_ms(created_at)
            if number is None:
                number = store.next_number
            store.next_number = max(store.next_number, number + 1)
            ident = self.next_id("pull", pull_id)
            author = self.github_user(user)
            head_ref = head_ref or f"feature/pr-{number}"
            base_sha = base_sha or (self._sha_at(store, created_ms) or sha_of(full_name, "root"))
            pr_commits = []
            parent = base_sha
            for i, (message, at) in enumerate(commits):
                at_ms = as_ms(at)
                sha = sha_of(full_name, "pr", number, i, message)
                pr_commits.append(self.github_commit_dict(store, sha, message, author, at_ms, at_ms, [parent]))
                parent = sha
            head_sha = head_sha or (pr_commits[-1]["sha"] if pr_commits else sha_of(full_name, "pr", number, "head"))
            pr = self.github_pull_dict(store, number, ident, title, body, author, created_ms, head_ref, head_sha,
                                       base_sha, draft)
            store.pulls[number] = pr
            store.pr_commits[number] = pr_commits
            store.reviews[number] = []
            self._dirty_repo(store)
            return pr

    def github_force_push_pull(self, full_name: str, number: int, commits: Iterable[tuple[str, Any]], at) -> dict:
        """Replace a pull request's commits, as a force-push of its branch does (rebase, squash); the PR's
        head sha and ``updated_at`` move, its earlier commits leave ``/pulls/{n}/commits``."""
        with self.lock:
            store = self.repos[full_name]
            pr = store.pulls[number]
            at_ms = as_ms(at)
            parent = pr["base"]["sha"]
            pr_commits = []
            for i, (message, authored) in enumerate(commits):
                sha = sha_of(full_name, "pr", number, "force", at_ms, i, message)
                pr_commits.append(self.github_commit_dict(store, sha, message, pr["user"], as_ms(authored), at_ms,
                                                          [parent]))
                parent = sha
            store.pr_commits[number] = pr_commits
            pr["head"]["sha"] = parent
            pr["updated_at"] = github_ts(at_ms)
            self._dirty_repo(store)
            return pr

    def _sha_at(self, store: RepoStore, at_ms: int) -> str | None:
        """The default branch head at a moment (what a branch created then would start from)."""
        at = github_ts(at_ms)
        dates = [c["commit"]["committer"]["date"] for c in store.commits]
        pos = bisect.bisect_right(dates, at)
        return store.commits[pos - 1]["sha"] if pos else None

    def github_pull_dict(self, store: RepoStore, number: int, ident: int, title: str, body: str | None,
                         author: dict, created_ms: int, head_ref: str, head_sha: str, base_sha: str,
                         draft: bool) -> dict:
        full = store.full_name
        repo = store.repo
        owner = repo["owner"]
        url = f"{self.github_api}/repos/{full}/pulls/{number}"
        created = github_ts(created_ms)
        return {
            "url": url,
            "id": ident,
            "node_id": node_id("PR", ident),
            "html_url": f"{self.github_web}/{full}/pull/{number}",
            "issue_url": f"{self.github_api}/repos/{full}/issues/{number}",
            "number": number,
            "state": "open",
            "locked": False,
            "title": title,
            "user": author,
            "body": body,
            "created_at": created,
            "updated_at": created,
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [],
            "milestone": None,
            "draft": draft,
            "commits_url": url + "/commits",
            "review_comments_url": url + "/comments",
            "head": {"label": f"{owner['login']}:{head_ref}", "ref": head_ref, "sha": head_sha, "user": owner,
                     "repo": repo},
            "base": {"label": f"{owner['login']}:{repo['default_branch']}", "ref": repo["default_branch"],
                     "sha": base_sha, "user": owner, "repo": repo},
            "author_association": "MEMBER",
            "auto_merge": None,
            "active_lock_reason": None,
        }

    def github_add_review(self, full_name: str, number: int, state: str, at, *, user: str = "reviewer",
                          body: str = "", review_id: int | None = None) -> dict:
        """state: APPROVED, CHANGES_REQUESTED or COMMENTED."""
        with self.lock:
            store = self.repos[full_name]
            pr = store.pulls[number]
            at_ms = as_ms(at)
            review = self.github_review_dict(store, pr, self.next_id("review", review_id), state,
                                             self.github_user(user), body, at_ms)
            store.reviews[number].append(review)
            _bump(pr, "updated_at", github_ts(at_ms))
            self._dirty_repo(store)
            return review

    def github_review_dict(self, store: RepoStore, pr: dict, ident: int, state: str, user: dict, body: str,
                           at_ms: int) -> dict:
        html = f"{pr['html_url']}#pullrequestreview-{ident}"
        return {
            "id": ident,
            "node_id": node_id("PRR", ident),
            "user": user,
            "body": body,
            "state": state,
            "html_url": html,
            "pull_request_url": pr["url"],
            "author_association": "MEMBER",
            "_links": {"html": {"href": html}, "pull_request": {"href": pr["url"]}},
            "submitted_at": github_ts(at_ms),
            "commit_id": pr["head"]["sha"],
        }

    def github_merge_pull(self, full_name: str, number: int, at, *, merge_commit_sha: str | None = None) -> dict:
        """Squash-merge: a new commit on the default branch; the PR becomes closed with ``merged_at``."""
        with self.lock:
            store = self.repos[full_name]
            pr = store.pulls[number]
            at_ms = as_ms(at)
            commit = self.github_add_commit(full_name, f"{pr['title']} (#{number})", at_ms,
                                            author=pr["user"]["login"], sha=merge_commit_sha)
            ts = github_ts(at_ms)
            pr.update(state="closed", closed_at=ts, merged_at=ts, merge_commit_sha=commit["sha"])
            _bump(pr, "updated_at", ts)
            self._dirty_repo(store)
            return pr

    def github_close_pull(self, full_name: str, number: int, at) -> dict:
        with self.lock:
            store = self.repos[full_name]
            pr = store.pulls[number]
            ts = github_ts(as_ms(at))
            pr.update(state="closed", closed_at=ts)
            _bump(pr, "updated_at", ts)
            self._dirty_repo(store)
            return pr

    # ------------------------------------------------------------------ GitHub: deployments

    def github_add_deployment(self, full_name: str, environment: str, created_at, *, sha: str | None = None,
                              ref: str | None = None, task: str = "deploy", creator: str = "deploy-bot",
                              production_environment: bool | None = None, description: str | None = None,
                              deployment_id: int | None = None) -> dict:
        """A deployment of ``sha`` (default: the default branch head at ``created_at``) without statuses yet."""
        with self.lock:
            store = self.repos[full_name]
            created_ms = as_ms(created_at)
            sha = sha or self._sha_at(store, created_ms) or sha_of(full_name, "root")
            ident = self.next_id("deployment", deployment_id)
            dep = self.github_deployment_dict(
                store, ident, sha, ref or store.repo["default_branch"], task, environment,
                environment == "production" if production_environment is None else production_environment,
                description, self.github_user(creator), created_ms,
            )
            store.deployments[ident] = dep
            store.deployment_statuses[ident] = []
            self._dirty_repo(store)
            return dep

    def github_deployment_dict(self, store: RepoStore, ident: int, sha: str, ref: str, task: str, environment: str,
                               production: bool, description: str | None, creator: dict, created_ms: int) -> dict:
        api = f"{self.github_api}/repos/{store.full_name}"
        ts = github_ts(created_ms)
        return {
            "url": f"{api}/deployments/{ident}",
            "id": ident,
            "node_id": node_id("DE", ident),
            "task": task,
            "original_environment": environment,
            "environment": environment,
            "description": description,
            "created_at": ts,
            "updated_at": ts,
            "statuses_url": f"{api}/deployments/{ident}/statuses",
            "repository_url": api,
            "creator": creator,
            "sha": sha,
            "ref": ref,
            "payload": {},
            "transient_environment": False,
            "production_environment": production,
            "performed_via_github_app": None,
        }

    def github_add_deployment_status(self, full_name: str, deployment_id: int, state: str, at, *,
                                     creator: str = "deploy-bot", description: str = "",
                                     status_id: int | None = None) -> dict:
        """state: queued, in_progress, success, failure, error or inactive. Bumps the deployment's
        ``updated_at`` as GitHub does. (GitHub would also mark the previous successful deployment to the
        same environment ``inactive``; do that explicitly with another call if a test wants it.)"""
        with self.lock:
            store = self.repos[full_name]
            dep = store.deployments[deployment_id]
            at_ms = as_ms(at)
            status = self.github_deployment_status_dict(store, dep, self.next_id("deployment_status", status_id),
                                                        state, self.github_user(creator), description, at_ms)
            store.deployment_statuses[deployment_id].append(status)
            _bump(dep, "updated_at", status["updated_at"])
            self._dirty_repo(store)
            return status

    def github_deployment_status_dict(self, store: RepoStore, dep: dict, ident: int, state: str, creator: dict,
                                      description: str, at_ms: int) -> dict:
        ts = github_ts(at_ms)
        return {
            "url": f"{dep['url']}/statuses/{ident}",
            "id": ident,
            "node_id": node_id("DES", ident),
            "state": state,
            "creator": creator,
            "description": description,
            "environment": dep["environment"],
            "target_url": "",
            "log_url": "",
            "created_at": ts,
            "updated_at": ts,
            "deployment_url": dep["url"],
            "repository_url": dep["repository_url"],
            "environment_url": "",
            "performed_via_github_app": None,
        }

    # ------------------------------------------------------------------ GitHub: releases

    def github_add_release(self, full_name: str, tag_name: str, published_at, *, sha: str | None = None,
                           name: str | None = None, author: str = "deploy-bot", body: str = "",
                           release_id: int | None = None) -> dict:
        """A release and its tag. As on GitHub, ``created_at`` is the tagged commit's date."""
        with self.lock:
            store = self.repos[full_name]
            published_ms = as_ms(published_at)
            sha = sha or self._sha_at(store, published_ms) or sha_of(full_name, "root")
            created = github_ts(published_ms)
            for c in store.commits:
                if c["sha"] == sha:
                    created = c["commit"]["committer"]["date"]
                    break
            ident = self.next_id("release", release_id)
            release = self.github_release_dict(store, ident, tag_name, name or tag_name, body,
                                               self.github_user(author), created, github_ts(published_ms))
            store.releases[ident] = release
            store.tags[tag_name] = sha
            self._dirty_repo(store)
            return release

    def github_release_dict(self, store: RepoStore, ident: int, tag: str, name: str, body: str, author: dict,
                            created: str, published: str) -> dict:
        api = f"{self.github_api}/repos/{store.full_name}"
        return {
            "url": f"{api}/releases/{ident}",
            "assets_url": f"{api}/releases/{ident}/assets",
            "html_url": f"{self.github_web}/{store.full_name}/releases/tag/{tag}",
            "id": ident,
            "author": author,
            "node_id": node_id("RE", ident),
            "tag_name": tag,
            "target_commitish": store.repo["default_branch"],
            "name": name,
            "draft": False,
            "prerelease": False,
            "created_at": created,
            "published_at": published,
            "assets": [],
            "tarball_url": f"{api}/tarball/{tag}",
            "zipball_url": f"{api}/zipball/{tag}",
            "body": body,
        }

    # ------------------------------------------------------------------ GitHub: Actions

    def github_add_workflow(self, full_name: str, name: str, path: str, *, workflow_id: int | None = None,
                            created_at="2024-03-01T10:00:00Z") -> dict:
        with self.lock:
            store = self.repos[full_name]
            ident = self.next_id("workflow", workflow_id)
            ts = github_ts(as_ms(created_at))
            api = f"{self.github_api}/repos/{store.full_name}"
            workflow = {
                "id": ident,
                "node_id": node_id("W", ident),
                "name": name,
                "path": path,
                "state": "active",
                "created_at": ts,
                "updated_at": ts,
                "url": f"{api}/actions/workflows/{ident}",
                "html_url": f"{self.github_web}/{store.full_name}/blob/{store.repo['default_branch']}/{path}",
                "badge_url": f"{self.github_web}/{store.full_name}/workflows/{name}/badge.svg",
            }
            store.workflows[ident] = workflow
            store.run_numbers[ident] = 0
            self._dirty_repo(store)
            return workflow

    def github_add_run(self, full_name: str, workflow: str, head_sha: str, created_at, *,
                       conclusion: str | None = "success", status: str = "completed", head_branch: str | None = None,
                       event: str = "push", duration_s: int = 300, run_attempt: int = 1, actor: str = "octocat",
                       message: str = "", run_id: int | None = None, pull_requests: list[dict] | None = None) -> dict:
        """A workflow run (``workflow`` is a name or id; an unknown name creates the workflow). Incomplete
        runs (status queued/in_progress) have ``conclusion: null``."""
        with self.lock:
            store = self.repos[full_name]
            wf = self._workflow(store, workflow)
            created_ms = as_ms(created_at)
            ident = self.next_id("run", run_id)
            store.run_numbers[wf["id"]] += 1
            done = status == "completed"
            run = self.github_run_dict(
                store, wf, ident, store.run_numbers[wf["id"]], head_branch or store.repo["default_branch"], head_sha,
                event, status, conclusion if done else None, created_ms,
                created_ms + duration_s * 1000 if done else created_ms, run_attempt, self.github_user(actor),
                message, pull_requests or [],
            )
            store.runs[ident] = run
            self._dirty_repo(store)
            return run

    def github_complete_run(self, full_name: str, run_id: int, conclusion: str, at) -> dict:
        with self.lock:
            store = self.repos[full_name]
            run = store.runs[run_id]
            run.update(status="completed", conclusion=conclusion, updated_at=github_ts(as_ms(at)))
            self._dirty_repo(store)
            return run

    def _workflow(self, store: RepoStore, workflow: str | int) -> dict:
        for wf in store.workflows.values():
            if wf["id"] == workflow or wf["name"] == workflow:
                return wf
        slug = str(workflow).lower().replace(" ", "-")
        return self.github_add_workflow(store.full_name, str(workflow), f".github/workflows/{slug}.yml")

    def github_run_dict(self, store: RepoStore, wf: dict, ident: int, run_number: int, head_branch: str,
                        head_sha: str, event: str, status: str, conclusion: str | None, created_ms: int,
                        updated_ms: int, run_attempt: int, actor: dict, message: str,
                        pull_requests: list[dict]) -> dict:
        api = f"{self.github_api}/repos/{store.full_name}/actions/runs/{ident}"
        created = github_ts(created_ms)
        suite = self.next_id("check_suite")
        mini = self._mini_repo(store)
        return {
            "id": ident,
            "name": wf["name"],
            "node_id": node_id("WFR", ident),
            "head_branch": head_branch,
            "head_sha": head_sha,
            "path": wf["path"],
            "display_title": message.split("\n", 1)[0] or wf["name"],
            "run_number": run_number,
            "event": event,
            "status": status,
            "conclusion": conclusion,
            "workflow_id": wf["id"],
            "check_suite_id": suite,
            "check_suite_node_id": node_id("CS", suite),
            "url": api,
            "html_url": f"{self.github_web}/{store.full_name}/actions/runs/{ident}",
            "pull_requests": pull_requests,
            "created_at": created,
            "updated_at": github_ts(updated_ms),
            "actor": actor,
            "run_attempt": run_attempt,
            "referenced_workflows": [],
            "run_started_at": created,
            "triggering_actor": actor,
            "jobs_url": f"{api}/jobs",
            "logs_url": f"{api}/logs",
            "workflow_url": wf["url"],
            "previous_attempt_url": f"{api}/attempts/{run_attempt - 1}" if run_attempt > 1 else None,
            "head_commit": {
                "id": head_sha,
                "tree_id": sha_of("tree", head_sha),
                "message": message,
                "timestamp": created,
                "author": self._git_identity(actor),
                "committer": _WEB_FLOW_COMMITTER,
            },
            "repository": mini,
            "head_repository": mini,
        }

    def _git_identity(self, user: dict) -> dict:
        found = self._identities.get(user["login"])
        if found is None:
            found = self._identities[user["login"]] = {"name": user["login"],
                                                       "email": f"{user['login']}@users.noreply.github.com"}
        return found

    def github_add_jobs(self, full_name: str, run_id: int, jobs: list[dict]) -> None:
        with self.lock:
            self.repos[full_name].jobs[run_id] = jobs

    def github_jobs(self, full_name: str, run_id: int) -> list[dict]:
        """The jobs of a run: stored ones, else derived deterministically from the run."""
        store = self.repos[full_name]
        jobs = store.jobs.get(run_id)
        if jobs is None:
            run = store.runs[run_id]
            jobs = self.github_job_factory(store, run) if self.github_job_factory else default_jobs(self, store, run)
        return jobs

    # ------------------------------------------------------------------ GitHub: issues

    def github_label(self, store: RepoStore, name: str, color: str = "d73a4a") -> dict:
        key = (store.full_name, name)
        label = self._labels.get(key)
        if label is None:
            ident = self.next_id("label")
            label = {
                "id": ident,
                "node_id": node_id("LA", ident),
                "url": f"{self.github_api}/repos/{store.full_name}/labels/{name}",
                "name": name,
                "color": color,
                "default": False,
                "description": None,
            }
            self._labels[key] = label
        return label

    def github_add_issue(self, full_name: str, title: str, created_at, *, labels: Iterable[str] = (),
                         user: str = "octocat", body: str | None = None, closed_at=None,
                         number: int | None = None, issue_id: int | None = None) -> dict:
        with self.lock:
            store = self.repos[full_name]
            if number is None:
                number = store.next_number
            store.next_number = max(store.next_number, number + 1)
            ident = self.next_id("issue", issue_id)
            issue = self.github_issue_dict(store, ident, number, title, body, self.github_user(user),
                                           [self.github_label(store, n) for n in labels], as_ms(created_at))
            store.issues[number] = issue
            if closed_at is not None:
                self.github_close_issue(full_name, number, closed_at)
            self._dirty_repo(store)
            return issue

    def github_issue_dict(self, store: RepoStore, ident: int, number: int, title: str, body: str | None,
                          user: dict, labels: list[dict], created_ms: int) -> dict:
        api = f"{self.github_api}/repos/{store.full_name}"
        ts = github_ts(created_ms)
        return {
            "url": f"{api}/issues/{number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{number}/comments",
            "events_url": f"{api}/issues/{number}/events",
            "html_url": f"{self.github_web}/{store.full_name}/issues/{number}",
            "id": ident,
            "node_id": node_id("I", ident),
            "number": number,
            "title": title,
            "user": user,
            "labels": labels,
            "state": "open",
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": 0,
            "created_at": ts,
            "updated_at": ts,
            "closed_at": None,
            "author_association": "MEMBER",
            "active_lock_reason": None,
            "body": body,
            "performed_via_github_app": None,
            "state_reason": None,
        }

    def github_close_issue(self, full_name: str, number: int, at) -> dict:
        with self.lock:
            store = self.repos[full_name]
            issue = store.issues[number]
            ts = github_ts(as_ms(at))
            issue.update(state="closed", closed_at=ts, state_reason="completed")
            _bump(issue, "updated_at", ts)
            self._dirty_repo(store)
            return issue


# ---------------------------------------------------------------------- helpers used by the generator too


# Identical in every unsigned commit: one shared dict.
_UNSIGNED = {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}
_WEB_FLOW_COMMITTER = {"name": "GitHub", "email": "noreply@github.com"}


def resolution_item(old: dict | None, new: dict | None) -> dict:
    return {
        "field": "resolution",
        "fieldtype": "jira",
        "fieldId": "resolution",
        "from": old["id"] if old else None,
        "fromString": old["name"] if old else None,
        "to": new["id"] if new else None,
        "toString": new["name"] if new else None,
    }


def _bump(obj: dict, key: str, ts: str) -> None:
    if obj[key] is None or ts > obj[key]:
        obj[key] = ts


def _agile_ts(ms: int) -> str:
    # The agile API writes sprint dates in UTC with a Z, unlike the platform API's +0000.
    return jira_ts(ms)[:-5] + "Z"


def github_job_dict(api: str, web: str, store: RepoStore, run: dict, job_id: int, *, name: str, status: str,
                    conclusion: str | None, started_at: str | None, completed_at: str | None, steps: list[dict],
                    runner: int | None, runner_group: int) -> dict:
    """An Actions job of ``run`` as /actions/runs/{id}/jobs returns it; ``runner`` None while queued."""
    assigned = runner is not None
    return {
        "id": job_id,
        "run_id": run["id"],
        "workflow_name": run["name"],
        "head_branch": run["head_branch"],
        "run_url": run["url"],
        "run_attempt": run["run_attempt"],
        "node_id": node_id("CR", job_id),
        "head_sha": run["head_sha"],
        "url": f"{api}/repos/{store.full_name}/actions/jobs/{job_id}",
        "html_url": f"{web}/{store.full_name}/actions/runs/{run['id']}/job/{job_id}",
        "status": status,
        "conclusion": conclusion,
        "created_at": run["created_at"],
        "started_at": started_at,
        "completed_at": completed_at,
        "name": name,
        "steps": steps,
        "check_run_url": f"{api}/repos/{store.full_name}/check-runs/{job_id}",
        "labels": ["ubuntu-latest"],
        "runner_id": runner if assigned else None,
        "runner_name": f"GitHub Actions {runner}" if assigned else None,
        "runner_group_id": runner_group if assigned else None,
        "runner_group_name": "GitHub Actions" if assigned else None,
    }


def default_jobs(org: Org, store: RepoStore, run: dict) -> list[dict]:
    """One job per run, spanning the run: enough for tests that only check the shape."""
    done = run["status"] == "completed"
    return [github_job_dict(
        org.github_api, org.github_web, store, run, run["id"] * 10 + 1, name="build", status=run["status"],
        conclusion=run["conclusion"], started_at=run["run_started_at"],
        completed_at=run["updated_at"] if done else None, steps=[], runner=1 if done else None, runner_group=1,
    )]


def _default_fields() -> list[dict]:
    def system(ident: str, name: str, type_: str, **extra) -> dict:
        return {
            "id": ident, "key": ident, "name": name, "custom": False, "orderable": True, "navigable": True,
            "searchable": True, "clauseNames": [ident], "schema": {"type": type_, "system": ident, **extra},
        }

    def custom(ident: str, name: str, type_: str, plugin: str, **extra) -> dict:
        num = int(ident.split("_")[1])
        return {
            "id": ident, "key": ident, "name": name, "untranslatedName": name, "custom": True, "orderable": True,
            "navigable": True, "searchable": True, "clauseNames": [f"cf[{num}]", name],
            "schema": {"type": type_, "custom": plugin, "customId": num, **extra},
        }

    return [
        system("summary", "Summary", "string"),
        system("issuetype", "Issue Type", "issuetype"),
        system("status", "Status", "status"),
        system("project", "Project", "project"),
        system("priority", "Priority", "priority"),
        system("created", "Created", "datetime"),
        system("updated", "Updated", "datetime"),
        system("resolution", "Resolution", "resolution"),
        system("resolutiondate", "Resolved", "datetime"),
        system("statuscategorychangedate", "Status Category Changed", "datetime"),
        system("labels", "Labels", "array", items="string"),
        system("components", "Components", "array", items="component"),
        system("assignee", "Assignee", "user"),
        system("reporter", "Reporter", "user"),
        system("creator", "Creator", "user"),
        system("parent", "Parent", "issuelink"),
        custom(STORY_POINTS_FIELD, "Story point estimate", "number",
               "com.pyxis.greenhopper.jira:jsw-story-points"),
        custom(SPRINT_FIELD, "Sprint", "array", "com.pyxis.greenhopper.jira:gh-sprint", items="json"),
    ]
