"""GitLab (gitlab.com and self-managed) REST v4 as endpoint descriptions.

Streams per project: the project itself, merge requests with their commits and notes (first response to
review), pipelines, jobs, environments, deployments with the merge requests each successful production
deployment shipped, and issues of type `incident`.

Paging: offset lists name the next page in `X-Next-Page` (empty on the last); the project jobs list
uses keyset pagination (`pagination=keyset`, the next page only in `Link`), which never slows down or
skips a row however deep it goes. Incremental: merge requests, pipelines, deployments and issues are
asked `updated_after` the cursor minus the lookback, oldest update first, so a deployment that finishes
later is read again because finishing bumps its `updated_at`; a merge request listed again by the
lookback with the `updated_at` already stored keeps its stored commits and notes without a request.
Jobs are listed newest first and the list stops at the cursor; a job still running holds the cursor so
it is read again. Rate limits: a 429 carries `Retry-After` and `RateLimit-Reset`, which the HTTP client
honours.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from connectors.core.endpoint import Child, Endpoint, iso_seconds
from connectors.core.engine import Engine, StreamResult
from connectors.core.errors import FatalError
from connectors.core.http import RequestStats
from connectors.core.paginators import NextPageHeaderPaginator
from connectors.core.raw import RawRecord, raw_table
from connectors.core.source import Finding, SourceType, each_scope, engine_for, probe_client
from connectors.gitlab.config import GitLabSource

API = "api/v4"
# Job statuses that will still change; `manual` is left out on purpose: a manual job nobody plays would
# hold the cursor for ever (and deployments come from the deployments API, not from jobs).
UNFINISHED_JOB_STATUSES = frozenset({"created", "pending", "running", "waiting_for_resource", "preparing", "scheduled"})


def auth_headers(source: GitLabSource):
    token = source.auth.token
    if source.auth.header == "bearer":
        return lambda: {"Authorization": f"Bearer {token.get_secret_value()}"}
    return lambda: {"PRIVATE-TOKEN": token.get_secret_value()}


def encode(path: str) -> str:
    """A project or group full path as GitLab wants it in a URL: `acme%2Fpayments%2Fapi`."""
    return quote(path, safe="")


def _updated_after(since: datetime) -> Mapping[str, Any]:
    return {"updated_after": iso_seconds(since)}


def _list(stream: str, path: str, **kw: Any) -> Endpoint:
    """A GitLab list: pages of at most 100, next page from X-Next-Page (or Link when keyset)."""
    return Endpoint(stream=stream, path=f"{API}/{path}", paginator=NextPageHeaderPaginator(), max_page_size=100, **kw)


def _updated_list(stream: str, path: str, params: Mapping[str, Any] | None = None) -> Endpoint:
    """Objects asked `updated_after` the cursor, oldest update first: the cursor advances every page."""
    return _list(stream, path, params={**(params or {}), "order_by": "updated_at", "sort": "asc"},
                 cursor_field="updated_at", since_params=_updated_after, order="ascending")


PROJECT = Endpoint(stream="projects", path=f"{API}/projects/{{project}}", single_object=True)

MERGE_REQUESTS = _updated_list("merge_requests", "projects/{project}/merge_requests", {"state": "all", "scope": "all"})

# A commit can be in several MRs (a branch merged twice): the key is MR id + sha. After a force-push the
# MR's commit list is new, so the stored one is replaced.
MERGE_REQUEST_COMMITS = _list("merge_request_commits", "projects/{project}/merge_requests/{iid}/commits")

# Notes oldest first: the first one by someone other than the author is the first response to review.
# System notes ("added 1 commit", "approved this merge request") are kept; staging tells them apart.
MERGE_REQUEST_NOTES = _list("merge_request_notes", "projects/{project}/merge_requests/{iid}/notes",
                            params={"sort": "asc", "order_by": "created_at"})

PIPELINES = _updated_list("pipelines", "projects/{project}/pipelines")

# Keyset is the one pagination GitLab offers on project jobs that stays fast deep into a long history;
# it lists newest first by id only, so the list stops at the cursor.
JOBS = _list("jobs", "projects/{project}/jobs", params={"pagination": "keyset", "order_by": "id", "sort": "desc"},
             cursor_field="created_at", order="descending", stop_at_since=True,
             is_complete=lambda job: str(job.get("status") or "").lower() not in UNFINISHED_JOB_STATUSES)

# Environments carry no update time to keep a cursor on; a project has few, so they are listed whole.
ENVIRONMENTS = _list("environments", "projects/{project}/environments")

DEPLOYMENTS = _updated_list("deployments", "projects/{project}/deployments")

# The merge requests GitLab tracked as shipped by a deployment ("list of merge requests associated with a
# deployment"): when a deployment succeeds GitLab links the merge requests whose commits lie between the
# previous successful deployment of the environment and the deployed sha (for an environment's first
# deployment, every merge request merged into the deployed branch). An MR shipped to two environments is
# linked to a deployment of each, hence the deployment id in the key.
DEPLOYMENT_MERGE_REQUESTS = _list("deployment_merge_requests",
                                  "projects/{project}/deployments/{deployment_id}/merge_requests")


def issues_endpoint(source: GitLabSource) -> Endpoint:
    params: dict[str, Any] = {"scope": "all", "state": "all"}
    if source.options.issue_type:
        params["issue_type"] = source.options.issue_type
    return _updated_list("issues", "projects/{project}/issues", params)


def merge_request_children(project: str, unchanged: frozenset[tuple[str, str]] = frozenset()) -> tuple[Child, ...]:
    """Commits and notes of each merge request read; ``unchanged`` holds (id, updated_at) of the merge requests
    stored with their children, whose lists are not asked again (see stored_merge_requests)."""
    path_vars = lambda mr: {"project": encode(project), "iid": mr["iid"]}  # noqa: E731

    def embedded(mr: Mapping[str, Any]) -> tuple[list[dict], bool]:
        # "Complete with no records": the engine neither asks nor replaces what is stored.
        return [], (str(mr.get("id")), str(mr.get("updated_at"))) in unchanged

    return (
        Child(MERGE_REQUEST_COMMITS, path_vars=path_vars, embedded=embedded, key_with_parent=True, replace=True),
        Child(MERGE_REQUEST_NOTES, path_vars=path_vars, embedded=embedded),
    )


def stored_merge_requests(engine: Engine, project: str) -> frozenset[tuple[str, str]]:
    """(id, updated_at) of the project's stored merge requests, whose commits and notes are stored with them.

    A new note, a push or any edit bumps a merge request's `updated_at`, so one that the lookback lists
    again unchanged has the same children: asking for them costs two requests per merge request every
    night and finds nothing. Empty when the stream has no cursor (a first load, or state reset to reload:
    then every list is read).
    """
    return engine.stored_versions(MERGE_REQUESTS.stream, project, "updated_at")


def deployment_children(project: str, production: frozenset[str],
                        unchanged: frozenset[tuple[str, str]] = frozenset()) -> tuple[Child, ...]:
    """The shipped merge requests of each successful production deployment read. ``production`` holds the
    production environment names (lower case); ``unchanged`` the (id, updated_at) of deployments stored with
    their merge requests, not asked again (finishing bumps a deployment's updated_at, so a deployment that
    became successful since is read)."""
    path_vars = lambda deployment: {"project": encode(project), "deployment_id": deployment["id"]}  # noqa: E731

    def embedded(deployment: Mapping[str, Any]) -> tuple[list[dict], bool]:
        # GitLab links merge requests to successful deployments only; "complete with no records" asks nothing.
        environment = str((deployment.get("environment") or {}).get("name") or "").lower()
        if str(deployment.get("status") or "").lower() != "success" or environment not in production:
            return [], True
        return [], (str(deployment.get("id")), str(deployment.get("updated_at"))) in unchanged

    return (Child(DEPLOYMENT_MERGE_REQUESTS, path_vars=path_vars, embedded=embedded, key_with_parent=True),)


def production_environments(engine: Engine, source: GitLabSource, project: str) -> frozenset[str]:
    """The project's production environments, lower case: those `options.deployments.production_environments`
    names, and those GitLab files under the production tier (read just before, with the environments), as
    int_gitlab__deployments counts them."""
    named = {e.strip().lower() for e in source.options.deployments.production_environments if e.strip()}
    store = engine.store
    with store.lock:
        store.ensure_table(engine.table(ENVIRONMENTS))
        rows = store.con.execute(
            f"SELECT lower(payload ->> '$.name') FROM raw.{engine.table(ENVIRONMENTS)} "
            "WHERE source_instance = ? AND scope = ? AND payload ->> '$.tier' = 'production'", [source.name, project],
        ).fetchall()
    return frozenset(named | {name for (name,) in rows if name})


def stored_deployments(engine: Engine, project: str) -> frozenset[tuple[str, str]]:
    """(id, updated_at) of the project's stored deployments, whose shipped merge requests were read with them
    (see stored_merge_requests); empty without a cursor (a first load or a reload reads every list)."""
    return engine.stored_versions(DEPLOYMENTS.stream, project, "updated_at")


def _picked(project: Mapping[str, Any], source: GitLabSource) -> bool:
    scope = source.scope
    if project.get("archived") and not scope.include_archived:
        return False
    names = (project.get("path") or "", project.get("path_with_namespace") or "")
    return scope.wanted(*names)


def group_projects(engine: Engine, source: GitLabSource, group: str, stats: RequestStats) -> list[dict]:
    listing = _list("projects", f"groups/{encode(group)}/projects",
                    params={"include_subgroups": str(source.scope.include_subgroups).lower(), "with_shared": "false",
                            "order_by": "id", "sort": "asc"})
    params = {**listing.params, **listing.paginator.first_params(engine.page_size_for(listing))}
    return [p for page in engine.pages(listing, listing.path, params, stats) for p in page if _picked(p, source)]


def resolve_projects(engine: Engine, source: GitLabSource) -> list[str]:
    """Explicit projects plus the groups' projects whose paths pass include/exclude (archived only if asked)."""
    projects = list(source.scope.projects)
    for group in source.scope.groups:
        projects += [p["path_with_namespace"] for p in group_projects(engine, source, group, RequestStats())]
    return list(dict.fromkeys(projects))


