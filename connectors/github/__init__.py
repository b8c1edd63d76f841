"""GitHub.com and Enterprise Server REST as endpoint descriptions.

Streams per repository: the repository itself, pull requests with their reviews, commits and timeline
events (review requests, reviews, comments), commits on the default branch, deployments with their
statuses and the commits each production deployment shipped (compare API), releases, tags, issues, and
Actions workflow runs with their jobs.

Cost: every list page is a conditional request (the ETag of the same page last time), and every
newest-first list stops at the saved cursor, so a nightly run over an unchanged repository spends one
request per stream, answered 304, which GitHub does not count against the rate limit.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from connectors.config import GitHubSource
from connectors.core.endpoint import Child, Endpoint, iso_seconds, parse_timestamp
from connectors.core.engine import Engine, StreamResult, utc_now
from connectors.core.errors import FatalError, NotFoundError
from connectors.core.http import RequestStats, TokenPool
from connectors.core.paginators import LinkHeaderPaginator
from connectors.core.raw import RawRecord, RawStore, raw_table
from connectors.core.source import Finding, SourceType, engine_for, probe_client
from connectors.github.app import AppInstallationToken

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
# GitHub pages at most the first 1000 results of an Actions run search (one with `created`).
RUN_SEARCH_CAP = 1000
# Run statuses that will still change. Compared in lower case: recorded data also holds upper-case
# variants (`IN_PROGRESS`), and any status not listed here (`completed`, `STALE`, ...) is final.
UNFINISHED_RUN_STATUSES = frozenset({"queued", "in_progress", "requested", "waiting", "pending", "action_required"})


def auth_headers(source: GitHubSource):
    """Headers of the source's first credential; the engine itself sends each request with one of the pool."""
    pool = token_pool(source)
    return lambda: {**pool.headers(0), "X-GitHub-Api-Version": API_VERSION}


def token_pool(source: GitHubSource, **app_kw: Any) -> TokenPool:
    """Every credential of the source: the GitHub App's installation token (if configured) and the tokens."""
    auth = source.auth
    secrets: list = []
    if auth.app_id is not None and auth.private_key is not None:
        scope = source.scope
        where = f"/orgs/{scope.org}/installation" if scope.org else f"/repos/{scope.repos[0]}/installation"
        secrets.append(AppInstallationToken(
            source=source.name, base_url=source.base_url, app_id=auth.app_id,
            private_key=auth.private_key.get_secret_value(), installation_id=auth.installation_id,
            installation_path=where, timeout_seconds=source.options.timeout_seconds, api_version=API_VERSION,
            **app_kw,
        ))
    secrets += auth.secrets()
    return TokenPool(secrets, lambda token: {"Authorization": f"Bearer {token}"})


def _list(stream: str, path: str, **kw: Any) -> Endpoint:
    """A GitHub list: Link pages of at most 100, conditional on the ETag of the same page last time."""
    return Endpoint(stream=stream, path=path, paginator=LinkHeaderPaginator(), max_page_size=100, conditional=True, **kw)


REPOSITORY = Endpoint(stream="repositories", path="repos/{repo}", single_object=True, conditional=True)

PULL_REQUESTS = _list(
    "pull_requests",
    "repos/{repo}/pulls",
    params={"state": "all", "sort": "updated", "direction": "desc"},
    cursor_field="updated_at",
    # The list has no `since` filter: newest updates come first, so stop once past the cursor.
    order="descending",
    stop_at_since=True,
)

PULL_REQUEST_REVIEWS = _list("pull_request_reviews", "repos/{repo}/pulls/{number}/reviews")

# The PR's conversation, for review requests and the first response to them. Keyed with the PR id since
# reviews, comments and issue events are separate id sequences on GitHub. Events without an id cannot be
# told apart on a rerun; of those, `committed` repeats pull_request_commits and the rest (cross-references,
# line comments) say nothing about review.
PULL_REQUEST_TIMELINE_EVENTS = _list("pull_request_timeline_events", "repos/{repo}/issues/{number}/timeline",
                                     keep=lambda event: event.get("id") is not None)

