"""An endpoint described as data: the engine needs nothing else to read it page by page."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.core.paginators import GraphQLCursorPaginator, Paginator, SinglePage, dig

_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_timestamp(value: str | None) -> datetime | None:
    """Read the API timestamps we meet (`...Z`, `...+0000`, `...+00:00`) as aware UTC datetimes."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    text = _OFFSET.sub(r"\1:\2", text)  # Jira writes +0000; fromisoformat wants +00:00 on 3.10
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_cursor(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_seconds(value: datetime) -> str:
    """UTC ISO 8601 to the second (`2026-01-05T09:00:00Z`): what most APIs' since/until parameters take."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Endpoint:
    """One stream of records.

    ``path`` may hold ``{placeholders}`` filled from the scope (``{repo}``) or the parent record.
    ``order`` says how the cursor field is sorted in the answer: with ``ascending`` the cursor
    advances after every committed page; otherwise only when the whole stream has been read.

    A request's parameters (``params``, the paginator's, ``since_params``, ``window_params``) are built
    the same way for every endpoint; ``params_in`` says where they go: the URL's query, or, for a POST,
    the JSON body (``"body"``) or an object inside it (``"body.variables"``: a GraphQL query's variables).
    """

    stream: str
    path: str
    records_path: str | None = None
    primary_key: str = "id"
    cursor_field: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    paginator: Paginator = SinglePage()
    max_page_size: int | None = None
    # Turns the lower bound (cursor minus lookback, or start_date) into request parameters.
    since_params: Callable[[datetime], Mapping[str, Any]] | None = None
    # Request parameters for the time window [since, until): lets a history load read a large
    # source one window at a time (operations/history.py). None: the API has no upper bound.
    window_params: Callable[[datetime, datetime], Mapping[str, Any]] | None = None
    order: Literal["ascending", "descending", "none"] = "none"
    # For descending lists the server cannot filter: stop once a page reaches records older than `since`.
    stop_at_since: bool = False
    # A record that is still changing (a run in progress) holds the cursor so it is read again.
    is_complete: Callable[[Mapping[str, Any]], bool] | None = None
    # Change the payload before it is stored (e.g. move an embedded changelog to its own stream).
    transform: Callable[[dict], dict] | None = None
    # Drop records the list mixes in but the stream does not hold (GitHub /issues also lists PRs).
    keep: Callable[[Mapping[str, Any]], bool] | None = None
    # The key is unique per scope only (a commit sha is shared by forks): store it as "scope:key".
    key_with_scope: bool = False
    # The answer is one object, not a list (GitHub /repos/{repo}).
    single_object: bool = False
    # Send If-None-Match with the ETag of the same page last time: a 304 costs no quota (GitHub).
    conditional: bool = False
    # Given a request's params and its first answer, narrower requests to make instead (the answer is
    # then dropped), or None to keep it: searches that stop at N results (GitHub Actions runs, 1000).
    split: Callable[[Mapping[str, Any], Any], list[dict[str, Any]] | None] | None = None
    # POST reads by a query in the body: a search (Jira /search/jql, Azure DevOps WIQL) or GraphQL.
    method: Literal["GET", "POST"] = "GET"
    # The fixed part of a POST's JSON body (a GraphQL query's text); the parameters are merged into it.
    body: Mapping[str, Any] = field(default_factory=dict)
    # "query", "body" or "body.<dotted path>" (see the class docstring).
    params_in: str = "query"
    # The answer is GraphQL's: failures come as an `errors` list (under HTTP 200), typed like HTTP errors.
    graphql: bool = False

    def __post_init__(self):
        if self.method not in ("GET", "POST"):
            raise ValueError(f"stream '{self.stream}': method must be GET or POST, not {self.method!r}")
        if self.params_in != "query" and self.params_in != "body" and not self.params_in.startswith("body."):
            raise ValueError(f"stream '{self.stream}': params_in is 'query', 'body' or 'body.<path>', "
                             f"not {self.params_in!r}")
        if self.method == "GET" and (self.body or self.params_in != "query" or self.graphql):
            raise ValueError(f"stream '{self.stream}': a JSON body (body, params_in, graphql) needs method='POST'")
        if self.method == "POST" and self.conditional:
            raise ValueError(f"stream '{self.stream}': conditional requests (ETags) are for GET only")
        if isinstance(self.paginator, GraphQLCursorPaginator) and self.paginator.page_info_path is None:
            # The connection's pageInfo sits beside its nodes: data.issues.nodes -> data.issues.pageInfo.
            if not self.records_path or "." not in self.records_path:
                raise ValueError(f"stream '{self.stream}': GraphQLCursorPaginator needs page_info_path, or a "
                                 f"records_path inside a connection (data.issues.nodes)")
            info = self.records_path.rsplit(".", 1)[0] + ".pageInfo"
            object.__setattr__(self, "paginator", replace(self.paginator, page_info_path=info))

    def request_of(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(the URL's query parameters, the JSON body or None) of a request with ``params``."""
        if self.params_in == "query":
            return dict(params), (_merged(self.body, {}) if self.method == "POST" else None)
        inside: dict[str, Any] = dict(params)
        for part in reversed(self.params_in.split(".")[1:]):
            inside = {part: inside}
        return {}, _merged(self.body, inside)

    def key_of(self, record: Mapping[str, Any]) -> str:
        key = dig(record, self.primary_key)
        if key is None:
            raise ValueError(f"record of stream '{self.stream}' has no '{self.primary_key}'")
        return str(key)

    def cursor_of(self, record: Mapping[str, Any]) -> str | None:
        value = dig(record, self.cursor_field) if self.cursor_field else None
        return None if value is None else str(value)

    def records_of(self, body: Any) -> list[dict]:
        """The page's records that ``keep`` accepts."""
        return self.kept(self.listed_of(body))

    def kept(self, records: list[dict]) -> list[dict]:
        return records if self.keep is None else [r for r in records if self.keep(r)]

    def listed_of(self, body: Any) -> list[dict]:
        """Every record the page lists, before ``keep``: what paging and cursors count."""
        records = dig(body, self.records_path)
        if records is None:
            return []
        if self.single_object and isinstance(records, dict):
            records = [records]
        if not isinstance(records, list):
            raise ValueError(f"stream '{self.stream}': expected a list at '{self.records_path}'")
        return records


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, objects merged key by key (a GraphQL body's fixed variables
    beside the request's); neither is changed."""
    out = dict(base)
    for key, value in extra.items():
        held = out.get(key)
        out[key] = _merged(held, value) if isinstance(held, Mapping) and isinstance(value, Mapping) else value
    return out


def _no_path_vars(parent: Mapping[str, Any]) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Child:
    """A stream read once per parent record (deployment statuses, issue changelogs).

    ``embedded`` returns the child records the parent already carries and whether they are
    complete; only when they are not is the child endpoint called, so a full embedded list costs
    no request.

    With ``batch`` the children of up to that many parents are read by one request chain (Jira Cloud's
    changelog bulkfetch): a POST whose body ``batch_body`` builds from the parents' keys, answering groups
    of which ``batch_parent`` names the parent and ``batch_records`` the child records (default: the group
    is the record). Complete embedded children land with their page as usual; a page with parents to ask
    waits (uncommitted, with its cursor) until ``batch`` parents need a read or the engine's BATCH_HOLD
    batches of parents are held, and is then committed together with their children. A parent the answer
    leaves out is recorded gone (Jira omits issues deleted or not visible), and a chain that keeps failing
    leaves each of its parents' reads owed.
    """

    endpoint: Endpoint
    path_vars: Callable[[Mapping[str, Any]], Mapping[str, Any]] = _no_path_vars
    embedded: Callable[[Mapping[str, Any]], tuple[list[dict], bool]] | None = None
    # Read only for parents at or after the run's lower bound: a descending list's last page also
    # holds older parents, whose children an earlier run already read.
    only_since: bool = False
    # The child's own key is not unique across parents (one commit in two PRs): prefix the parent key.
    key_with_parent: bool = False
    # The child list is the parent's current state (a PR's commits after a force-push): a parent whose
    # children were read again replaces its earlier children instead of adding to them.
    replace: bool = False
    batch: int = 0
    batch_body: Callable[[list[str]], Mapping[str, Any]] | None = None
    batch_parent: Callable[[Mapping[str, Any]], Any] | None = None
    batch_records: Callable[[Mapping[str, Any]], list[Any]] | None = None

    def __post_init__(self):
        stream = self.endpoint.stream
        if self.batch < 0:
            raise ValueError(f"child stream '{stream}': batch is a number of parents (>= 1), or 0 for one read "
                             f"per parent, not {self.batch}")
        if self.batch and (self.endpoint.method != "POST" or self.endpoint.params_in == "query"
                           or self.batch_body is None or self.batch_parent is None):
            raise ValueError(f"child stream '{stream}': a batched child POSTs its parents' keys in a JSON body: it "
                             f"needs method='POST', params_in='body', batch_body and batch_parent")