def _extract_projects(engine: Engine, source: GitLabSource) -> list[StreamResult]:
    """Group projects come whole with the group listing; explicit ones are read one by one."""
    results = []
    for group in source.scope.groups:
        result = StreamResult(source.name, engine.table(PROJECT), group)
        engine.store.ensure_table(result.table)
        projects = group_projects(engine, source, group, result.stats)
        records = [RawRecord(str(p["id"]), p, None, p["path_with_namespace"]) for p in projects]
        engine.store.write([(result.table, source.name, records)])
        result.records, result.pages = len(records), result.stats.requests
        results.append(result)
    for project in source.scope.projects:
        results.append(engine.run(PROJECT, scope=project, path_vars={"project": encode(project)}))
    return results


def _extract_project(group: str, engine: Engine, source: GitLabSource, project: str) -> list[StreamResult]:
    at = {"project": encode(project)}
    if group == "merge_requests":
        children = merge_request_children(project, stored_merge_requests(engine, project))
        return [engine.run(MERGE_REQUESTS, scope=project, path_vars=at, children=children)]
    if group == "pipelines":
        return [engine.run(PIPELINES, scope=project, path_vars=at)]
    if group == "jobs":
        return [engine.run(JOBS, scope=project, path_vars=at)]
    if group == "deployments":
        environments = engine.run(ENVIRONMENTS, scope=project, path_vars=at)
        children = deployment_children(project, production_environments(engine, source, project),
                                       stored_deployments(engine, project))
        return [environments, engine.run(DEPLOYMENTS, scope=project, path_vars=at, children=children)]
    if group == "issues":
        return [engine.run(issues_endpoint(source), scope=project, path_vars=at)]
    raise ValueError(f"gitlab has no extraction group '{group}'")


