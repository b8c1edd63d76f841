"""Linear (GraphQL API, https://api.linear.app/graphql) as endpoint descriptions.

Every stream is one GraphQL query POSTed to `graphql`, its variables (`first`, `after`, `since`, `teams`) in the
body, paged by the connection's `pageInfo { hasNextPage endCursor }` (GraphQLCursorPaginator). One scope (`all`):
the workspace the API key sees, narrowed to `options.teams` by a `team.key in` filter.

Groups and streams:
- `issues`: `issues(orderBy: updatedAt, filter: {updatedAt: {gte: $since}}, includeArchived: true)`, the cursor
  minus the lookback as `since`. Linear lists the most recently updated first, so the cursor moves when the
  stream is read to its end (order "descending"). Each issue carries its first HISTORY_PAGE history entries
  (`history(first: 50)`), stored as the child stream `issue_history` with the issue's page: one request per 50
  issues with their transitions, where a per-issue history query would cost one request per issue. The few
  issues with more entries are read on by `issue(id) { history(after: <that endCursor>) }` after the list.
- `planning`: `teams`, `workflow_states` (id -> name and type, for the transitions' state ids), `cycles`
  (sprints) and `projects` (with their initiatives), each read whole every run (short lists).

Failures come as GraphQL `errors` (Endpoint(graphql=True)): `RATELIMITED` (HTTP 400 or 429) is waited out and
retried, `AUTHENTICATION_ERROR` is an AuthError, anything else fails the stream with Linear's message.
"""

from __future__ import annotations

from dataclasses import replace

from connectors.core.endpoint import Child, Endpoint, iso_seconds
from connectors.core.engine import Engine, StreamResult
from connectors.core.errors import FatalError
from connectors.core.paginators import GraphQLCursorPaginator, dig
from connectors.core.source import Finding, SourceType, each_scope, engine_for, probe_client
from connectors.linear.config import LinearSource

SCOPE = "all"
PATH = "graphql"
# History entries asked with each issue; an issue with more is read on by ISSUE_HISTORY.
HISTORY_PAGE = 50
# Linear's cap on `first` for the lists read whole (and the overflow of one issue's history).
MAX_PAGE = 250

# What a transition needs: the states, estimate, cycle, project and parent it moved between, as ids (a nested
# object would cost a complexity point per entry; the ids are joined to workflow_states in dbt).
HISTORY_FIELDS = (
    "id createdAt fromStateId toStateId fromEstimate toEstimate fromCycleId toCycleId fromProjectId toProjectId "
    "fromParentId toParentId"
)
ISSUE_FIELDS = (
    "id identifier title url createdAt updatedAt archivedAt startedAt completedAt canceledAt estimate priority "
    "state { id name type } team { id key } cycle { id } project { id } parent { id } assignee { id name } "
    "labels(first: 10) { nodes { id name } } "
    f"history(first: {HISTORY_PAGE}) {{ nodes {{ {HISTORY_FIELDS} }} pageInfo {{ hasNextPage endCursor }} }}"
)
PAGE_INFO = "pageInfo { hasNextPage endCursor }"


def issues_query(teams: bool) -> str:
    # GraphQL refuses a declared variable the query does not use: $teams only with its filter
    team_filter = ", team: {key: {in: $teams}}" if teams else ""
    team_variable = ", $teams: [String!]" if teams else ""
    return (
        f"query Issues($first: Int, $after: String, $since: DateTimeOrDuration{team_variable}) {{ "
        "issues(first: $first, after: $after, orderBy: updatedAt, includeArchived: true, "
        f"filter: {{updatedAt: {{gte: $since}}{team_filter}}}) {{ nodes {{ {ISSUE_FIELDS} }} {PAGE_INFO} }} }}"
    )


def auth_headers(source: LinearSource):
    key = source.auth.api_key
    # A personal API key goes as it is; `Bearer` is for OAuth access tokens.
    return lambda: {"Authorization": key.get_secret_value()}


def _list(stream: str, connection: str, fields: str, query_args: str = "") -> Endpoint:
    """A list read whole every run (teams, states, cycles, projects)."""
    args = f"first: $first, after: $after, includeArchived: true{query_args}"
    return Endpoint(
        stream=stream, path=PATH, method="POST", graphql=True, params_in="body.variables",
        body={"query": f"query {connection[0].upper()}{connection[1:]}($first: Int, $after: String) "
                       f"{{ {connection}({args}) {{ nodes {{ {fields} }} {PAGE_INFO} }} }}"},
        records_path=f"data.{connection}.nodes", paginator=GraphQLCursorPaginator(), max_page_size=MAX_PAGE,
    )


ISSUES = Endpoint(
    stream="issues",
    path=PATH,
    method="POST",
    graphql=True,
    body={"query": issues_query(teams=False)},
    params_in="body.variables",
    records_path="data.issues.nodes",
    cursor_field="updatedAt",
    paginator=GraphQLCursorPaginator(),
    since_params=lambda since: {"since": iso_seconds(since)},
    order="descending",
    # the history is stored as its own stream (the child below reads it from the issue as it came)
    transform=lambda issue: {k: v for k, v in issue.items() if k != "history"},
)

