"""GitHub.com and Enterprise Server REST as endpoint descriptions.

Streams per repository: the repository itself, pull requests with their reviews, commits and timeline
events (review requests, reviews, comments), commits on the default branch, deployments with their
statuses and the commits each production deployment shipped (compare API; for an environment's first
deployment the deployed sha's history), releases, tags, issues, and Actions workflow runs with their jobs.
Change sets are owed until read, across failed and killed runs (docs/sources/github.md).

Cost: every list page is a conditional request (the ETag of the same page last time), and every
newest-first list stops at the saved cursor, so a nightly run over an unchanged repository spends one
request per stream, answered 304, which GitHub does not count against the rate limit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.core.endpoint import Child, Endpoint, format_cursor, iso_seconds, parse_timestamp
from connectors.core.engine import Engine, StreamResult, utc_now
from connectors.core.errors import BadRequestError, FatalError, NotFoundError, RetriesExhaustedError, ThroughlineError
from connectors.core.http import RequestStats, TokenPool
from connectors.core.paginators import LinkHeaderPaginator
from connectors.core.raw import (
    CursorUpdate, RawRecord, RawStore, RejectedRecord, accounted_parents_sql, lone_surrogate_at, raw_table,
)
from connectors.core.source import (
    Finding, SourceType, each_scope, engine_for, metered, probe_client, stops_the_source,
)
from connectors.github.app import AppInstallationToken
from connectors.github.config import GitHubSource

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
# line comments) say nothing about review. A list element that is not an object is passed on, for the
# engine to refuse with its reason rather than fail the page.
PULL_REQUEST_TIMELINE_EVENTS = _list("pull_request_timeline_events", "repos/{repo}/issues/{number}/timeline",
                                     keep=lambda event: not isinstance(event, Mapping) or event.get("id") is not None)

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

# The first production deployment of an environment has no previous sha to compare with: what it shipped is
# the deployed sha's history back to start_date (all of it without one), stored in the same rows.
SHA_HISTORY = Endpoint(stream="compare_commits", path="repos/{repo}/commits", primary_key="sha",
                       paginator=LinkHeaderPaginator(), max_page_size=100)

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
    keep=lambda issue: not isinstance(issue, Mapping) or "pull_request" not in issue,
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


def jobs_child(repo: str, unchanged: frozenset[tuple[str, str]] = frozenset()) -> Child:
    """The jobs of each run; not asked for a finished run listed again as it is stored (``unchanged``:
    see stored_runs)."""

    def embedded(run: Mapping[str, Any]) -> tuple[list[dict], bool]:
        # "Complete with no records": the engine neither asks nor replaces what is stored.
        return [], (str(run.get("id")), str(run.get("updated_at"))) in unchanged and \
            str(run.get("status") or "").lower() not in UNFINISHED_RUN_STATUSES

    return Child(WORKFLOW_JOBS, path_vars=lambda run: {"repo": repo, "run_id": run["id"]}, only_since=True,
                 embedded=embedded)


def stored_runs(engine: Engine, repo: str) -> frozenset[tuple[str, str]]:
    """(id, updated_at) of the repository's stored workflow runs, whose jobs are stored with them.

    The lookback lists the runs of the last hours again; a finished one whose `updated_at` is the one stored
    has the jobs stored with it (a re-run attempt moves `updated_at`, and the jobs list shows the latest
    attempt), so asking again would cost a request per run every night and find nothing (a 304).
    """
    return engine.stored_versions(WORKFLOW_RUNS.stream, repo, "updated_at")


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
            if scope.wanted(name):
                picked.append(repo)
    return picked


def resolve_repos(engine: Engine, source: GitHubSource) -> list[str]:
    """Explicit repos plus the org's repos whose names pass include/exclude (archived only if asked)."""
    repos = list(source.scope.repos)
    if source.scope.org:
        repos += [r["full_name"] for r in _org_repos(engine, source, RequestStats())]
    return list(dict.fromkeys(repos))


# The stream the ledger (owed and gone reads) and the registration mark in raw._state file change sets under.
CHANGE_SET_STREAM = COMPARE_COMMITS.stream


def _previous_deployments(store: RawStore, source: GitHubSource, repo: str) -> tuple[list[tuple], datetime | None]:
    """The production deployments of the repository whose change set is still to be put in the ledger, as
    (deployment id, sha, previous sha of its environment or None for the environment's first), and the
    creation time of its newest deployment (the next registration mark)."""
    environments = [e.lower() for e in source.options.deployments.production_environments]
    with store.lock:
        return _previous_deployment_rows(store, source, repo, environments)


