"""GitHub.com and Enterprise Server REST as endpoint descriptions (first slice: PRs, deployments, runs)."""

from __future__ import annotations

from datetime import UTC, datetime
from fnmatch import fnmatchcase

from connectors.config import GitHubSource
from connectors.core.endpoint import Child, Endpoint
from connectors.core.engine import Engine, StreamResult
from connectors.core.http import RequestStats
from connectors.core.paginators import LinkHeaderPaginator
from connectors.core.raw import RawStore
from connectors.core.source import SourceType, engine_for

API_VERSION = "2022-11-28"


def auth_headers(source: GitHubSource):
    token = source.auth.token
    return lambda: {"Authorization": f"Bearer {token.get_secret_value()}", "X-GitHub-Api-Version": API_VERSION}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


PULL_REQUESTS = Endpoint(
    stream="pull_requests",
    path="repos/{repo}/pulls",
    params={"state": "all", "sort": "updated", "direction": "desc"},
    cursor_field="updated_at",
    paginator=LinkHeaderPaginator(),
    max_page_size=100,
    # The list has no `since` filter: newest updates come first, so stop once past the cursor.
    order="descending",
    stop_at_since=True,
)

DEPLOYMENTS = Endpoint(
    stream="deployments",
    path="repos/{repo}/deployments",
    cursor_field="created_at",
    paginator=LinkHeaderPaginator(),
    max_page_size=100,
    order="descending",
    stop_at_since=True,
)

DEPLOYMENT_STATUSES = Endpoint(
    stream="deployment_statuses",
    path="repos/{repo}/deployments/{deployment_id}/statuses",
    paginator=LinkHeaderPaginator(),
    max_page_size=100,
)

WORKFLOW_RUNS = Endpoint(
    stream="workflow_runs",
    path="repos/{repo}/actions/runs",
    records_path="workflow_runs",
    cursor_field="created_at",
    paginator=LinkHeaderPaginator(),
    max_page_size=100,
    since_params=lambda since: {"created": f">={_iso(since)}"},
    order="descending",
    # A queued or running run changes later: keep the cursor below it so it is read again.
    is_complete=lambda run: run.get("status") == "completed",
)


def statuses_child(repo: str) -> Child:
    return Child(DEPLOYMENT_STATUSES, path_vars=lambda d: {"repo": repo, "deployment_id": d["id"]})


def resolve_repos(engine: Engine, source: GitHubSource) -> list[str]:
    """Explicit repos plus the org's repos whose names pass include/exclude (archived only if asked)."""
    scope = source.scope
    repos = list(scope.repos)
    if scope.org:
        org_repos = Endpoint(stream="repos", path=f"orgs/{scope.org}/repos", paginator=LinkHeaderPaginator(), max_page_size=100)
        params = {"type": "all", **org_repos.paginator.first_params(engine.page_size_for(org_repos))}
        for page in engine.pages(org_repos, org_repos.path, params, RequestStats()):
            for repo in page:
                name = repo["name"]
                if repo.get("archived") and not scope.include_archived:
                    continue
                if any(fnmatchcase(name, g) for g in scope.include) and not any(fnmatchcase(name, g) for g in scope.exclude):
                    repos.append(repo["full_name"])
    return list(dict.fromkeys(repos))


def extract(group: str, source: GitHubSource, store: RawStore, **client_kw) -> list[StreamResult]:
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    results = []
    for repo in resolve_repos(engine, source):
        if group == "pull_requests":
            results.append(engine.run(PULL_REQUESTS, scope=repo, path_vars={"repo": repo}))
        elif group == "deployments":
            results.append(engine.run(DEPLOYMENTS, scope=repo, path_vars={"repo": repo}, children=(statuses_child(repo),)))
        elif group == "workflow_runs":
            results.append(engine.run(WORKFLOW_RUNS, scope=repo, path_vars={"repo": repo}))
        else:
            raise ValueError(f"github has no extraction group '{group}'")
    return results


SOURCE = SourceType(
    name="github",
    groups={
        "pull_requests": ("pull_requests",),
        "deployments": ("deployments", "deployment_statuses"),
        "workflow_runs": ("workflow_runs",),
    },
    extract=extract,
)