# One commit can belong to several PRs (a branch merged twice, a cherry-pick): the key is PR id + sha.
PULL_REQUEST_COMMITS = _list("pull_request_commits", "repos/{repo}/pulls/{number}/commits", primary_key="sha")

COMMITS = _list(
    "commits",
    "repos/{repo}/commits",
    primary_key="sha",
    key_with_scope=True,
    cursor_field="commit.committer.date",
    since_params=lambda since: {"since": iso_seconds(since)},
    # `until` is inclusive on GitHub: a commit on a window's end is read twice, stored once.
    window_params=lambda since, until: {"since": iso_seconds(since), "until": iso_seconds(until)},
    order="descending",
    stop_at_since=True,
)

DEPLOYMENTS = _list("deployments", "repos/{repo}/deployments", cursor_field="created_at", order="descending",
                    stop_at_since=True)

DEPLOYMENT_STATUSES = Endpoint(
    stream="deployment_statuses",
    path="repos/{repo}/deployments/{deployment_id}/statuses",
    paginator=LinkHeaderPaginator(),
    max_page_size=100,
)

# The commits a deployment shipped: compare the previous deployed sha of the environment with this one.
# Not conditional: a comparison of two shas never changes, and is read once per deployment.
COMPARE_COMMITS = Endpoint(stream="compare_commits", path="repos/{repo}/compare/{base}...{head}",
                           records_path="commits", primary_key="sha", paginator=LinkHeaderPaginator(),
                           max_page_size=100)

RELEASES = _list("releases", "repos/{repo}/releases", cursor_field="created_at", order="descending",
                 stop_at_since=True)

# Tags carry no date to keep a cursor on, so every run lists them whole; the ETag makes an unchanged
# list one 304. A tag name is unique per repository only, hence the scope in the key.
TAGS = _list("tags", "repos/{repo}/tags", primary_key="name", key_with_scope=True)

ISSUES = _list(
    "issues",
    "repos/{repo}/issues",
    params={"state": "all", "sort": "updated", "direction": "desc"},
    cursor_field="updated_at",
    since_params=lambda since: {"since": iso_seconds(since)},
    order="descending",
    stop_at_since=True,
    # /issues lists pull requests too; they have their own stream.
    keep=lambda issue: "pull_request" not in issue,
)


def _window(created: str, now: datetime) -> tuple[datetime, datetime] | None:
    """The [lo, hi] instants of a `created` search value we wrote (`>=A` or `A..B`)."""
    if created.startswith(">="):
        lo = parse_timestamp(created[2:])
        return (lo, now) if lo is not None else None
    if ".." in created:
        lo, hi = (parse_timestamp(part) for part in created.split("..", 1))
        return (lo, hi) if lo is not None and hi is not None else None
    return None


def split_run_window(params: Mapping[str, Any], body: Any, *, now: datetime | None = None) -> list[dict] | None:
    """Halve a `created` window whose search holds more runs than GitHub lets us page.

    GitHub answers the true `total_count` but pages only the first 1000 results, so a window over the
    cap would silently lose runs. Windows are whole seconds, inclusive at both ends, and do not overlap.
    """
    total = body.get("total_count") if isinstance(body, Mapping) else None
    created = params.get("created")
    if not isinstance(total, int) or total <= RUN_SEARCH_CAP or not isinstance(created, str):
        return None
    bounds = _window(created, (now or utc_now()).replace(microsecond=0))
    if bounds is None:
        return None
    lo, hi = bounds
    if hi - lo < timedelta(seconds=2):
        log.warning("github: more than %d runs created within one second (%s); only %d can be read",
                    RUN_SEARCH_CAP, created, RUN_SEARCH_CAP)
        return None
    mid = lo + (hi - lo) / 2
    mid = mid.replace(microsecond=0)
    return [
        {**params, "created": f"{iso_seconds(lo)}..{iso_seconds(mid)}"},
        {**params, "created": f"{iso_seconds(mid + timedelta(seconds=1))}..{iso_seconds(hi)}"},
    ]