def _previous_deployment_rows(store: RawStore, source: GitHubSource, repo: str,
                              environments: list[str]) -> tuple[list[tuple], datetime | None]:
    """One query per repository (DuckDB keeps no index to probe), over every deployment any run stored.

    A deployment created after the registration mark is new, whatever run stored it (one that died before
    registering leaves its deployments here). At or before the mark every deployment was registered, so one
    without change-set rows that is neither owed nor gone was read and shipped nothing (a rollback): it is
    not asked again. Without a mark (a first run, or the state reset) every deployment without rows is
    registered, which also picks up those a run older than the ledger never compared.
    """
    mark = store.get_cursor(source.name, CHANGE_SET_STREAM, repo)
    rows = store.con.execute(
        f"""
        WITH d AS (
            SELECT record_key AS id, payload->>'$.sha' AS sha, lower(payload->>'$.environment') AS environment,
                   TRY_CAST(payload->>'$.created_at' AS TIMESTAMPTZ) AS created_at,
                   TRY_CAST(record_key AS BIGINT) AS number
            FROM raw.{raw_table('github', 'deployments')}
            WHERE source_instance = ? AND scope = ?
        ), ordered AS (
            SELECT *, lag(sha) OVER (PARTITION BY environment ORDER BY created_at, number, id) AS previous_sha
            FROM d
        ), known AS ({accounted_parents_sql(raw_table('github', 'compare_commits'))}
        ), new AS (
            SELECT * FROM ordered
            WHERE environment IN (SELECT unnest(?::VARCHAR[])) AND sha IS NOT NULL AND created_at IS NOT NULL
              AND (previous_sha IS NULL OR previous_sha <> sha)
              AND (?::TIMESTAMPTZ IS NULL OR created_at > ?::TIMESTAMPTZ)
              AND id NOT IN (SELECT parent_key FROM known)
        )
        -- The newest creation time rides on every row, and on a row of its own when nothing is new.
        SELECT newest.us, new.id, new.sha, new.previous_sha
        FROM (SELECT epoch_us(max(created_at)) AS us FROM d) AS newest LEFT JOIN new ON true
        ORDER BY new.created_at, new.number, new.id
        """,
        [source.name, repo, source.name, repo, source.name, CHANGE_SET_STREAM, repo,
         source.name, CHANGE_SET_STREAM, repo, environments, mark, mark],
    ).fetchall()
    newest = datetime.fromtimestamp(rows[0][0] / 1e6, UTC) if rows and rows[0][0] is not None else None
    return [row[1:] for row in rows if row[1] is not None], newest


def _change_set_request(previous_sha: str | None, sha: str, start: datetime | None) -> dict:
    """What the ledger keeps of an owed change set: enough to make the read without the raw tables."""
    if previous_sha is not None:
        return {"base": previous_sha, "head": sha}
    return {"sha": sha, "since": iso_seconds(start) if start is not None else None}


def _read_change_set(engine: Engine, repo: str, deployment_id: str, request: Mapping[str, Any],
                     result: StreamResult) -> tuple[list[RawRecord], list[RejectedRecord]]:
    """The commits one deployment shipped, every page of them (nothing is written until all are read), and
    the entries that cannot be stored (no sha, a lone UTF-16 surrogate in a message): refused, not fatal."""
    if "base" in request:
        endpoint = COMPARE_COMMITS
        path = COMPARE_COMMITS.path.format(repo=repo, base=request["base"], head=request["head"])
        params: dict[str, Any] = COMPARE_COMMITS.paginator.first_params(100)
    else:
        endpoint = SHA_HISTORY
        path = SHA_HISTORY.path.format(repo=repo)
        params = {"sha": request["sha"], **SHA_HISTORY.paginator.first_params(100)}
        if request.get("since"):
            params["since"] = request["since"]
    records: list[RawRecord] = []
    rejected: list[RejectedRecord] = []
    for page in engine.pages(endpoint, path, params, result.stats, 100):
        result.pages += 1
        for commit in page:
            sha = commit.get("sha") if isinstance(commit, Mapping) else None
            key = f"{deployment_id}:{sha}" if isinstance(sha, str) and sha else None
            bad = "a commit without a sha" if key is None else lone_surrogate_at(commit)
            if bad is None:
                records.append(RawRecord(key, commit, deployment_id, repo))
            else:
                reason = bad if key is None else f"a lone UTF-16 surrogate at {bad}"
                rejected.append(RejectedRecord(CHANGE_SET_STREAM, repo, key, f"deployment {deployment_id}: {reason}",
                                               commit))
    return records, rejected


