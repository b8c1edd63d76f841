"""Azure DevOps Services and Server (REST 7.1) as endpoint descriptions, one scope per project.

Paths are `{organization}/{project}/_apis/...` under base_url (Server: the collection stands for the
organization), every request carries `api-version` (options.api_version). Groups and streams:
- `work_items`: a WIQL query POSTed to `_apis/wit/wiql` lists the ids of the project's work items changed
  since the cursor minus the lookback (`[System.ChangedDate] >= ...`, `timePrecision=true`), oldest change
  first; their fields and relations (parent links: System.LinkTypes.Hierarchy-Reverse) are read 200 at a time
  by POST `_apis/wit/workitemsbatch`, and each one's updates (every revision's changed fields: System.State,
  System.BoardColumn, tags, area and iteration paths; relations added and removed) by
  `_apis/wit/workItems/{id}/updates`, paged by `$top`/`$skip`. A work item listed again at the same `rev` keeps
  its stored updates without a request. WIQL answers at most 20,000 ids: a full answer is read, and the query
  asked again from the newest ChangedDate read, so a large first load is cut into ChangedDate windows. The
  cursor (the newest ChangedDate) is written once every batch is stored.
- `pull_requests`: the project's pull requests, `_apis/git/pullrequests`, paged by `$top`/`$skip`: the active
  ones whole each run, the completed and abandoned ones closed since the cursor minus the lookback
  (`searchCriteria.queryTimeRangeType=closed`, `minTime`); with each, its threads (comments, and the system
  threads that record each vote with its time) and commits (paged by the `x-ms-continuationtoken` header).
  A closed pull request listed again keeps its stored threads and commits.
- `pipelines`: the project's builds (every YAML pipeline's runs), `_apis/build/builds` finished since the
  cursor minus the lookback, `queryOrder=finishTimeAscending`, paged by continuation token: a run is listed
  once it has finished, so none holds the cursor.
- `iterations`: the project's teams (`_apis/projects/{project}/teams`) and each team's iterations
  (`{team}/_apis/work/teamsettings/iterations`: sprints with their start and finish dates), read whole each run.
- `deployments`: the environments (`_apis/distributedtask/environments`) and each one's deployment records
  (`environmentdeploymentrecords`, read whole each run: a record names its run, whose build gives the commit).

Rate limits: Azure DevOps delays requests past a user's share and answers 429 with `Retry-After` (and
`X-RateLimit-*` headers) when it throttles; the HTTP client waits out Retry-After before retrying.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from connectors.azure_devops.config import API_VERSION, AzureDevOpsSource
from connectors.core.endpoint import Child, Endpoint, format_cursor, iso_seconds, parse_timestamp
from connectors.core.engine import Engine, StreamResult, utc_now
from connectors.core.errors import FatalError
from connectors.core.paginators import OffsetPaginator, SinglePage, dig
from connectors.core.raw import CursorUpdate
from connectors.core.source import Finding, SourceType, each_scope, engine_for, probe_client

# WIQL's cap on the ids one query answers; a full answer means more may follow.
WIQL_MAX = 20_000
# workitemsbatch's cap on ids per request.
BATCH_MAX = 200
CHANGED = "System.ChangedDate"
VERSION = {"api-version": API_VERSION}


@dataclass(frozen=True)
class ContinuationTokenPaginator:
    """Azure DevOps lists that name the next page in the `x-ms-continuationtoken` response header, asked
    back as the `continuationToken` parameter; no header ends the list."""

    size_param: str | None = "$top"
    header: str = "x-ms-continuationtoken"
    token_param: str = "continuationToken"

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {self.size_param: page_size} if self.size_param else {}

    def next_request(self, params, body, response, records_on_page, page_size):
        token = response.headers.get(self.header)
        return (None, {**params, self.token_param: token}) if token and records_on_page else None


@dataclass(frozen=True)
class ShortPageEndsPaginator(OffsetPaginator):
    """`$top`/`$skip` where the server gives every page asked in full (a work item's updates, 200 at most):
    a shorter page is the last, so no empty page is asked after it."""

    def next_request(self, params, body, response, records_on_page, page_size):
        if records_on_page < page_size:
            return None
        return super().next_request(params, body, response, records_on_page, page_size)


# Pull requests: Azure DevOps may cap `$top` below what was asked, so only an empty page ends the list.
SKIP_PAGES = OffsetPaginator(offset_param="$skip", limit_param="$top", total_path=None, is_last_path=None)
UPDATE_PAGES = ShortPageEndsPaginator(offset_param="$skip", limit_param="$top", total_path=None, is_last_path=None)
TOKEN_PAGES = ContinuationTokenPaginator()


class WorkItemsEndpoint(Endpoint):
    """Work items keep their change time under `fields["System.ChangedDate"]`: a key with dots, which a
    dotted path cannot name."""

    def cursor_of(self, record):
        value = (record.get("fields") or {}).get(CHANGED) if isinstance(record, dict) else None
        return None if value is None else str(value)


def _project(path: str) -> str:
    return "{organization}/{project}/_apis/" + path


WIQL_PATH = _project("wit/wiql")
# The batch read's ids and the WIQL's query are set per request (read_work_items); `errorPolicy: omit`
# answers null for a work item deleted since the query, which is dropped.
WORK_ITEMS = WorkItemsEndpoint(
    stream="work_items", path=_project("wit/workitemsbatch"), method="POST", params=VERSION,
    body={"$expand": "relations", "errorPolicy": "omit"}, records_path="value", keep=lambda r: r is not None,
)
WORK_ITEM_UPDATES = Endpoint(stream="work_item_updates", path=_project("wit/workItems/{id}/updates"),
                             params=VERSION, records_path="value", paginator=UPDATE_PAGES, max_page_size=200)

_PR_LIST = dict(stream="pull_requests", path=_project("git/pullrequests"), records_path="value",
                primary_key="pullRequestId", paginator=SKIP_PAGES)
ACTIVE_PULL_REQUESTS = Endpoint(**_PR_LIST, params={**VERSION, "searchCriteria.status": "active"})
CLOSED_PULL_REQUESTS = Endpoint(
    **_PR_LIST, params={**VERSION, "searchCriteria.status": "all", "searchCriteria.queryTimeRangeType": "closed"},
    cursor_field="closedDate", since_params=lambda since: {"searchCriteria.minTime": iso_seconds(since)},
)
PULL_REQUEST_THREADS = Endpoint(stream="pull_request_threads",
                                path=_project("git/repositories/{repo}/pullRequests/{id}/threads"),
                                params=VERSION, records_path="value", paginator=SinglePage())
PULL_REQUEST_COMMITS = Endpoint(stream="pull_request_commits",
                                path=_project("git/repositories/{repo}/pullRequests/{id}/commits"),
                                params=VERSION, records_path="value", primary_key="commitId", paginator=TOKEN_PAGES)

BUILDS = Endpoint(stream="builds", path=_project("build/builds"), records_path="value", paginator=TOKEN_PAGES,
                  params={**VERSION, "queryOrder": "finishTimeAscending", "statusFilter": "completed"},
                  cursor_field="finishTime", order="ascending",
                  since_params=lambda since: {"minTime": iso_seconds(since)})

ENVIRONMENTS = Endpoint(stream="environments", path=_project("distributedtask/environments"), params=VERSION,
                        records_path="value", paginator=TOKEN_PAGES)
DEPLOYMENT_RECORDS = Endpoint(
    stream="environment_deployment_records",
    path=_project("distributedtask/environments/{environment}/environmentdeploymentrecords"),
    params=VERSION, records_path="value", paginator=ContinuationTokenPaginator(size_param="top"))


# The project's teams, and each team's iterations (sprints, with their dates); the team is named by its id.
TEAMS = Endpoint(stream="teams", path="{organization}/_apis/projects/{project}/teams", params=VERSION,
                 records_path="value", paginator=SKIP_PAGES)
ITERATIONS = Endpoint(stream="iterations", path="{organization}/{project}/{team}/_apis/work/teamsettings/iterations",
                      params=VERSION, records_path="value", paginator=SinglePage())


def auth_headers(source: AzureDevOpsSource):
    token = source.auth.token
    # Basic with an empty user name and the PAT as the password.
    return lambda: {"Authorization": "Basic " + base64.b64encode(
        f":{token.get_secret_value()}".encode()).decode()}


def _versioned(endpoint: Endpoint, source: AzureDevOpsSource) -> Endpoint:
    if source.options.api_version == API_VERSION:
        return endpoint
    return replace(endpoint, params={**endpoint.params, "api-version": source.options.api_version})


def wiql(project: str, since: datetime | None) -> str:
    """The ids of the project's work items changed since ``since``, oldest change first."""
    escaped = project.replace("'", "''")
    bound = f" AND [{CHANGED}] >= '{iso_seconds(since)}'" if since is not None else ""
    return (f"SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = '{escaped}'{bound} "
            f"ORDER BY [{CHANGED}] ASC")


def _absorb(into: StreamResult, got: StreamResult) -> None:
    into.records += got.records
    into.pages += got.pages
    for stream, n in got.child_records.items():
        into.child_records[stream] = into.child_records.get(stream, 0) + n
    for name in ("requests", "retries", "rate_limit_waits", "not_modified"):
        setattr(into.stats, name, getattr(into.stats, name) + getattr(got.stats, name))
    into.stats.waited_seconds += got.stats.waited_seconds
    into.gone += got.gone
    into.owed += got.owed
    into.rejected += got.rejected


def read_work_items(engine: Engine, source: AzureDevOpsSource, project: str) -> StreamResult:
    """WIQL ids, then the work items 200 at a time with their updates; the cursor after the last batch."""
    at = {"organization": source.scope.organization, "project": project}
    endpoint, updates = _versioned(WORK_ITEMS, source), _versioned(WORK_ITEM_UPDATES, source)
    result = StreamResult(source.name, engine.table(endpoint), project)
    engine.store.ensure_table(result.table)
    result.cursor_before = engine.store.get_cursor(source.name, endpoint.stream, project)
    since = engine.since(result.cursor_before)
    newest: datetime | None = None  # the newest ChangedDate read: the next cursor
    ceiling = utc_now() + engine.options.future_skew

    def note(item: dict) -> dict:
        nonlocal newest
        changed = parse_timestamp((item.get("fields") or {}).get(CHANGED))
        # a clock error at the source (a date past the run's start) never moves the cursor
        if changed is not None and changed <= ceiling and (newest is None or changed > newest):
            newest = changed
        return item

    unchanged = engine.stored_versions(endpoint.stream, project, "rev")
    child = Child(updates, path_vars=lambda item: {**at, "id": item["id"]}, key_with_parent=True,
                  embedded=lambda item: ([], True) if (str(item.get("id")), str(item.get("rev"))) in unchanged
                  else ([], False))
    read: set[int] = set()
    while True:
        body, _ = engine.client.post_json(
            WIQL_PATH.format(**at), {"query": wiql(project, since)},
            {**endpoint.params, "timePrecision": "true", "$top": WIQL_MAX}, stats=result.stats, label="wiql")
        listed = [int(w["id"]) for w in dig(body, "workItems") or []]
        ids = [i for i in listed if i not in read]
        for start in range(0, len(ids), min(BATCH_MAX, engine.options.page_size)):
            chunk = ids[start:start + min(BATCH_MAX, engine.options.page_size)]
            batch = replace(endpoint, body={**endpoint.body, "ids": chunk}, transform=note)
            _absorb(result, engine.run(batch, scope=project, path_vars=at, children=(child,)))
            read.update(chunk)
        if len(listed) < WIQL_MAX:
            break
        if newest is None or (since is not None and newest <= since):
            raise FatalError(f"{source.name}: project {project}: more than {WIQL_MAX} work items share one "
                             f"System.ChangedDate (a bulk import?), which WIQL cannot list apart by date: move part "
                             f"of them to another project, or leave the project out of scope.projects")
        since = newest  # the next ChangedDate window, from the newest change read
    if newest is not None:
        engine.store.write([], CursorUpdate(source.name, endpoint.stream, project, format_cursor(newest)))
    result.cursor_after = engine.store.get_cursor(source.name, endpoint.stream, project)
    return result


def pull_request_children(source: AzureDevOpsSource, project: str,
                          unchanged: frozenset[tuple[str, str]]) -> tuple[Child, ...]:
    """Threads and commits of each pull request; a closed one stored in the same status is not asked again."""
    path_vars = lambda pr: {"organization": source.scope.organization, "project": project,  # noqa: E731
                            "repo": dig(pr, "repository.id"), "id": pr["pullRequestId"]}

    def embedded(pr: dict) -> tuple[list[dict], bool]:
        status = str(pr.get("status"))
        return [], status != "active" and (str(pr.get("pullRequestId")), status) in unchanged

    return (
        Child(_versioned(PULL_REQUEST_THREADS, source), path_vars=path_vars, embedded=embedded, key_with_parent=True),
        Child(_versioned(PULL_REQUEST_COMMITS, source), path_vars=path_vars, embedded=embedded,
              key_with_parent=True, replace=True),
    )


def _extract_project(group: str, engine: Engine, source: AzureDevOpsSource, project: str) -> list[StreamResult]:
    at = {"organization": source.scope.organization, "project": project}
    if group == "work_items":
        return [read_work_items(engine, source, project)]
    if group == "pull_requests":
        unchanged = engine.stored_versions("pull_requests", project, "status")
        children = pull_request_children(source, project, unchanged)
        return [engine.run(_versioned(e, source), scope=project, path_vars=at, children=children)
                for e in (ACTIVE_PULL_REQUESTS, CLOSED_PULL_REQUESTS)]
    if group == "pipelines":
        return [engine.run(_versioned(BUILDS, source), scope=project, path_vars=at)]
    if group == "deployments":
        child = Child(_versioned(DEPLOYMENT_RECORDS, source), key_with_parent=True,
                      path_vars=lambda env: {**at, "environment": env["id"]})
        return [engine.run(_versioned(ENVIRONMENTS, source), scope=project, path_vars=at, children=(child,))]
    if group == "iterations":
        child = Child(_versioned(ITERATIONS, source), key_with_parent=True,
                      path_vars=lambda team: {**at, "team": team["id"]})
        return [engine.run(_versioned(TEAMS, source), scope=project, path_vars=at, children=(child,))]
    raise ValueError(f"azure_devops has no extraction group '{group}'")


def extract(group: str, source: AzureDevOpsSource, store, **client_kw) -> list[StreamResult]:
    """Read one group of streams for every configured project, one after another; a project that fails
    (renamed, no access, Pipelines off) costs only its own streams."""
    if group not in SOURCE.groups:
        raise ValueError(f"azure_devops has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    table = engine.table(Endpoint(stream=SOURCE.groups[group][0], path=""))
    return each_scope(source, table, source.scope.projects,
                      lambda project: _extract_project(group, engine, source, project), engine.client)


def check(source: AzureDevOpsSource, **client_kw) -> list[Finding]:
    """`throughline doctor`: the token reads each project (`_apis/projects/{project}`)."""
    client = probe_client(source, auth_headers(source), **client_kw)
    org = source.scope.organization
    findings = []
    for project in source.scope.projects:
        subject = f"{source.name}: project {project}"
        try:
            client.get_json(f"{org}/_apis/projects/{project}", {"api-version": source.options.api_version})
            findings.append(Finding("ok", subject, "readable"))
        except FatalError as exc:
            findings.append(Finding("fail", subject, f"{exc}: check scope.organization and scope.projects, and "
                                    "that the token has the Work Items, Code, Build and Environment read scopes"))
    return findings


SOURCE = SourceType(
    name="azure_devops",
    groups={
        "work_items": ("work_items", "work_item_updates"),
        "pull_requests": ("pull_requests", "pull_request_threads", "pull_request_commits"),
        "pipelines": ("builds",),
        "deployments": ("environments", "environment_deployment_records"),
        "iterations": ("teams", "iterations"),
    },
    extract=extract,
    check=check,
    config_model=AzureDevOpsSource,
)
