"""Bitbucket Cloud REST 2.0 as endpoint descriptions (https://api.bitbucket.org/2.0); a `flavour: datacenter`
source is read by connectors/bitbucket/datacenter.py (the 1.0 API) into the same raw tables.

Streams per repository of one workspace: pull requests with their activity (approvals, comments, updates)
and commits, Pipelines runs, deployment environments and deployments, and the commits each production
deployment shipped; plus the workspace's repositories.

Paging: every list answers `{"values": [...], "pagelen", "page", "size", "next"}` and the next page is only
ever the `next` URL (activity pages are keyed by an opaque `ctx`, not a page number), so the paginator
follows it. Incremental: pull requests are asked `q=updated_on >= <cursor - lookback>` with
`sort=updated_on`, oldest update first, so the cursor advances every page; approving, commenting or pushing
bumps `updated_on`, so a pull request listed again unchanged keeps its stored activity and commits without a
request. Pipelines are listed newest first (`sort=-created_on`) and the list stops at the cursor; a run not
yet COMPLETED holds the cursor so it is read again. Environments and deployments carry no filter or update
time the API sorts by, so they are read whole each run (a repository has few environments; deployments
are keyed by uuid, so a re-read replaces, never duplicates). The commits a production deployment shipped
are `commits/<its hash>?exclude=<the hash of the previous deployment to its environment>` (`git log b ^a`),
read once per deployment: the ranges to read are kept in the ledger of owed reads (connectors/core/raw.py)
until they are written, so a failed run reads them first next time.

No conditional requests: Bitbucket sends ETags on single objects but its paged lists change `next` with each
page, and a 304 still counts against the hourly limit, so nothing is saved. Rate limits: a rolling hour per
user or token; past it the answer is 429 ("Rate limit for this resource has been exceeded") without a
documented Retry-After, which the HTTP client retries with its backoff (and honours Retry-After if sent).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.bitbucket import datacenter, repositories
from connectors.bitbucket.config import BitbucketSource
from connectors.core.endpoint import Child, Endpoint, format_cursor, iso_seconds, parse_timestamp
from connectors.core.engine import Engine, StreamResult
from connectors.core.errors import BadRequestError, FatalError, NotFoundError, RetriesExhaustedError
from connectors.core.paginators import NextUrlPaginator, dig
from connectors.core.raw import CursorUpdate, RawRecord, RawStore, accounted_parents_sql, raw_table
from connectors.core.source import Finding, SourceType, each_scope, engine_for, probe_client

log = logging.getLogger(__name__)

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

# A pull request's id is its number in its repository (every repository has a #1): the key is
# `<workspace>/<repo>:<id>`, and its activity's and commits' keys start with it.
PULL_REQUESTS = _list("pull_requests", "repositories/{workspace}/{repo}/pullrequests", max_page_size=50,
                      params={"state": list(PULL_REQUEST_STATES), "sort": "updated_on"},
                      cursor_field="updated_on", since_params=_updated_since, order="ascending",
                      key_with_scope=True)


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

# What a production deployment shipped: the history of its commit less what the previous deployment to the
# same environment (whatever its outcome) reached, newest first; the environment's first deployment lists
# its commit's history back to start_date. A range of two hashes never changes, so it is read once.
DEPLOYMENT_COMMITS = _list("deployment_commits", "repositories/{workspace}/{repo}/commits/{revision}",
                           max_page_size=50, primary_key="hash")


def _unregistered_deployments(store: RawStore, source: BitbucketSource,
                              repo: str) -> tuple[list[tuple], datetime | None]:
    """The production deployments of ``repo`` (scope ``workspace/repo``) not yet put in the ledger, as
    (deployment uuid, hash, previous hash of its environment or None), oldest first, and the newest
    deployment's start (the next registration mark). Past the mark every deployment was registered, so one
    without rows that is neither owed nor gone shipped nothing (a redeploy of an older hash)."""
    mark = store.get_cursor(source.name, DEPLOYMENT_COMMITS.stream, repo)
    production = source.options.deployments.production_environments
    with store.lock:
        rows = store.con.execute(
            f"""
            WITH environments AS (
                SELECT record_key AS uuid, lower(payload->>'$.name') AS name,
                       payload->>'$.environment_type.name' AS type
                FROM raw.{raw_table('bitbucket', 'environments')} WHERE source_instance = ? AND scope = ?
            ), d AS (
                SELECT d.record_key AS id, d.payload->>'$.environment.uuid' AS environment,
                       d.payload->>'$.release.commit.hash' AS sha,
                       TRY_CAST(coalesce(d.payload->>'$.state.started_on', d.payload->>'$.release.created_on')
                                AS TIMESTAMPTZ) AS started_at,
                       e.type = 'Production' OR e.name IN (SELECT lower(unnest(?::VARCHAR[]))) AS is_production
                FROM raw.{raw_table('bitbucket', 'deployments')} AS d
                LEFT JOIN environments AS e ON e.uuid = d.payload->>'$.environment.uuid'
                -- UNDEPLOYED: a step not run (a manual promotion not taken) deployed nothing, so it is no one's
                -- previous deployment; it is registered once it runs
                WHERE d.source_instance = ? AND d.scope = ? AND d.payload->>'$.state.name' IS DISTINCT FROM 'UNDEPLOYED'
            ), ordered AS (
                SELECT *, lag(sha) OVER (PARTITION BY environment ORDER BY started_at, id) AS previous_sha
                FROM d WHERE sha IS NOT NULL AND started_at IS NOT NULL
            ), known AS ({accounted_parents_sql(raw_table('bitbucket', DEPLOYMENT_COMMITS.stream))}
            ), new AS (
                SELECT * FROM ordered
                WHERE coalesce(is_production, false) AND (previous_sha IS NULL OR previous_sha <> sha)
                  AND (?::TIMESTAMPTZ IS NULL OR started_at > ?::TIMESTAMPTZ)
                  AND id NOT IN (SELECT parent_key FROM known)
            )
            SELECT newest.us, new.id, new.sha, new.previous_sha
            FROM (SELECT epoch_us(max(started_at)) AS us FROM ordered) AS newest LEFT JOIN new ON true
            ORDER BY new.started_at, new.id
            """,
            [source.name, repo, production, source.name, repo, source.name, repo,
             source.name, DEPLOYMENT_COMMITS.stream, repo, source.name, DEPLOYMENT_COMMITS.stream, repo, mark, mark],
        ).fetchall()
    newest = datetime.fromtimestamp(rows[0][0] / 1e6, UTC) if rows and rows[0][0] is not None else None
    return [row[1:] for row in rows if row[1] is not None], newest


def _read_range(engine: Engine, workspace: str, repo: str, deployment_id: str, request: Mapping[str, Any],
                result: StreamResult) -> list[RawRecord]:
    """Every page of one deployment's commits (nothing is written until all are read). Without a previous
    hash the history is read newest first down to start_date; Bitbucket's list has no date filter."""
    path = DEPLOYMENT_COMMITS.path.format(workspace=workspace, repo=repo.split("/", 1)[1],
                                          revision=request["revision"])
    params: dict[str, Any] = dict(PAGES.first_params(engine.page_size_for(DEPLOYMENT_COMMITS)))
    if request.get("exclude"):
        params["exclude"] = request["exclude"]
    since = parse_timestamp(request["since"]) if request.get("since") else None
    records: list[RawRecord] = []
    for page in engine.pages(DEPLOYMENT_COMMITS, path, params, result.stats):
        result.pages += 1
        kept = [c for c in page if since is None or (parse_timestamp(c.get("date")) or since) >= since]
        records += [RawRecord(f"{deployment_id}:{c['hash']}", c, deployment_id, repo) for c in kept if c.get("hash")]
        if len(kept) < len(page):
            break  # newest first: the rest is older still
    return records