WORKFLOW_RUNS = _list(
    "workflow_runs",
    "repos/{repo}/actions/runs",
    records_path="workflow_runs",
    cursor_field="created_at",
    since_params=lambda since: {"created": f">={iso_seconds(since)}"},
    order="descending",
    # A queued or running run changes later: keep the cursor below it so it is read again.
    is_complete=lambda run: str(run.get("status") or "").lower() not in UNFINISHED_RUN_STATUSES,
    split=split_run_window,
)

WORKFLOW_JOBS = _list("workflow_jobs", "repos/{repo}/actions/runs/{run_id}/jobs", records_path="jobs")


def statuses_child(repo: str) -> Child:
    return Child(DEPLOYMENT_STATUSES, path_vars=lambda d: {"repo": repo, "deployment_id": d["id"]}, only_since=True)


def pull_request_children(repo: str) -> tuple[Child, ...]:
    path_vars = lambda pr: {"repo": repo, "number": pr["number"]}  # noqa: E731
    return (
        Child(PULL_REQUEST_REVIEWS, path_vars=path_vars, only_since=True),
        # After a force-push the PR's commit list is new: drop the commits that left it.
        Child(PULL_REQUEST_COMMITS, path_vars=path_vars, only_since=True, key_with_parent=True, replace=True),
        Child(PULL_REQUEST_TIMELINE_EVENTS, path_vars=path_vars, only_since=True, key_with_parent=True),
    )


def jobs_child(repo: str) -> Child:
    return Child(WORKFLOW_JOBS, path_vars=lambda run: {"repo": repo, "run_id": run["id"]}, only_since=True)


def _org_repos(engine: Engine, source: GitHubSource, stats: RequestStats) -> list[dict]:
    scope = source.scope
    listing = Endpoint(stream="repositories", path=f"orgs/{scope.org}/repos", paginator=LinkHeaderPaginator(),
                       max_page_size=100)
    params = {"type": "all", **listing.paginator.first_params(engine.page_size_for(listing))}
    picked = []
    for page in engine.pages(listing, listing.path, params, stats):
        for repo in page:
            name = repo["name"]
            if repo.get("archived") and not scope.include_archived:
                continue
            if any(fnmatchcase(name, g) for g in scope.include) and not any(fnmatchcase(name, g) for g in scope.exclude):
                picked.append(repo)
    return picked


def resolve_repos(engine: Engine, source: GitHubSource) -> list[str]:
    """Explicit repos plus the org's repos whose names pass include/exclude (archived only if asked)."""
    repos = list(source.scope.repos)
    if source.scope.org:
        repos += [r["full_name"] for r in _org_repos(engine, source, RequestStats())]
    return list(dict.fromkeys(repos))


def _previous_deployments(store: RawStore, source: GitHubSource, repo: str, since: datetime) -> list[tuple]:
    """(deployment id, sha, previous sha of the same environment) for production deployments written
    by this run, from the raw table (which also holds the earlier deployments the comparison needs)."""
    environments = [e.lower() for e in source.options.deployments.production_environments]
    with store.lock:
        return _previous_deployment_rows(store, source, repo, since, environments)


