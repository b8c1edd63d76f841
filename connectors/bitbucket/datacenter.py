"""Bitbucket Data Center (and Server) REST 1.0 as endpoint descriptions (`<server>/rest/api/1.0`): the
`flavour: datacenter` of the bitbucket source.

Streams per repository of one project: pull requests with their activities (approvals, comments, reviews,
merges) and commits; plus the project's repositories. Data Center has no Pipelines and no deployments API,
so the `pipelines` and `deployments` groups read nothing: its deployments come through the events source.

Paging: every list answers `{"size", "limit", "start", "isLastPage", "nextPageStart", "values"}`; the next
page is `start=<nextPageStart>` until `isLastPage`. Incremental: the pull request list has no filter on an
update time, only `order=NEWEST`, so it is read newest first and stops at the first page that reaches a pull
request updated before the cursor minus the lookback; the cursor (`updatedDate`, epoch milliseconds) moves
once the whole list down to there was read. A pull request listed again with the `updatedDate` already
stored keeps its stored activities and commits without a request. Rate limits: Data Center's (when an
admin turns them on) answer 429 with Retry-After, which the HTTP client waits out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.bitbucket.config import BitbucketSource
from connectors.core.endpoint import Child, Endpoint, format_cursor
from connectors.core.engine import Engine, StreamResult
from connectors.core.errors import FatalError
from connectors.core.paginators import OffsetPaginator, dig
from connectors.core.source import Finding, probe_client

API = "rest/api/1.0"
PAGES = OffsetPaginator(offset_param="start", limit_param="limit", total_path=None, is_last_path="isLastPage",
                        next_offset_path="nextPageStart")
# The server caps `limit` (its page.max.* settings); the paginator follows nextPageStart whatever it sent.
MAX_PAGE = 100


class EpochMillisEndpoint(Endpoint):
    """A list whose cursor field is epoch milliseconds (Data Center's `updatedDate`): the cursor is kept as
    the ISO timestamp every other stream's is, so the engine compares and stores it the same way."""

    def cursor_of(self, record: Mapping[str, Any]) -> str | None:
        value = dig(record, self.cursor_field) if self.cursor_field else None
        if isinstance(value, int) and not isinstance(value, bool):
            return format_cursor(datetime.fromtimestamp(value / 1000, UTC))
        return None if value is None else str(value)  # not a number: the engine rejects it by name


def _list(stream: str, path: str, **kw: Any) -> Endpoint:
    return Endpoint(stream=stream, path=f"{API}/{path}", records_path="values", paginator=PAGES,
                    max_page_size=MAX_PAGE, **kw)


REPO = "projects/{project}/repos/{repo}"

REPOSITORIES = _list("repositories", "projects/{project}/repos")

# A pull request's id is its number in its repository: the key is `<project>/<repo>:<id>`, as Cloud's.
# `order=NEWEST` is newest first (the reference names no field; Bitbucket's own list puts the latest
# update first), so the list stops at the lower bound; only its last page holds older pull requests, whose
# children an earlier run read (only_since).
PULL_REQUESTS = EpochMillisEndpoint(
    stream="pull_requests", path=f"{API}/{REPO}/pull-requests", records_path="values", paginator=PAGES,
    max_page_size=MAX_PAGE, params={"state": "ALL", "order": "NEWEST"}, cursor_field="updatedDate",
    order="descending", stop_at_since=True, key_with_scope=True)

# Newest first; every activity has an id of its own.
PULL_REQUEST_ACTIVITY = _list("pull_request_activity", REPO + "/pull-requests/{id}/activities")

# A commit can be in two pull requests: the key is the pull request's key + the full hash (`id`).
PULL_REQUEST_COMMITS = _list("pull_request_commits", REPO + "/pull-requests/{id}/commits")


def pull_request_children(project: str, repo: str,
                          unchanged: frozenset[tuple[str, str]] = frozenset()) -> tuple[Child, ...]:
    """Activities and commits of each pull request read at or after the lower bound; ``unchanged`` holds
    (key, updatedDate) of pull requests stored with their children, whose lists are not asked again."""
    path_vars = lambda pr: {"project": project, "repo": repo, "id": pr["id"]}  # noqa: E731

    def embedded(pr: Mapping[str, Any]) -> tuple[list[dict], bool]:
        return [], (f"{project}/{repo}:{pr.get('id')}", str(pr.get("updatedDate"))) in unchanged

    return tuple(Child(endpoint, path_vars=path_vars, embedded=embedded, only_since=True, key_with_parent=True,
                       replace=True) for endpoint in (PULL_REQUEST_ACTIVITY, PULL_REQUEST_COMMITS))


def owner(source: BitbucketSource) -> dict[str, str]:
    """The project the repositories' paths name."""
    return {"project": source.scope.project}


def extract_pull_requests(engine: Engine, source: BitbucketSource, repo: str) -> list[StreamResult]:
    project = source.scope.project
    scope = f"{project}/{repo}"
    unchanged = engine.stored_versions(PULL_REQUESTS.stream, scope, "updatedDate")
    return [engine.run(PULL_REQUESTS, scope=scope, path_vars={"project": project, "repo": repo},
                       children=pull_request_children(project, repo, unchanged))]


def check(source: BitbucketSource, headers, **client_kw) -> list[Finding]:
    """Whether the credentials read the project's repositories, and each named repository's pull requests."""
    client = probe_client(source, headers, **client_kw)
    project = source.scope.project
    try:
        client.get_json(REPOSITORIES.path.format(project=project), {"limit": 1})
    except FatalError as exc:
        hint = ("check auth.username and auth.token (a password or HTTP access token of that user)"
                if source.auth.username else "check that the HTTP access token has Project read on this project")
        return [Finding("fail", f"{source.name}: project {project}", f"{exc}; {hint}")]
    findings = [Finding("ok", f"{source.name}: project {project}", "repositories readable")]
    for repo in source.scope.repositories:
        try:
            client.get_json(PULL_REQUESTS.path.format(project=project, repo=repo), {"limit": 1})
            findings.append(Finding("ok", f"{source.name}: repository {repo}", "pull requests readable"))
        except FatalError as exc:
            findings.append(Finding("fail", f"{source.name}: repository {repo}", f"{exc}: check the slug in "
                                    "scope.repositories and that the token has Repository read on it"))
    return findings