def read_deployment_commits(engine: Engine, source: BitbucketSource, repo: str) -> StreamResult:
    """Register the production deployments stored since the last run as owed ranges, then read every owed
    range of the repository; a range that keeps failing stays owed and fails the stream once the others
    are written, a hash Bitbucket no longer has (a force-push) is recorded gone and not asked again."""
    started = time.monotonic()
    store, stream = engine.store, DEPLOYMENT_COMMITS.stream
    result = StreamResult(source.name, engine.table(DEPLOYMENT_COMMITS), repo)
    store.ensure_table(result.table)
    new, newest = _unregistered_deployments(store, source, repo)
    result.cursor_before = store.get_cursor(source.name, stream, repo)
    start = engine.options.start_date
    with store.batched():  # the registrations and the mark after them commit together
        for deployment_id, sha, previous in new:
            request = {"revision": sha, "exclude": previous} if previous else {
                "revision": sha, "since": iso_seconds(start) if start is not None else None}
            store.owe(source.name, stream, repo, deployment_id, request, "production deployment")
        if newest is not None:
            store.write([], CursorUpdate(source.name, stream, repo, format_cursor(newest)))
    result.cursor_after = store.get_cursor(source.name, stream, repo)
    failed: list[tuple[str, RetriesExhaustedError]] = []
    with store.batched():
        for read in store.owed(source.name, stream, repo):
            what = f"deployment {read.parent_key} ({str(read.request.get('revision'))[:12]})"
            try:
                records = _read_range(engine, source.scope.workspace, repo, read.parent_key, read.request, result)
            except (NotFoundError, BadRequestError) as exc:
                log.warning("%s %s: the commits of %s are gone (%s); not asked again", source.name, repo, what,
                            type(exc).__name__)
                store.gone(source.name, stream, repo, read.parent_key, f"{what}: {exc}")
                result.gone += 1
                continue
            except RetriesExhaustedError as exc:
                store.owe(source.name, stream, repo, read.parent_key, dict(read.request), str(exc))
                failed.append((read.parent_key, exc))
                continue
            store.write([(result.table, source.name, records)], settled=[(source.name, stream, read.parent_key)])
            result.records += len(records)
    result.seconds += time.monotonic() - started
    result.owed = len(failed)
    if failed:
        error = RetriesExhaustedError(
            f"{source.name} {repo}: the commits of {len(failed)} deployment(s) ({failed[0][0]}, ...) could not be "
            f"read ({failed[0][1]}); everything else is saved and these stay owed: the next run reads them first")
        error.result = result
        raise error
    return result