# The history the issue list embeds (HISTORY_PAGE entries), and the rest of one issue's history. `issue { id }`
# names the issue in the overflow's entries, which have no parent_key (they are not read as a child).
HISTORY = Endpoint(stream="issue_history", path=PATH, method="POST", graphql=True, params_in="body.variables")
ISSUE_HISTORY = Endpoint(
    stream="issue_history", path=PATH, method="POST", graphql=True, params_in="body.variables",
    body={"query": "query IssueHistory($id: String!, $first: Int, $after: String) { issue(id: $id) { "
                   f"history(first: $first, after: $after) {{ nodes {{ {HISTORY_FIELDS} issue {{ id }} }} "
                   f"{PAGE_INFO} }} }} }}"},
    # the largest page whatever options.page_size says (that bounds the issue list's complexity, not this)
    params={"first": MAX_PAGE}, records_path="data.issue.history.nodes",
    paginator=GraphQLCursorPaginator(size_param=None),
)

TEAMS = _list("teams", "teams", "id key name createdAt updatedAt archivedAt")
WORKFLOW_STATES = _list("workflow_states", "workflowStates", "id name type position team { id key } archivedAt")
CYCLES = _list("cycles", "cycles", "id number name startsAt endsAt completedAt createdAt updatedAt archivedAt "
                                   "team { id key }")
PROJECTS = _list("projects", "projects",
                 "id name url createdAt updatedAt archivedAt startDate targetDate startedAt completedAt canceledAt "
                 "progress status { id name type } teams(first: 10) { nodes { id key } } "
                 "initiatives(first: 10) { nodes { id name status targetDate } }")
PLANNING = (TEAMS, WORKFLOW_STATES, CYCLES, PROJECTS)


def _teams_filtered(endpoint: Endpoint, source: LinearSource) -> Endpoint:
    """Cycles of the configured teams only (teams, states and projects are few; dbt keeps what it needs)."""
    if not source.options.teams or endpoint is not CYCLES:
        return endpoint
    query = endpoint.body["query"].replace("$after: String)", "$after: String, $teams: [String!])").replace(
        "includeArchived: true", "includeArchived: true, filter: {team: {key: {in: $teams}}}")
    return replace(endpoint, body={"query": query, "variables": {"teams": list(source.options.teams)}})


def issues_endpoint(source: LinearSource) -> Endpoint:
    if not source.options.teams:
        return ISSUES
    return replace(ISSUES, body={"query": issues_query(teams=True), "variables": {"teams": list(source.options.teams)}})


def history_child(overflow: dict[str, str]) -> Child:
    """The embedded history of each issue, always complete as far as the engine knows: an issue whose history
    has more pages is noted in ``overflow`` (issue id -> end cursor; an issue listed twice is read on once) and
    read on after the list."""

    def embedded(issue: dict) -> tuple[list[dict], bool]:
        history = issue.get("history") or {}
        info = history.get("pageInfo") or {}
        if info.get("hasNextPage") and info.get("endCursor"):
            overflow[str(issue["id"])] = str(info["endCursor"])
        return list(history.get("nodes") or []), True

    return Child(HISTORY, embedded=embedded)


def read_overflow(engine: Engine, overflow: dict[str, str], into: StreamResult) -> None:
    """The rest of each long history, from where the list's page stopped; counted in the issues' result."""
    for issue_id, after in overflow.items():
        endpoint = replace(ISSUE_HISTORY, body={**ISSUE_HISTORY.body, "variables": {"id": issue_id, "after": after}})
        got = engine.run(endpoint, scope=SCOPE)
        into.child_records[HISTORY.stream] = into.child_records.get(HISTORY.stream, 0) + got.records
        into.pages += got.pages
        into.stats.requests += got.stats.requests
        into.stats.retries += got.stats.retries
        into.stats.waited_seconds += got.stats.waited_seconds


def extract(group: str, source: LinearSource, store, **client_kw) -> list[StreamResult]:
    """Read one group of streams; ``client_kw`` reaches the HTTP client (tests pass ``sleep``)."""
    if group not in SOURCE.groups:
        raise ValueError(f"linear has no extraction group '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    if group == "planning":
        return [result for endpoint in PLANNING for result in each_scope(
            source, engine.table(endpoint), [SCOPE],
            lambda _, e=endpoint: [engine.run(_teams_filtered(e, source), scope=SCOPE)], engine.client)]

    def issues(_: str) -> list[StreamResult]:
        overflow: dict[str, str] = {}
        result = engine.run(issues_endpoint(source), scope=SCOPE, children=(history_child(overflow),))
        read_overflow(engine, overflow, result)
        return [result]

    return each_scope(source, engine.table(ISSUES), [SCOPE], issues, engine.client)


def check(source: LinearSource, **client_kw) -> list[Finding]:
    """`throughline doctor`: the key is accepted (`viewer`), and every configured team key exists."""
    client = probe_client(source, auth_headers(source), **client_kw)
    subject = f"{source.name}: credentials"
    try:
        body, _ = client.post_json(PATH, {"query": "query Check { viewer { id } teams(first: 250) { nodes { key } } }"},
                                   graphql=True, label="check")
    except FatalError as exc:
        return [Finding("fail", subject, f"{exc}; use a personal API key (Settings > Security & access) in "
                                         f"auth.api_key")]
    findings = [Finding("ok", subject, "the API key is accepted")]
    visible = {str(t.get("key")) for t in dig(body, "data.teams.nodes") or [] if isinstance(t, dict)}
    for team in source.options.teams:
        findings.append(Finding("ok", f"{source.name}: team {team}", "visible") if team in visible else Finding(
            "fail", f"{source.name}: team {team}", "not visible to this key: check options.teams (the prefix of "
                                                   "the team's issue identifiers) and the key's team access"))
    return findings


SOURCE = SourceType(
    name="linear",
    groups={"issues": ("issues", "issue_history"), "planning": ("teams", "workflow_states", "cycles", "projects")},
    extract=extract,
    check=check,
    config_model=LinearSource,
)