def _previous_deployment_rows(store: RawStore, source: GitHubSource, repo: str, since: datetime,
                              environments: list[str]) -> list[tuple]:
    rows = store.con.execute(
        f"""
        WITH d AS (
            SELECT record_key AS id, payload->>'$.sha' AS sha, lower(payload->>'$.environment') AS environment,
                   payload->>'$.created_at' AS created_at, extracted_at
            FROM raw.{raw_table('github', 'deployments')}
            WHERE source_instance = ? AND scope = ?
        ), ordered AS (
            SELECT *, lag(sha) OVER (PARTITION BY environment ORDER BY created_at, id::BIGINT) AS previous_sha
            FROM d
        )
        SELECT id, sha, previous_sha FROM ordered
        WHERE extracted_at >= ? AND environment IN (SELECT unnest(?::VARCHAR[]))
          AND previous_sha IS NOT NULL AND previous_sha <> sha
          AND id NOT IN (SELECT DISTINCT parent_key FROM raw.{raw_table('github', 'compare_commits')}
                         WHERE source_instance = ? AND parent_key IS NOT NULL)
        ORDER BY created_at, id::BIGINT
        """,
        [source.name, repo, since.replace(tzinfo=None), environments, source.name],
    ).fetchall()
    return rows


def read_compare_commits(engine: Engine, source: GitHubSource, repo: str, since: datetime) -> StreamResult:
    """The commits each production deployment read in this run shipped, paged from the compare API."""
    result = StreamResult(source.name, engine.table(COMPARE_COMMITS), repo)
    engine.store.ensure_table(result.table)
    for deployment_id, sha, previous_sha in _previous_deployments(engine.store, source, repo, since):
        path = COMPARE_COMMITS.path.format(repo=repo, base=previous_sha, head=sha)
        params = COMPARE_COMMITS.paginator.first_params(100)
        records: list[RawRecord] = []
        try:
            for page in engine.pages(COMPARE_COMMITS, path, params, result.stats, 100):
                result.pages += 1
                records += [RawRecord(f"{deployment_id}:{c['sha']}", c, str(deployment_id), repo) for c in page]
        except NotFoundError:
            # A force-push can delete a deployed sha; the change set is then unknowable without a clone.
            log.warning("%s %s: deployment %s compares %s...%s, which GitHub no longer has; skipped",
                        source.name, repo, deployment_id, previous_sha[:12], sha[:12])
            continue
        engine.store.write([(result.table, source.name, records)])
        result.records += len(records)
    return result


def _extract_repo(group: str, engine: Engine, source: GitHubSource, repo: str) -> list[StreamResult]:
    at = {"repo": repo}
    if group == "pull_requests":
        return [engine.run(PULL_REQUESTS, scope=repo, path_vars=at, children=pull_request_children(repo))]
    if group == "commits":
        return [engine.run(COMMITS, scope=repo, path_vars=at)]
    if group == "deployments":
        started = datetime.now(UTC) - timedelta(seconds=1)
        deployments = engine.run(DEPLOYMENTS, scope=repo, path_vars=at, children=(statuses_child(repo),))
        return [deployments, read_compare_commits(engine, source, repo, started)]
    if group == "releases":
        return [engine.run(RELEASES, scope=repo, path_vars=at), engine.run(TAGS, scope=repo, path_vars=at)]
    if group == "issues":
        return [engine.run(ISSUES, scope=repo, path_vars=at)]
    if group == "workflow_runs":
        return [engine.run(WORKFLOW_RUNS, scope=repo, path_vars=at, children=(jobs_child(repo),))]
    raise ValueError(f"github has no extraction group '{group}'")