def _describe(deployment_id: str, request: Mapping[str, Any]) -> str:
    if "base" in request:
        return f"deployment {deployment_id} compares {str(request['base'])[:12]}...{str(request['head'])[:12]}"
    return f"deployment {deployment_id} (its environment's first) lists the history of {str(request['sha'])[:12]}"


def _read_owed_change_sets(engine: Engine, source: GitHubSource, repo: str, result: StreamResult,
                           skip: set[str]) -> list[tuple[str, RetriesExhaustedError]]:
    """Make every change-set read the ledger holds for the repository (but ``skip``), oldest owed first; each
    lands with its settlement in one transaction. A read that keeps failing stays owed (its attempts counted)
    and is returned while the others go on; a sha GitHub no longer has is recorded as gone, not asked again."""
    store = engine.store
    failed: list[tuple[str, RetriesExhaustedError]] = []
    with store.batched():  # each read commits while the next one downloads
        for read in store.owed(source.name, CHANGE_SET_STREAM, repo):
            if read.parent_key in skip or not ({"base", "sha"} & set(read.request)):
                continue  # (a request this code did not write is not its to make)
            what = _describe(read.parent_key, read.request)
            try:
                records, rejected = _read_change_set(engine, repo, read.parent_key, read.request, result)
            except (NotFoundError, BadRequestError) as exc:
                # A force-push can delete a deployed sha: the change set is then unknowable without a clone.
                log.warning("%s %s: %s, which GitHub no longer has (%s); recorded as gone and not asked again",
                            source.name, repo, what, type(exc).__name__)
                store.gone(source.name, CHANGE_SET_STREAM, repo, read.parent_key, f"{what}: {exc}")
                result.gone += 1
                continue
            except RetriesExhaustedError as exc:
                log.warning("%s %s: %s failed (%s); it stays owed and is read first next run", source.name, repo, what,
                            exc)
                store.owe(source.name, CHANGE_SET_STREAM, repo, read.parent_key, dict(read.request), str(exc))
                failed.append((read.parent_key, exc))
                continue
            store.write([(result.table, source.name, records)],
                        settled=[(source.name, CHANGE_SET_STREAM, read.parent_key)],
                        rejected=[(source.name, r) for r in rejected])
            result.records += len(records)
            result.rejected += len(rejected)
    return failed