def pull_request_children(workspace: str, repo: str,
                          unchanged: frozenset[tuple[str, str]] = frozenset()) -> tuple[Child, ...]:
    """Activity and commits of each pull request read; ``unchanged`` holds (id, updated_on) of pull requests
    stored with their children, whose lists are not asked again."""
    path_vars = lambda pr: {"workspace": workspace, "repo": repo, "id": pr["id"]}  # noqa: E731

    def embedded(pr: Mapping[str, Any]) -> tuple[list[dict], bool]:
        return [], (f"{workspace}/{repo}:{pr.get('id')}", str(pr.get("updated_on"))) in unchanged

    return (
        Child(PULL_REQUEST_ACTIVITY, path_vars=path_vars, embedded=embedded, key_with_parent=True, replace=True),
        Child(PULL_REQUEST_COMMITS, path_vars=path_vars, embedded=embedded, key_with_parent=True, replace=True),
    )


def _workspace(source: BitbucketSource) -> dict[str, str]:
    return {"workspace": source.scope.workspace}


def _forget_unscoped_pull_requests(store: RawStore, source: BitbucketSource, scope: str) -> None:
    """Drop the pull requests an earlier version stored under their number alone, with their activity and
    commits, and read the repository's pull requests again from start_date. Under those keys the pull
    requests of two repositories with the same number overwrote each other, so what is stored cannot be
    trusted; once re-read under `<workspace>/<repo>:<id>` there is nothing left to drop (one query a run)."""
    table = raw_table("bitbucket", PULL_REQUESTS.stream)
    store.ensure_table(table)
    with store.lock:
        (count,) = store.con.execute(
            f"SELECT count(*) FROM raw.{table} WHERE source_instance = ? AND scope = ? AND record_key NOT LIKE '%:%'",
            [source.name, scope]).fetchall()[0]
    if not count:
        return
    log.warning("%s %s: %d pull request(s) were stored under their number alone (by an earlier version), where two "
                "repositories' pull requests with one number overwrote each other; they are dropped with their "
                "activity and commits and the repository's pull requests are read again from start_date",
                source.name, scope, count)
    streams = (PULL_REQUEST_ACTIVITY.stream, PULL_REQUEST_COMMITS.stream)
    store.forget(source.name, scope,
                 {table: "record_key NOT LIKE '%:%'",
                  **{raw_table("bitbucket", stream): "parent_key NOT LIKE '%:%'" for stream in streams}},
                 ledgers={stream: "parent_key NOT LIKE '%:%'" for stream in streams},
                 reset_streams=[PULL_REQUESTS.stream])