def extract(group: str, source: GitHubSource, store: RawStore, **client_kw) -> list[StreamResult]:
    """Read one group for every repository of the source, up to `options.max_concurrent_repos` at once.

    Repositories are independent, and a run over many is mostly waiting on the network, so each worker
    thread reads whole repositories with its own HTTP session; the token pool is shared (it counts every
    request under its lock) and the raw store serializes writes. Results come back in repository order.
    """
    if group not in SOURCE.groups:
        raise ValueError(f"github has no extraction group '{group}'")
    client_kw.setdefault("tokens", token_pool(source))
    client_kw.setdefault("max_rate_limit_wait_seconds", source.options.max_rate_limit_wait_seconds)

    def new_engine() -> Engine:
        engine = engine_for(source, store, lambda: {"X-GitHub-Api-Version": API_VERSION}, **client_kw)
        if not source.options.conditional_requests:
            engine.conditional = False
        return engine

    engine = new_engine()
    if group == "repositories":
        return _extract_repositories(engine, source)
    repos = resolve_repos(engine, source)
    workers = min(source.options.max_concurrent_repos, len(repos))
    if workers <= 1:
        return [result for repo in repos for result in _extract_repo(group, engine, source, repo)]

    local = threading.local()

    def read(repo: str) -> list[StreamResult]:
        if not hasattr(local, "engine"):
            local.engine = new_engine()  # requests.Session is not safe to share between threads
        return _extract_repo(group, local.engine, source, repo)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"github-{source.name}") as pool:
        futures = [pool.submit(read, repo) for repo in repos]
        results: list[StreamResult] = []
        try:
            for future in futures:
                results += future.result()
        except BaseException:
            # The first failure in repository order is the one reported, as in a sequential run; repos
            # not started yet are skipped and those in flight finish (each commits what it read).
            for future in futures:
                future.cancel()
            raise
    return results


def extract_window(group: str, source: GitHubSource, store: RawStore, start: datetime, end: datetime,
                   **client_kw) -> list[StreamResult]:
    """One time window of a history load: the commits of every repository committed in [start, end)."""
    if group != "commits":
        raise ValueError(f"github reads only 'commits' by time window, not '{group}'")
    client_kw.setdefault("tokens", token_pool(source))
    client_kw.setdefault("max_rate_limit_wait_seconds", source.options.max_rate_limit_wait_seconds)
    engine = engine_for(source, store, lambda: {"X-GitHub-Api-Version": API_VERSION}, **client_kw)
    return [engine.run(COMMITS, scope=repo, path_vars={"repo": repo}, window=(start, end))
            for repo in resolve_repos(engine, source)]


def _extract_repositories(engine: Engine, source: GitHubSource) -> list[StreamResult]:
    """Org repositories come whole with the org listing; explicit ones are read one by one."""
    results = []
    if source.scope.org:
        result = StreamResult(source.name, engine.table(REPOSITORY), source.scope.org)
        engine.store.ensure_table(result.table)
        repos = _org_repos(engine, source, result.stats)
        engine.store.write([(result.table, source.name, [RawRecord(str(r["id"]), r, None, r["full_name"]) for r in repos])])
        result.records, result.pages = len(repos), result.stats.requests
        results.append(result)
    for repo in source.scope.repos:
        results.append(engine.run(REPOSITORY, scope=repo, path_vars={"repo": repo}))
        _warn_if_renamed(engine.store, source, repo)
    return results


def _warn_if_renamed(store: RawStore, source: GitHubSource, repo: str) -> None:
    """Say so when GitHub now calls a configured repository by another name.

    The HTTP client follows GitHub's 301 from the old name, so the repository keeps loading under the
    name in throughline.yml (its scope) without duplicates. Changing the name there starts a new scope:
    id-keyed rows simply move to it, but commits and tags are keyed `<repo>:...` and would be stored
    twice, once per name.
    """
    with store.lock:
        row = store.con.execute(
            f"SELECT payload->>'$.full_name' FROM raw.{raw_table('github', 'repositories')} "
            "WHERE source_instance = ? AND scope = ?", [source.name, repo],
        ).fetchone()
    current = row[0] if row else None
    if current and current.lower() != repo.lower():
        log.warning(
            "%s: repository '%s' is now '%s' on GitHub, which redirects the old name; it keeps loading under "
            "'%s' without duplicates. Keep that name in scope.repos: switching to the new one would store its "
            "commits and tags a second time under the new name (see docs/ARCHITECTURE.md, renamed repositories)",
            source.name, repo, current, repo,
        )


