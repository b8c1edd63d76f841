"""Jira Cloud (REST v3, enhanced search) and Data Center (REST v2) as endpoint descriptions.

Groups (each one Dagster multi-asset):
  issues    /myself (time zone), /field (story points and epic link ids), the JQL search per project
            with changelogs, and every ``reconcile_every_days`` a keys-only search that writes tombstones
            for issues that were deleted or moved out of scope.
  statuses  /status.
  projects  /project/search (Data Center: /project), /field, the agile boards of each project and
            their sprints.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.core.endpoint import Child, Endpoint, format_cursor, parse_timestamp
from connectors.core.engine import Engine, StreamResult
from connectors.core.errors import BadRequestError, FatalError, NotFoundError
from connectors.core.paginators import OffsetPaginator, SinglePage, TokenPaginator
from connectors.core.raw import CursorUpdate, RawRecord, RawStore, raw_table
from connectors.core.source import Finding, SourceType, each_scope, engine_for, probe_client
from connectors.jira.config import JiraSource

# Only what the models read, plus what users add: the enhanced search returns no fields unless asked.
BASE_FIELDS = (
    "summary", "issuetype", "status", "project", "created", "updated", "resolutiondate", "resolution",
    "priority", "labels", "components", "fixVersions", "parent", "assignee", "reporter", "issuelinks",
)

# Field names Jira gives the story points custom field: classic projects / team-managed (next-gen) ones.
STORY_POINTS_NAMES = ("Story Points", "Story point estimate")
EPIC_LINK_NAME = "Epic Link"
# The connector's own notes on an issue, beside what Jira returned: which custom field ids held story
# points and the epic link on this instance when it was read, so staging needs no per-instance config.
NOTES_KEY = "_throughline"

API = {"cloud": "/rest/api/3", "datacenter": "/rest/api/2"}


def auth_headers(source: JiraSource):
    auth = source.auth
    if auth.token is not None:
        return lambda: {"Authorization": f"Bearer {auth.token.get_secret_value()}"}
    basic = base64.b64encode(f"{auth.email}:{auth.api_token.get_secret_value()}".encode()).decode()
    return lambda: {"Authorization": f"Basic {basic}"}


def jql(project: str, since: datetime | None, tz: ZoneInfo, until: datetime | None = None) -> str:
    """Issues of a project in update order; JQL dates are read in the *user's* time zone.

    Writing the bound in UTC would shift it by the user's offset: hours re-read, or hours missed
    every night for users east of UTC. Bounds are floored to the minute, JQL's resolution, so
    windows [since, until) written this way meet without a gap or an overlap.
    """
    clause = f'project = "{project}"'
    if since is not None:
        clause += f' AND updated >= "{since.astimezone(tz).strftime("%Y-%m-%d %H:%M")}"'
    if until is not None:
        clause += f' AND updated < "{until.astimezone(tz).strftime("%Y-%m-%d %H:%M")}"'
    return clause + " ORDER BY updated ASC, key ASC"


@dataclass(frozen=True)
class CustomFields:
    """Ids of the custom fields the models read, as discovered through /field on one instance."""

    story_points: tuple[str, ...] = ()
    epic_link: str | None = None

    def notes(self) -> dict[str, Any]:
        return {"storyPointsFields": list(self.story_points), "epicLinkField": self.epic_link}

    def ids(self) -> list[str]:
        return [*self.story_points, *([self.epic_link] if self.epic_link else [])]


def discover_fields(fields: Iterable[dict], override: str | None) -> CustomFields:
    """Find story points and epic link by name: their customfield ids differ on every instance.

    An instance may have both story points fields (classic and team-managed projects); an issue carries
    at most one of them, so all are kept in order and staging takes the first that has a value.
    """
    by_name: dict[str, list[str]] = {}
    for field in fields:
        if field.get("custom") and field.get("id") and field.get("name"):
            by_name.setdefault(field["name"].strip().lower(), []).append(field["id"])
    if override:
        points: tuple[str, ...] = (override,)
    else:
        points = tuple(i for name in STORY_POINTS_NAMES for i in by_name.get(name.lower(), []))
    epic = by_name.get(EPIC_LINK_NAME.lower(), [None])[0]
    return CustomFields(points, epic)


def scrub_users(value: Any) -> Any:
    """Keep a person's account id and drop their name, e-mail and avatar (``options.drop_user_names``).

    A user object is recognised by its ``accountId`` (Cloud) or ``displayName`` (Data Center, whose users
    carry ``key``/``name`` instead). Changelog items of user fields name people in from/toString.
    """
    if isinstance(value, list):
        return [scrub_users(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "accountId" in value or ("displayName" in value and ("key" in value or "emailAddress" in value)):
        return {k: value[k] for k in ("accountId", "accountType", "key", "active") if k in value}
    out = {k: scrub_users(v) for k, v in value.items()}
    if out.get("field") in _USER_ITEM_FIELDS and "fromString" in out:
        out["fromString"] = out["toString"] = None
    return out


# Changelog items whose display strings are a person's name (``from``/``to`` keep the account ids).
_USER_ITEM_FIELDS = frozenset({"assignee", "reporter", "creator"})


def _prepared(endpoint: Endpoint, prepare) -> Endpoint:
    if prepare is None:
        return endpoint
    listed_of = endpoint.listed_of

    # Endpoint is frozen and the engine reads a page's records only through listed_of: wrapping it is the
    # one place both the parent page and the child pages (changelogs) pass through.
    class Prepared(type(endpoint)):
        def listed_of(self, body):
            return [prepare(r) for r in listed_of(body)]

    return Prepared(**{f: getattr(endpoint, f) for f in endpoint.__dataclass_fields__})


def _without_changelog(issue: dict) -> dict:
    return {k: v for k, v in issue.items() if k != "changelog"}


def _embedded_histories(issue: dict) -> tuple[list[dict], bool]:
    changelog = issue.get("changelog") or {}
    histories = changelog.get("histories") or []
    total = changelog.get("total", len(histories))
    return histories, total <= len(histories)


def issues_endpoint(source: JiraSource, project: str, tz: ZoneInfo, custom: CustomFields = CustomFields()) -> Endpoint:
    fields = ",".join(dict.fromkeys([*BASE_FIELDS, *custom.ids(), *source.options.extra_fields]))
    notes = custom.notes()
    scrub = source.options.drop_user_names

    def prepare(issue: dict) -> dict:
        issue = {**issue, NOTES_KEY: notes}
        return scrub_users(issue) if scrub else issue

    common = dict(
        stream="issues",
        records_path="issues",
        primary_key="id",
        cursor_field="fields.updated",
        params={"jql": jql(project, None, tz), "fields": fields, "expand": "changelog"},
        since_params=lambda since: {"jql": jql(project, since, tz)},
        window_params=lambda since, until: {"jql": jql(project, since, tz, until)},
        order="ascending",
        transform=_without_changelog,
        max_page_size=100,  # Jira caps pages with an expanded changelog at 100
    )
    if source.flavour == "cloud":
        endpoint = Endpoint(path=f"{API['cloud']}/search/jql", paginator=TokenPaginator(), **common)
    else:
        endpoint = Endpoint(path=f"{API['datacenter']}/search", paginator=OffsetPaginator(is_last_path=None), **common)
    return _prepared(endpoint, prepare)


# Jira Cloud's bulkfetch: the changelogs of up to 1000 issues per request chain, up to 10000 histories a page.
BULKFETCH_ISSUES = 1000
BULKFETCH_PAGE = 10000


def changelog_child(source: JiraSource, unchanged: frozenset[tuple[str, str]] = frozenset()) -> Child:
    """Each issue's changelog histories; ``unchanged`` (see stored_issues): issues whose stored version is
    the one listed, whose changelogs are stored and not asked again."""
    if source.flavour == "cloud":
        # Cloud embeds at most 100 histories; the changelogs of the issues with more are read together by
        # bulkfetch (whole: it cannot skip the embedded ones), one request chain per 1000 such issues.
        endpoint = Endpoint(
            stream="changelogs",
            path=f"{API['cloud']}/changelog/bulkfetch",
            method="POST",
            params_in="body",
            records_path="issueChangeLogs",
            primary_key="id",
            paginator=TokenPaginator(is_last_path=None),
            max_page_size=BULKFETCH_PAGE,
        )
        if source.options.drop_user_names:
            endpoint = _prepared(endpoint, scrub_users)
        def embedded(issue: dict) -> tuple[list[dict], bool]:
            # "Complete with no records": the engine neither asks nor replaces what is stored.
            if (str(issue.get("id")), str((issue.get("fields") or {}).get("updated"))) in unchanged:
                return [], True
            return _embedded_histories(issue)

        return Child(
            endpoint, embedded=embedded, batch=BULKFETCH_ISSUES,
            batch_body=lambda issue_ids: {"issueIdsOrKeys": issue_ids},
            batch_parent=lambda group: group["issueId"], batch_records=lambda group: group["changeHistories"],
        )
    # Data Center embeds the whole changelog with expand=changelog; its per-issue endpoint (paged from
    # startAt=0) is asked only if an embedded list cannot be read.
    endpoint = Endpoint(
        stream="changelogs",
        path=f"{API['datacenter']}/issue/{{issue_id}}/changelog",
        records_path="values",
        primary_key="id",
        paginator=OffsetPaginator(),
        max_page_size=100,
    )
    if source.options.drop_user_names:
        endpoint = _prepared(endpoint, scrub_users)
    return Child(endpoint, path_vars=lambda issue: {"issue_id": issue["id"]},
                 embedded=lambda i: (_embedded_histories(i)[0], True))


def stored_issues(engine: Engine, project: str) -> frozenset[tuple[str, str]]:
    """(id, fields.updated) of the project's stored issues, whose changelogs are stored with them.

    Every change to an issue, a new history included, moves its `updated`; the lookback lists the issues of
    the last hours again, and one with a long changelog would cost a bulkfetch every night to find nothing."""
    return engine.stored_versions("issues", project, "fields.updated")


def statuses_endpoint(source: JiraSource) -> Endpoint:
    return Endpoint(stream="statuses", path=f"{API[source.flavour]}/status", paginator=SinglePage())


def fields_endpoint(source: JiraSource) -> Endpoint:
    return Endpoint(stream="fields", path=f"{API[source.flavour]}/field", paginator=SinglePage())


def projects_endpoint(source: JiraSource) -> Endpoint:
    if source.flavour == "cloud":
        keys = list(source.scope.projects)
        return Endpoint(
            stream="projects", path=f"{API['cloud']}/project/search", records_path="values",
            # `keys=A&keys=B`, at most 50; beyond that every visible project is listed (and paged).
            params={"keys": keys} if len(keys) <= 50 else {}, paginator=OffsetPaginator(), max_page_size=50,
        )
    # Data Center has no /project/search: /project lists every project the token can see, unpaged.
    return Endpoint(stream="projects", path=f"{API['datacenter']}/project", paginator=SinglePage())


def boards_endpoint(project: str) -> Endpoint:
    return Endpoint(
        stream="boards", path="/rest/agile/1.0/board", records_path="values",
        params={"projectKeyOrId": project}, paginator=OffsetPaginator(), max_page_size=50,
    )


def sprints_child() -> Child:
    endpoint = Endpoint(
        stream="sprints", path="/rest/agile/1.0/board/{board_id}/sprint", records_path="values",
        # The sprint list has no total: only isLast (or a short page) ends it.
        paginator=OffsetPaginator(total_path=None), max_page_size=50,
    )
    # A kanban board answers /sprint with 400 "does not support sprints": ask only the others.
    return Child(
        endpoint, path_vars=lambda board: {"board_id": board["id"]},
        embedded=lambda board: ([], board.get("type") == "kanban"),
    )


def user_time_zone(engine, source: JiraSource) -> ZoneInfo:
    body, _ = engine.client.get_json(f"{API[source.flavour]}/myself")
    name = (body or {}).get("timeZone") or "UTC"
    return ZoneInfo(name)


def field_list(engine: Engine, source: JiraSource) -> list[dict]:
    """/field, read for discovery only: raw.jira__fields is loaded with the projects group, which may
    run after this one; one small request per run is cheaper than an ordering between assets."""
    body, _ = engine.client.get_json(f"{API[source.flavour]}/field")
    return body if isinstance(body, list) else []


def read_whole(engine: Engine, endpoint: Endpoint, scope: str) -> tuple[list[dict], StreamResult]:
    """Read a small unpaged-or-few-pages stream into memory and store it: its records are needed here."""
    started = time.monotonic()
    table = engine.table(endpoint)
    result = StreamResult(engine.source_instance, table, scope)
    params = {**endpoint.params, **endpoint.paginator.first_params(engine.page_size_for(endpoint))}
    records: list[dict] = []
    for page in engine.pages(endpoint, endpoint.path, params, result.stats):
        result.pages += 1
        records.extend(page)
    engine.store.write([(table, engine.source_instance,
                         [RawRecord(endpoint.key_of(r), r, None, scope) for r in records])])
    result.records = len(records)
    result.seconds = time.monotonic() - started
    return records, result


def _unknown_project(source: JiraSource, project: str, exc: BadRequestError) -> FatalError:
    return FatalError(
        f"source '{source.name}': Jira project '{project}' does not exist or the token cannot browse it "
        f"(Jira said: {exc}). Fix scope.projects of source '{source.name}' in throughline.yml, or give "
        f"the token's user the Browse Projects permission on '{project}'."
    )


_UNKNOWN_PROJECT = "does not exist for the field 'project'"


def run_issues(engine: Engine, source: JiraSource, project: str, tz: ZoneInfo, custom: CustomFields,
               window: tuple[datetime, datetime] | None = None) -> StreamResult:
    try:
        unchanged = stored_issues(engine, project) if window is None else frozenset()
        return engine.run(issues_endpoint(source, project, tz, custom), scope=project,
                          children=(changelog_child(source, unchanged),), window=window)
    except BadRequestError as exc:
        # Jira answers a JQL naming an unknown (or invisible) project with 400 "The value 'X' does not
        # exist for the field 'project'": an empty load would hide a typo in the config for ever.
        if _UNKNOWN_PROJECT in str(exc):
            raise _unknown_project(source, project, exc) from None
        raise


RECONCILE_STREAM = "deleted_issues"


def reconcile_due(store: RawStore, source: JiraSource, now: datetime) -> bool:
    """Whether a reconciliation is due; the first load starts the clock without one.

    Everything a first load stores was just found by the search, so comparing would find nothing.
    """
    last = parse_timestamp(store.get_cursor(source.name, RECONCILE_STREAM, "*"))
    if last is None:
        store.write([], CursorUpdate(source.name, RECONCILE_STREAM, "*", format_cursor(now)))
        return False
    return now - last >= timedelta(days=source.options.reconcile_every_days)


def reconcile(engine: Engine, source: JiraSource, now: datetime) -> StreamResult:
    """Tombstone every stored issue of the configured projects that a keys-only search no longer finds.

    Jira neither reports deletions nor changes ``updated`` of an issue moved to a project we do not read,
    so incremental searches cannot see either. Asking only for ids makes this cheap (up to 5000 per page
    on Cloud). All projects are listed before comparing, so an issue moved between two configured
    projects is not a deletion. A tombstone is a fact at a time: staging drops an issue only while its
    tombstone is newer than the issue's last read, so an issue that comes back is counted again.
    """
    started = time.monotonic()
    table = raw_table("jira", RECONCILE_STREAM)
    result = StreamResult(engine.source_instance, table, "*")
    size = 5000 if source.flavour == "cloud" else 1000
    live: set[str] = set()
    for project in source.scope.projects:
        endpoint = Endpoint(
            stream=RECONCILE_STREAM,
            path=f"{API['cloud']}/search/jql" if source.flavour == "cloud" else f"{API['datacenter']}/search",
            records_path="issues",
            # Same order as the incremental search: an issue updated while this pages moves behind the
            # token and is still listed. With Data Center's offsets it may be skipped once and get a false
            # tombstone, which its read by the next incremental run (it was just updated) outdates.
            params={"jql": jql(project, None, ZoneInfo("UTC")), "fields": "id"},
            paginator=TokenPaginator() if source.flavour == "cloud" else OffsetPaginator(is_last_path=None),
        )
        params = {**endpoint.params, **endpoint.paginator.first_params(size)}
        try:
            for page in engine.pages(endpoint, endpoint.path, params, result.stats, size):
                result.pages += 1
                live.update(str(issue["id"]) for issue in page)
        except BadRequestError as exc:
            if _UNKNOWN_PROJECT in str(exc):
                raise _unknown_project(source, project, exc) from None
            raise
    engine.store.ensure_table(table)
    stored = engine.store.con.execute(
        f"""SELECT i.record_key, i.payload ->> '$.key', i.scope
            FROM raw.jira__issues i
            LEFT JOIN raw.{table} d ON d.source_instance = i.source_instance AND d.record_key = i.record_key
            WHERE i.source_instance = ? AND i.scope IN (SELECT unnest(?::VARCHAR[]))
              AND (d.record_key IS NULL OR d.extracted_at < i.extracted_at)""",
        [source.name, list(source.scope.projects)],
    ).fetchall()
    seen_at = format_cursor(now)
    tombstones = [
        RawRecord(issue_id, {"id": issue_id, "key": key, "project": scope, "missingSince": seen_at}, None, scope, seen_at)
        for issue_id, key, scope in stored if issue_id not in live
    ]
    engine.store.write([(table, source.name, tombstones)],
                       CursorUpdate(source.name, RECONCILE_STREAM, "*", seen_at))
    result.records = len(tombstones)
    result.cursor_after = seen_at
    result.seconds = time.monotonic() - started
    return result


def extract(group: str, source: JiraSource, store: RawStore, *, now: datetime | None = None, **client_kw) -> list[StreamResult]:
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    if group == "statuses":
        return [engine.run(statuses_endpoint(source), scope="*")]
    if group == "projects":
        projects, projects_result = read_whole(engine, projects_endpoint(source), "*")
        _, fields_result = read_whole(engine, fields_endpoint(source), "*")
        seen = {p.get("key", "").upper() for p in projects} | {str(p.get("id")) for p in projects}

        def boards(project: str) -> list[StreamResult]:
            if project.upper() not in seen:  # a missing project fails alone: the others' boards are read
                raise FatalError(
                    f"source '{source.name}': Jira project '{project}' does not exist or the token cannot browse "
                    f"it. Fix scope.projects of source '{source.name}' in throughline.yml, or give the token's "
                    f"user the Browse Projects permission."
                )
            return [engine.run(boards_endpoint(project), scope=project, children=(sprints_child(),))]

        return each_scope(source, raw_table("jira", "boards"), source.scope.projects, boards, engine.client,
                          done=[projects_result, fields_result])
    if group == "issues":
        tz = user_time_zone(engine, source)
        custom = discover_fields(field_list(engine, source), source.options.story_points_field)
        store.ensure_table(raw_table("jira", RECONCILE_STREAM))  # staging reads it before any tombstone
        # A project that failed raises here, after the others were read: no reconciliation then, since a
        # project that could not be listed would make every one of its issues look deleted.
        results = each_scope(source, raw_table("jira", "issues"), source.scope.projects,
                             lambda project: [run_issues(engine, source, project, tz, custom)], engine.client)
        now = now or datetime.now(UTC)
        if reconcile_due(store, source, now):
            results.append(reconcile(engine, source, now))
        return results
    raise ValueError(f"jira has no extraction group '{group}'")


def extract_window(group: str, source: JiraSource, store: RawStore, start: datetime, end: datetime,
                   **client_kw) -> list[StreamResult]:
    """One time window of a history load: the issues (with changelogs) updated in [start, end)."""
    if group != "issues":
        raise ValueError(f"jira reads only 'issues' by time window, not '{group}'")
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    tz = user_time_zone(engine, source)
    custom = discover_fields(field_list(engine, source), source.options.story_points_field)
    return [run_issues(engine, source, project, tz, custom, window=(start, end)) for project in source.scope.projects]


def check(source: JiraSource, **client_kw) -> list[Finding]:
    """Who the credentials authenticate as, and whether each configured project is visible to them."""
    client = probe_client(source, auth_headers(source), **client_kw)
    api = API[source.flavour]
    try:
        me, _ = client.get_json(f"{api}/myself")
    except FatalError as exc:
        return [Finding("fail", f"{source.name}: credentials", str(exc))]
    who = (me or {}).get("displayName") or (me or {}).get("name") or "an account"
    findings = [Finding("ok", f"{source.name}: credentials", f"authenticated as {who}")]
    for project in source.scope.projects:
        try:
            client.get_json(f"{api}/project/{project}")
            findings.append(Finding("ok", f"{source.name}: project {project}", "visible"))
        except NotFoundError:
            findings.append(Finding(
                "fail", f"{source.name}: project {project}",
                "not found or not visible to this account: check the key in scope.projects, or grant the "
                "account the Browse Projects permission",
            ))
        except FatalError as exc:
            findings.append(Finding("fail", f"{source.name}: project {project}", str(exc)))
    return findings


def dbt_vars(jira: list[JiraSource]) -> dict[str, Any]:
    """Which Jira issues are incidents, merged over the Jira sources (dbt vars are global to a run).

    Only what differs from the models' defaults is passed, so a plain config keeps `dbt build` bare.
    A field role set by two sources takes the first source's field id.
    """
    defaults = {"jira_incident_issue_types": ["incident"], "jira_incident_labels": ["incident"],
                "jira_incident_fields": {}, "jira_incident_cause_link_pattern": "caused by"}
    if not jira:
        return {}
    fields: dict[str, str] = {}
    for source in jira:
        for role, field_id in source.options.incident_fields.items():
            fields.setdefault(role, field_id)
    merged = {
        "jira_incident_issue_types": sorted(
            {t.strip().lower() for s in jira for t in s.options.incident_issue_types if t.strip()}),
        "jira_incident_labels": sorted(
            {label.strip().lower() for s in jira for label in s.options.incident_labels if label.strip()}),
        "jira_incident_fields": fields,
        "jira_incident_cause_link_pattern": "|".join(dict.fromkeys(s.options.incident_cause_link for s in jira)),
    }
    return {name: value for name, value in merged.items() if value != defaults[name]}


SOURCE = SourceType(
    name="jira",
    groups={
        "statuses": ("statuses",),
        "projects": ("projects", "fields", "boards", "sprints"),
        "issues": ("issues", "changelogs", RECONCILE_STREAM),
    },
    extract=extract,
    check=check,
    windowed_groups=("issues",),
    extract_window=extract_window,
    config_model=JiraSource,
    source_level_groups=("statuses", "projects"),
    dbt_vars=dbt_vars,
)