def _extract_repository(group: str, engine: Engine, source: BitbucketSource, repo: str) -> list[StreamResult]:
    workspace = source.scope.workspace
    at = {"workspace": workspace, "repo": repo}
    scope = f"{workspace}/{repo}"
    if group == "pull_requests":
        _forget_unscoped_pull_requests(engine.store, source, scope)
        unchanged = engine.stored_versions(PULL_REQUESTS.stream, scope, "updated_on")
        return [engine.run(PULL_REQUESTS, scope=scope, path_vars=at,
                           children=pull_request_children(workspace, repo, unchanged))]
    if group == "pipelines":
        return [engine.run(PIPELINES, scope=scope, path_vars=at)]
    if group == "deployments":
        return [engine.run(ENVIRONMENTS, scope=scope, path_vars=at), engine.run(DEPLOYMENTS, scope=scope, path_vars=at),
                read_deployment_commits(engine, source, scope)]
    raise ValueError(f"bitbucket has no extraction group '{group}'")


def _extract_datacenter(group: str, engine: Engine, source: BitbucketSource) -> list[StreamResult]:
    if group == "repositories":
        return repositories.extract_repositories(engine, source, datacenter.REPOSITORIES,
                                                 datacenter.owner(source))
    if group != "pull_requests":
        # Data Center has no Pipelines and no deployments API: its deployments come through the events source
        log.info("%s: Bitbucket Data Center has no %s API; nothing to read", source.name, group)
        return []
    table = raw_table("bitbucket", SOURCE.groups[group][0])
    slugs = repositories.resolve_repositories(engine, source, datacenter.REPOSITORIES, datacenter.owner(source))
    return each_scope(source, table, slugs,
                      lambda repo: datacenter.extract_pull_requests(engine, source, repo), engine.client)


def extract(group: str, source: BitbucketSource, store, **client_kw) -> list[StreamResult]:
    """Read one group of streams for every repository of the workspace (Cloud) or project (Data Center), one
    repository after another."""
    if group not in SOURCE.groups:
        raise ValueError(f"bitbucket has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    if source.flavour == "datacenter":
        return _extract_datacenter(group, engine, source)
    if group == "repositories":
        return repositories.extract_repositories(engine, source, REPOSITORIES, _workspace(source))
    # A repository that fails (403, deleted, Pipelines off) costs only its own streams.
    table = raw_table("bitbucket", SOURCE.groups[group][0])
    slugs = repositories.resolve_repositories(engine, source, REPOSITORIES, _workspace(source))
    return each_scope(source, table, slugs,
                      lambda repo: _extract_repository(group, engine, source, repo), engine.client)


def check(source: BitbucketSource, **client_kw) -> list[Finding]:
    """Whether the credentials read the workspace's (or project's) repositories, and each named repository."""
    if source.flavour == "datacenter":
        return datacenter.check(source, auth_headers(source), **client_kw)
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
        "deployments": ("environments", "deployments", "deployment_commits"),
    },
    extract=extract,
    check=check,
    config_model=BitbucketSource,
)