def read_compare_commits(engine: Engine, source: GitHubSource, repo: str, result: StreamResult | None = None,
                         failed: list[tuple[str, RetriesExhaustedError]] | None = None) -> StreamResult:
    """The change set of every production deployment of the repository that has none yet.

    Each deployment stored (by this run or one that died) since the last registration is put in the ledger
    of owed reads, then every owed read is made: the compare with the previous deployment of its environment,
    or for an environment's first deployment the deployed sha's history back to `start_date`. A read that
    failed past its retries (here, or earlier in the run: ``failed``) stays owed, and the group fails once all
    the others are read and committed.
    """
    started = time.monotonic()
    result = result or StreamResult(source.name, engine.table(COMPARE_COMMITS), repo)
    failed = list(failed or [])
    store = engine.store
    store.ensure_table(result.table)
    new, newest = _previous_deployments(store, source, repo)
    result.cursor_before = store.get_cursor(source.name, CHANGE_SET_STREAM, repo)
    with store.batched():  # the registrations and the cursor after them commit together, in order
        for deployment_id, sha, previous_sha in new:
            store.owe(source.name, CHANGE_SET_STREAM, repo, deployment_id,
                      _change_set_request(previous_sha, sha, engine.options.start_date), "production deployment")
        if newest is not None:
            # Only once every deployment up to it is owed: a crash before this line registers them again.
            store.write([], CursorUpdate(source.name, CHANGE_SET_STREAM, repo, format_cursor(newest)))
    result.cursor_after = store.get_cursor(source.name, CHANGE_SET_STREAM, repo)
    failed += _read_owed_change_sets(engine, source, repo, result, {key for key, _ in failed})
    result.seconds += time.monotonic() - started
    result.owed = len(failed)
    if failed:
        shown = ", ".join(key for key, _ in failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        error = RetriesExhaustedError(
            f"{source.name} {repo}: the change sets of {len(failed)} deployment(s) ({shown}) could not be read "
            f"({failed[0][1]}); the other deployments and change sets are saved, and these stay owed: the next "
            f"run reads them first"
        )
        error.result = result  # what the failed stream did, for the run report
        raise error
    return result


def _read_deployments(engine: Engine, source: GitHubSource, repo: str) -> list[StreamResult]:
    change_sets = StreamResult(source.name, engine.table(COMPARE_COMMITS), repo)
    engine.store.ensure_table(change_sets.table)
    # What earlier runs left owed comes first, so a deployments list failing today does not hold it back.
    started = time.monotonic()
    failed = _read_owed_change_sets(engine, source, repo, change_sets, set())
    change_sets.seconds += time.monotonic() - started
    deployments = engine.run(DEPLOYMENTS, scope=repo, path_vars={"repo": repo}, children=(statuses_child(repo),))
    return [deployments, read_compare_commits(engine, source, repo, change_sets, failed)]


def _extract_repo(group: str, engine: Engine, source: GitHubSource, repo: str) -> list[StreamResult]:
    at = {"repo": repo}
    if group == "pull_requests":
        return [engine.run(PULL_REQUESTS, scope=repo, path_vars=at, children=pull_request_children(repo))]
    if group == "commits":
        return [engine.run(COMMITS, scope=repo, path_vars=at)]
    if group == "deployments":
        return _read_deployments(engine, source, repo)
    if group == "releases":
        return [engine.run(RELEASES, scope=repo, path_vars=at), engine.run(TAGS, scope=repo, path_vars=at)]
    if group == "issues":
        return [engine.run(ISSUES, scope=repo, path_vars=at)]
    if group == "workflow_runs":
        return [engine.run(WORKFLOW_RUNS, scope=repo, path_vars=at,
                           children=(jobs_child(repo, stored_runs(engine, repo)),))]
    raise ValueError(f"github has no extraction group '{group}'")


class _Stopped(ThroughlineError):
    """A repository not started because another one met an error that stops the whole source."""


def extract(group: str, source: GitHubSource, store: RawStore, **client_kw) -> list[StreamResult]:
    """Read one group for every repository of the source, up to `options.max_concurrent_repos` at once.

    Repositories are independent, and a run over many is mostly waiting on the network, so each worker
    thread reads whole repositories with its own HTTP session; the token pool is shared (it counts every
    request under its lock) and the raw store serializes writes. Results come back in repository order.
    A repository that fails costs only its own streams: the others are read, then the first failure is
    raised carrying every result and every failed repository (connectors/core/source.py, each_scope).
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
    table = raw_table("github", SOURCE.groups[group][0])  # a failed repository's stream, if the engine names none
    if group == "repositories":
        def only(org: str | None, repos: list[str]) -> GitHubSource:
            return source.model_copy(update={"scope": source.scope.model_copy(update={"org": org, "repos": repos})})

        # The org listing first (its failure fails the source), then each listed repository as its own scope.
        listed = _extract_repositories(engine, only(source.scope.org, [])) if source.scope.org else []
        return each_scope(source, table, source.scope.repos,
                          lambda repo: _extract_repositories(engine, only(None, [repo])), engine.client, done=listed)
    repos = resolve_repos(engine, source)
    workers = min(source.options.max_concurrent_repos, len(repos))
    if workers <= 1:
        return each_scope(source, table, repos, lambda repo: _extract_repo(group, engine, source, repo), engine.client)

    local = threading.local()
    stop = threading.Event()

    def read(repo: str) -> list[StreamResult]:
        if not hasattr(local, "engine"):
            local.engine = new_engine()  # requests.Session is not safe to share between threads
        if stop.is_set():
            raise _Stopped()
        with metered(local.engine.client) as cost:
            try:
                return _extract_repo(group, local.engine, source, repo)
            except (ThroughlineError, ValueError) as exc:
                if stops_the_source(exc):
                    stop.set()  # a refused token or spent quota: repositories not started are not tried
                exc.cost = cost
                raise

    # Each repository is one scope: its failure is collected, the others are read (each commits what it
    # read); results and failures keep repository order, as in a sequential run.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"github-{source.name}") as pool:
        futures = [pool.submit(read, repo) for repo in repos]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result())
            except (ThroughlineError, ValueError) as exc:
                outcomes.append(exc)

    def replay(repo: str) -> list[StreamResult]:
        outcome = outcomes[repos.index(repo)]
        if isinstance(outcome, _Stopped):
            first = next(o for o in outcomes if isinstance(o, BaseException) and stops_the_source(o))
            raise first
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return each_scope(source, table, repos, replay)


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



def dbt_vars(github: list[GitHubSource]) -> dict[str, Any]:
    """The incident labels of every GitHub source, merged (compared case-insensitively)."""
    return {"github_incident_labels": sorted(
        {label.strip().lower() for s in github for label in s.options.incident_labels if label.strip()})}


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
    config_model=GitHubSource,
    dbt_vars=dbt_vars,
)
