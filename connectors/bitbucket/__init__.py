"""Bitbucket Cloud REST 2.0 as endpoint descriptions (https://api.bitbucket.org/2.0).

Streams per repository of one workspace: pull requests with their activity (approvals, comments, updates)
and commits, Pipelines runs, deployment environments and deployments; plus the workspace's repositories.

Paging: every list answers `{"values": [...], "pagelen", "page", "size", "next"}` and the next page is only
ever the `next` URL (activity pages are keyed by an opaque `ctx`, not a page number), so the paginator
follows it. Incremental: pull requests are asked `q=updated_on >= <cursor - lookback>` with
`sort=updated_on`, oldest update first, so the cursor advances every page; approving, commenting or pushing
bumps `updated_on`, so a pull request listed again unchanged keeps its stored activity and commits without a
request. Pipelines are listed newest first (`sort=-created_on`) and the list stops at the cursor; a run not
yet COMPLETED holds the cursor so it is read again. Environments and deployments carry no filter or update
time the API sorts by, so they are read whole each run (a repository has few environments; deployments
are keyed by uuid, so a re-read replaces, never duplicates).

No conditional requests: Bitbucket sends ETags on single objects but its paged lists change `next` with each
page, and a 304 still counts against the hourly limit, so nothing is saved. Rate limits: a rolling hour per
user or token; past it the answer is 429 ("Rate limit for this resource has been exceeded") without a
documented Retry-After, which the HTTP client retries with its backoff (and honours Retry-After if sent).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.bitbucket.config import BitbucketSource
from connectors.core.endpoint import Child, Endpoint, iso_seconds
from connectors.core.engine import Engine, StreamResult
from connectors.core.errors import FatalError
from connectors.core.http import RequestStats
from connectors.core.paginators import NextUrlPaginator, dig
from connectors.core.raw import RawRecord, raw_table
from connectors.core.source import Finding, SourceType, each_scope, engine_for, probe_client

API = "2.0"
PAGES = NextUrlPaginator(next_path="next", offset_param=None, limit_param="pagelen")
# Pull request states: the list shows OPEN only unless asked (SUPERSEDED is a state of old repositories).
PULL_REQUEST_STATES = ("OPEN", "MERGED", "DECLINED", "SUPERSEDED")
ACTIVITY_KINDS = ("approval", "comment", "update", "changes_requested")


def auth_headers(source: BitbucketSource):
    token, username = source.auth.token, source.auth.username
    if username:
        return lambda: {"Authorization": "Basic " + base64.b64encode(
            f"{username}:{token.get_secret_value()}".encode()).decode()}
    return lambda: {"Authorization": f"Bearer {token.get_secret_value()}"}


def _list(stream: str, path: str, max_page_size: int = 100, **kw: Any) -> Endpoint:
    """A Bitbucket list: `values` pages linked by `next`."""
    return Endpoint(stream=stream, path=f"{API}/{path}", records_path="values", paginator=PAGES,
                    max_page_size=max_page_size, **kw)


def _updated_since(since: datetime) -> Mapping[str, Any]:
    # Bitbucket's filter language: a datetime is written bare, ISO 8601 with an offset.
    return {"q": f"updated_on >= {iso_seconds(since)[:-1]}+00:00"}


REPOSITORIES = _list("repositories", "repositories/{workspace}", primary_key="uuid", params={"sort": "slug"})

PULL_REQUESTS = _list("pull_requests", "repositories/{workspace}/{repo}/pullrequests", max_page_size=50,
                      params={"state": list(PULL_REQUEST_STATES), "sort": "updated_on"},
                      cursor_field="updated_on", since_params=_updated_since, order="ascending")


class ActivityEndpoint(Endpoint):
    """A pull request's activity: its entries have no id of their own, so the key is made from the entry."""

    def key_of(self, record: Mapping[str, Any]) -> str:
        """The kind and the comment id, or the kind, the user and the date (one person approves, or updates,
        once at a given instant)."""
        kind = next((k for k in ACTIVITY_KINDS if isinstance(record.get(k), Mapping)), None)
        if kind is None:
            raise ValueError(f"record of stream '{self.stream}' is none of {', '.join(ACTIVITY_KINDS)}")
        item = record[kind]
        if kind == "comment" and item.get("id") is not None:
            return f"comment:{item['id']}"
        who = dig(item, "user.uuid") or dig(item, "author.uuid") or ""
        return f"{kind}:{who}@{item.get('date') or ''}"


# Newest first, as Bitbucket lists it; the whole list is the pull request's history.
PULL_REQUEST_ACTIVITY = ActivityEndpoint(
    stream="pull_request_activity", path=f"{API}/repositories/{{workspace}}/{{repo}}/pullrequests/{{id}}/activity",
    records_path="values", paginator=PAGES, max_page_size=50)

# A commit can be in two pull requests (a branch merged twice): the key is PR id + hash; after a force-push
# the pull request's commit list is new, so the stored one is replaced.
PULL_REQUEST_COMMITS = _list("pull_request_commits", "repositories/{workspace}/{repo}/pullrequests/{id}/commits",
                             max_page_size=50, primary_key="hash")

PIPELINES = _list("pipelines", "repositories/{workspace}/{repo}/pipelines/", primary_key="uuid",
                  params={"sort": "-created_on"}, cursor_field="created_on", order="descending",
                  stop_at_since=True, is_complete=lambda run: dig(run, "state.name") == "COMPLETED")

ENVIRONMENTS = _list("environments", "repositories/{workspace}/{repo}/environments/", primary_key="uuid")