# What the connector reads per repository, and the permission a fine-grained token or App needs for it.
_PERMISSION_PROBES = (
    ("pulls?state=all&per_page=1", "pull requests: read"),
    ("deployments?per_page=1", "deployments: read"),
    ("actions/runs?per_page=1", "actions: read"),
    ("issues?state=all&per_page=1", "issues: read"),
)


def check(source: GitHubSource, **client_kw) -> list[Finding]:
    """Credentials, rate-limit headroom per token, classic token scopes, and read access to what is loaded."""
    findings: list[Finding] = []
    pool = token_pool(source)
    for index in range(len(pool)):
        client = probe_client(
            source, lambda index=index: {**pool.headers(index), "X-GitHub-Api-Version": API_VERSION}, **client_kw
        )
        subject = f"{source.name}: credential {index + 1} of {len(pool)}"
        try:
            body, response = client.get_json("/rate_limit")  # free: costs no quota
        except FatalError as exc:
            findings.append(Finding("fail", subject, str(exc)))
            continue
        core = (body or {}).get("resources", {}).get("core", {})
        remaining, limit = core.get("remaining"), core.get("limit")
        level = "warn" if limit and remaining is not None and remaining < limit * 0.1 else "ok"
        findings.append(Finding(level, subject, f"rate limit: {remaining} of {limit} requests left this hour"))
        scopes = response.headers.get("X-OAuth-Scopes")
        if scopes is not None:  # classic tokens only; fine-grained tokens and Apps are probed below
            granted = {s.strip() for s in scopes.split(",") if s.strip()}
            if not granted & {"repo", "public_repo"}:
                findings.append(Finding("fail", subject, f"classic token scopes are [{scopes}]: add `repo` "
                                        "(private repositories) or `public_repo`"))
            if source.scope.org and not granted & {"read:org", "admin:org", "write:org"}:
                findings.append(Finding("warn", subject, "no `read:org` scope: private repositories of the "
                                        f"org {source.scope.org} may be missing from the listing"))
    if any(f.level == "fail" for f in findings):
        return findings
    client = probe_client(source, auth_headers(source), **client_kw)
    if source.scope.org:
        try:
            repos, _ = client.get_json(f"/orgs/{source.scope.org}/repos", {"per_page": 1})
            findings.append(Finding("ok", f"{source.name}: org {source.scope.org}", "repositories listed"))
            probe = [repos[0]["full_name"]] if repos else []
        except FatalError as exc:
            return [*findings, Finding("fail", f"{source.name}: org {source.scope.org}", str(exc))]
    else:
        probe = []
    for repo in [*source.scope.repos, *probe][:5]:  # a few repositories show missing permissions
        try:
            client.get_json(f"/repos/{repo}")
        except FatalError as exc:
            findings.append(Finding("fail", f"{source.name}: {repo}", f"{exc}: check the name in scope.repos and "
                                    "that the token or App can read the repository (metadata: read)"))
            continue
        missing = []
        for path, permission in _PERMISSION_PROBES:
            try:
                client.get_json(f"/repos/{repo}/{path}")
            except FatalError as exc:
                missing.append(Finding("fail", f"{source.name}: {repo}",
                                       f"cannot read {path.split('?')[0]} ({exc}): grant `{permission}`"))
        findings += missing or [Finding("ok", f"{source.name}: {repo}", "pull requests, deployments, actions and "
                                        "issues readable")]
    return findings


SOURCE = SourceType(
    name="github",
    groups={
        "repositories": ("repositories",),
        "pull_requests": (
            "pull_requests", "pull_request_reviews", "pull_request_commits", "pull_request_timeline_events",
        ),
        "commits": ("commits",),
        "deployments": ("deployments", "deployment_statuses", "compare_commits"),
        "releases": ("releases", "tags"),
        "issues": ("issues",),
        "workflow_runs": ("workflow_runs", "workflow_jobs"),
    },
    extract=extract,
    check=check,
    windowed_groups=("commits",),
    extract_window=extract_window,
)
