"""Jira Cloud (REST v3, enhanced search) and Data Center (REST v2) as endpoint descriptions."""

from __future__ import annotations

import base64
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.config import JiraSource
from connectors.core.endpoint import Child, Endpoint
from connectors.core.engine import StreamResult
from connectors.core.paginators import OffsetPaginator, SinglePage, TokenPaginator
from connectors.core.raw import RawStore
from connectors.core.source import SourceType, engine_for

# Only what the models read, plus what users add: the enhanced search returns no fields unless asked.
BASE_FIELDS = (
    "summary", "issuetype", "status", "project", "created", "updated", "resolutiondate", "resolution",
    "priority", "labels", "components", "fixVersions", "parent", "assignee", "reporter",
)

API = {"cloud": "/rest/api/3", "datacenter": "/rest/api/2"}


def auth_headers(source: JiraSource):
    auth = source.auth
    if auth.token is not None:
        return lambda: {"Authorization": f"Bearer {auth.token.get_secret_value()}"}
    basic = base64.b64encode(f"{auth.email}:{auth.api_token.get_secret_value()}".encode()).decode()
    return lambda: {"Authorization": f"Basic {basic}"}


def jql(project: str, since: datetime | None, tz: ZoneInfo) -> str:
    """Issues of a project in update order; JQL dates are read in the *user's* time zone.

    Writing the bound in UTC would shift it by the user's offset: hours re-read, or hours missed
    every night for users east of UTC. The bound is floored to the minute, JQL's resolution.
    """
    clause = f'project = "{project}"'
    if since is not None:
        clause += f' AND updated >= "{since.astimezone(tz).strftime("%Y-%m-%d %H:%M")}"'
    return clause + " ORDER BY updated ASC, key ASC"


def _without_changelog(issue: dict) -> dict:
    return {k: v for k, v in issue.items() if k != "changelog"}


def _embedded_histories(issue: dict) -> tuple[list[dict], bool]:
    changelog = issue.get("changelog") or {}
    histories = changelog.get("histories") or []
    total = changelog.get("total", len(histories))
    return histories, total <= len(histories)


def issues_endpoint(source: JiraSource, project: str, tz: ZoneInfo) -> Endpoint:
    fields = ",".join(dict.fromkeys([*BASE_FIELDS, source.options.story_points_field, *source.options.extra_fields]))
    common = dict(
        stream="issues",
        records_path="issues",
        primary_key="id",
        cursor_field="fields.updated",
        params={"jql": jql(project, None, tz), "fields": fields, "expand": "changelog"},
        since_params=lambda since: {"jql": jql(project, since, tz)},
        order="ascending",
        transform=_without_changelog,
        max_page_size=100,  # Jira caps pages with an expanded changelog at 100
    )
    if source.flavour == "cloud":
        return Endpoint(path=f"{API['cloud']}/search/jql", paginator=TokenPaginator(), **common)
    return Endpoint(path=f"{API['datacenter']}/search", paginator=OffsetPaginator(is_last_path=None), **common)


def changelog_child(source: JiraSource) -> Child:
    endpoint = Endpoint(
        stream="changelogs",
        path=f"{API['cloud']}/issue/{{issue_id}}/changelog",
        records_path="values",
        primary_key="id",
        paginator=OffsetPaginator(),
        max_page_size=100,
    )
    if source.flavour == "cloud":
        # Cloud embeds at most 100 histories; the rest are paged from the changelog endpoint.
        return Child(endpoint, path_vars=lambda issue: {"issue_id": issue["id"]}, embedded=_embedded_histories)
    # Data Center embeds the whole changelog with expand=changelog.
    return Child(endpoint, path_vars=lambda issue: {"issue_id": issue["id"]}, embedded=lambda i: (_embedded_histories(i)[0], True))


def statuses_endpoint(source: JiraSource) -> Endpoint:
    return Endpoint(stream="statuses", path=f"{API[source.flavour]}/status", paginator=SinglePage())


def user_time_zone(engine, source: JiraSource) -> ZoneInfo:
    body, _ = engine.client.get_json(f"{API[source.flavour]}/myself")
    name = (body or {}).get("timeZone") or "UTC"
    return ZoneInfo(name)


def extract(group: str, source: JiraSource, store: RawStore, **client_kw) -> list[StreamResult]:
    engine = engine_for(source, store, auth_headers(source), **client_kw)
    if group == "statuses":
        return [engine.run(statuses_endpoint(source), scope="*")]
    if group == "issues":
        tz = user_time_zone(engine, source)
        child = changelog_child(source)
        return [
            engine.run(issues_endpoint(source, project, tz), scope=project, children=(child,))
            for project in source.scope.projects
        ]
    raise ValueError(f"jira has no extraction group '{group}'")


SOURCE = SourceType(name="jira", groups={"statuses": ("statuses",), "issues": ("issues", "changelogs")}, extract=extract)