DEPLOYMENTS = _list("deployments", "repositories/{workspace}/{repo}/deployments/", primary_key="uuid")


def pull_request_children(workspace: str, repo: str,
                          unchanged: frozenset[tuple[str, str]] = frozenset()) -> tuple[Child, ...]:
    """Activity and commits of each pull request read; ``unchanged`` holds (id, updated_on) of pull requests
    stored with their children, whose lists are not asked again."""
    path_vars = lambda pr: {"workspace": workspace, "repo": repo, "id": pr["id"]}  # noqa: E731

    def embedded(pr: Mapping[str, Any]) -> tuple[list[dict], bool]:
        return [], (str(pr.get("id")), str(pr.get("updated_on"))) in unchanged

    return (
        Child(PULL_REQUEST_ACTIVITY, path_vars=path_vars, embedded=embedded, key_with_parent=True, replace=True),
        Child(PULL_REQUEST_COMMITS, path_vars=path_vars, embedded=embedded, key_with_parent=True, replace=True),
    )


def workspace_repositories(engine: Engine, source: BitbucketSource, stats: RequestStats) -> list[dict]:
    """The workspace's repositories that the scope keeps (listed slugs, include/exclude globs)."""
    scope = source.scope
    params = {**REPOSITORIES.params, **PAGES.first_params(engine.page_size_for(REPOSITORIES))}
    path = REPOSITORIES.path.format(workspace=scope.workspace)
    listed = [repo for page in engine.pages(REPOSITORIES, path, params, stats) for repo in page]
    return [repo for repo in listed if (not scope.repositories or repo.get("slug") in scope.repositories)
            and scope.wanted(repo.get("slug") or "")]


def resolve_repositories(engine: Engine, source: BitbucketSource) -> list[str]:
    if source.scope.repositories and source.scope.include == ["*"] and not source.scope.exclude:
        return list(source.scope.repositories)  # named: no listing needed
    return [repo["slug"] for repo in workspace_repositories(engine, source, RequestStats())]


def _extract_repositories(engine: Engine, source: BitbucketSource) -> list[StreamResult]:
    workspace = source.scope.workspace
    result = StreamResult(source.name, engine.table(REPOSITORIES), workspace)
    engine.store.ensure_table(result.table)
    repos = workspace_repositories(engine, source, result.stats)
    records = [RawRecord(str(r["uuid"]), r, None, workspace) for r in repos]
    engine.store.write([(result.table, source.name, records)])
    result.records, result.pages = len(records), result.stats.requests
    return [result]


def _extract_repository(group: str, engine: Engine, source: BitbucketSource, repo: str) -> list[StreamResult]:
    workspace = source.scope.workspace
    at = {"workspace": workspace, "repo": repo}
    scope = f"{workspace}/{repo}"
    if group == "pull_requests":
        unchanged = engine.stored_versions(PULL_REQUESTS.stream, scope, "updated_on")
        return [engine.run(PULL_REQUESTS, scope=scope, path_vars=at,
                           children=pull_request_children(workspace, repo, unchanged))]
    if group == "pipelines":
        return [engine.run(PIPELINES, scope=scope, path_vars=at)]
    if group == "deployments":
        return [engine.run(ENVIRONMENTS, scope=scope, path_vars=at), engine.run(DEPLOYMENTS, scope=scope, path_vars=at)]
    raise ValueError(f"bitbucket has no extraction group '{group}'")


def extract(group: str, source: BitbucketSource, store, **client_kw) -> list[StreamResult]:
    """Read one group of streams for every repository of the workspace, one repository after another."""
    if group not in SOURCE.groups:
        raise ValueError(f"bitbucket has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    if group == "repositories":
        return _extract_repositories(engine, source)
    # A repository that fails (403, deleted, Pipelines off) costs only its own streams.
    table = raw_table("bitbucket", SOURCE.groups[group][0])
    return each_scope(source, table, resolve_repositories(engine, source),
                      lambda repo: _extract_repository(group, engine, source, repo), engine.client)


def check(source: BitbucketSource, **client_kw) -> list[Finding]:
    """Whether the credentials read the workspace's repositories, and each named repository."""
    client = probe_client(source, auth_headers(source), **client_kw)
    workspace = source.scope.workspace
    try:
        client.get_json(f"{API}/repositories/{workspace}", {"pagelen": 1})
    except FatalError as exc:
        hint = ("check auth.username (with an API token: your Atlassian account email) and auth.token"
                if source.auth.username else "check that the access token belongs to this workspace")
        return [Finding("fail", f"{source.name}: workspace {workspace}", f"{exc}; {hint}")]
    findings = [Finding("ok", f"{source.name}: workspace {workspace}", "repositories readable")]
    for repo in source.scope.repositories:
        try:
            client.get_json(f"{API}/repositories/{workspace}/{repo}/pipelines/", {"pagelen": 1})
            findings.append(Finding("ok", f"{source.name}: repository {repo}", "pipelines readable"))
        except FatalError as exc:
            findings.append(Finding("fail", f"{source.name}: repository {repo}", f"{exc}: check the slug in "
                                    "scope.repositories and that the token has the pipeline:read scope"))
    return findings


SOURCE = SourceType(
    name="bitbucket",
    groups={
        "repositories": ("repositories",),
        "pull_requests": ("pull_requests", "pull_request_activity", "pull_request_commits"),
        "pipelines": ("pipelines",),
        "deployments": ("environments", "deployments"),
    },
    extract=extract,
    check=check,
    config_model=BitbucketSource,
)
