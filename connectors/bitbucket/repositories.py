"""The repositories a bitbucket source reads, of a Cloud workspace or of a Data Center project: one listing,
kept by the scope's named slugs and include/exclude globs, for both flavours."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.bitbucket.config import BitbucketSource
from connectors.core.endpoint import Endpoint
from connectors.core.engine import Engine, StreamResult
from connectors.core.http import RequestStats
from connectors.core.raw import RawRecord


def listed_repositories(engine: Engine, source: BitbucketSource, endpoint: Endpoint, owner: Mapping[str, str],
                        stats: RequestStats) -> list[dict]:
    """The repositories of ``owner`` (the path's workspace or project) that the scope keeps."""
    scope = source.scope
    params = {**endpoint.params, **endpoint.paginator.first_params(engine.page_size_for(endpoint))}
    listed = [repo for page in engine.pages(endpoint, endpoint.path.format(**owner), params, stats) for repo in page]
    return [repo for repo in listed if (not scope.repositories or repo.get("slug") in scope.repositories)
            and scope.wanted(repo.get("slug") or "")]


def resolve_repositories(engine: Engine, source: BitbucketSource, endpoint: Endpoint,
                         owner: Mapping[str, str]) -> list[str]:
    """The slugs to read: the named ones as they are, else the listing's."""
    if source.scope.repositories and source.scope.include == ["*"] and not source.scope.exclude:
        return list(source.scope.repositories)  # named: no listing needed
    return [repo["slug"] for repo in listed_repositories(engine, source, endpoint, owner, RequestStats())]


def extract_repositories(engine: Engine, source: BitbucketSource, endpoint: Endpoint,
                         owner: Mapping[str, str]) -> list[StreamResult]:
    """The repository list into its raw table, keyed by the endpoint's primary key, scoped by the owner."""
    (scope,) = owner.values()
    result = StreamResult(source.name, engine.table(endpoint), scope)
    engine.store.ensure_table(result.table)
    repos = listed_repositories(engine, source, endpoint, owner, result.stats)
    records = [RawRecord(str(repo[endpoint.primary_key]), repo, None, scope) for repo in repos]
    engine.store.write([(result.table, source.name, records)])
    result.records, result.pages = len(records), result.stats.requests
    return [result]