def extract(group: str, source: GitLabSource, store, **client_kw) -> list[StreamResult]:
    """Read one group of streams for every project of the source, one project after another."""
    if group not in SOURCE.groups:
        raise ValueError(f"gitlab has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    if group == "projects":
        return _extract_projects(engine, source)
    # A project that fails (403, deleted) costs only its own streams; the others are read (source.each_scope).
    table = raw_table("gitlab", SOURCE.groups[group][0])  # a failed project's stream, if the engine names none
    return each_scope(source, table, resolve_projects(engine, source),
                      lambda project: _extract_project(group, engine, source, project), engine.client)


def check(source: GitLabSource, **client_kw) -> list[Finding]:
    """Who the token is, whether its scopes allow reading (read_api), rate-limit headroom, and the scope."""
    client = probe_client(source, auth_headers(source), **client_kw)
    try:
        user, response = client.get_json(f"{API}/user")
    except FatalError as exc:
        return [Finding("fail", f"{source.name}: credentials", str(exc))]
    remaining, limit = response.headers.get("RateLimit-Remaining"), response.headers.get("RateLimit-Limit")
    headroom = f"; rate limit: {remaining} of {limit} left" if remaining and limit else ""
    findings = [Finding("ok", f"{source.name}: credentials", f"authenticated as {(user or {}).get('username')}{headroom}")]
    try:
        token, _ = client.get_json(f"{API}/personal_access_tokens/self")
        scopes = set((token or {}).get("scopes") or [])
        if not scopes & {"read_api", "api"}:
            findings.append(Finding("fail", f"{source.name}: token scopes", f"the token has {sorted(scopes)}: "
                                    "create one with the read_api scope"))
    except FatalError:
        pass  # not a personal/project/group access token (e.g. OAuth), or an older GitLab: probed below
    for kind, paths in (("group", source.scope.groups), ("project", source.scope.projects)):
        for path in paths:
            where = f"groups/{encode(path)}/projects" if kind == "group" else f"projects/{encode(path)}"
            try:
                client.get_json(f"{API}/{where}", {"per_page": 1} if kind == "group" else None)
                findings.append(Finding("ok", f"{source.name}: {kind} {path}", "visible"))
            except FatalError as exc:
                findings.append(Finding("fail", f"{source.name}: {kind} {path}", f"{exc}: check the full path in "
                                        f"scope.{kind}s and that the token's user is at least Reporter there"))
    return findings


SOURCE = SourceType(
    name="gitlab",
    groups={
        "projects": ("projects",),
        "merge_requests": ("merge_requests", "merge_request_commits", "merge_request_notes"),
        "pipelines": ("pipelines",),
        "jobs": ("jobs",),
        "deployments": ("environments", "deployments", "deployment_merge_requests"),
        "issues": ("issues",),
    },
    extract=extract,
    check=check,
    config_model=GitLabSource,
)
