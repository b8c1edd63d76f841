"""Paginators: given the request just made and its answer, say what to request next (or stop).

Each one is data plus two small methods, so an endpoint description just names one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests


def dig(obj: Any, path: str | None) -> Any:
    """Follow a dotted path ("changelog.histories"); None path means the object itself."""
    if path is None:
        return obj
    for part in path.split("."):
        # (a JSON object is a dict: the ABC check only for other mappings, as it costs several times more and
        # this runs for every key and cursor of every record)
        if type(obj) is not dict and not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


class Paginator(Protocol):
    # Pages by position in the list (an offset or a page number). A position is only stable while the
    # list does not change: a record updated while such a list is read moves to its end, and everything
    # after its old place moves up one, so the record at the page boundary is skipped. The engine reads
    # an ascending incremental stream with such a paginator by cursor instead (Engine._rebase).
    positional: bool = False

    def first_params(self, page_size: int) -> dict[str, Any]: ...

    def next_request(
        self,
        params: Mapping[str, Any],
        body: Any,
        response: requests.Response,
        records_on_page: int,
        page_size: int,
    ) -> tuple[str | None, dict[str, Any]] | None:
        """Return (url or None to keep the same path, params) for the next page, or None to stop."""


@dataclass(frozen=True)
class SinglePage:
    """Endpoints that answer with everything at once (Jira /status, /field)."""

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {}

    def next_request(self, params, body, response, records_on_page, page_size):
        return None


@dataclass(frozen=True)
class LinkHeaderPaginator:
    """RFC 8288 `Link: <...>; rel="next"` (GitHub, GitLab); the next URL carries every parameter."""

    size_param: str = "per_page"

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {self.size_param: page_size}

    def next_request(self, params, body, response, records_on_page, page_size):
        link = response.links.get("next")
        if not link or not link.get("url"):
            return None
        return link["url"], {}


@dataclass(frozen=True)
class NextUrlPaginator:
    """The body names the next page's full URL (Opsgenie `paging.next`, many REST APIs' `next`); a page
    without it, or an empty page, ends the list. Offset-based underneath, so positional: the engine reads an
    ascending incremental stream by cursor instead and follows the URL only inside a run of equal cursors."""

    positional = True

    next_path: str = "next"
    offset_param: str | None = "offset"  # None: the first page is asked without one
    limit_param: str = "limit"

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {**({self.offset_param: 0} if self.offset_param else {}), self.limit_param: page_size}

    def next_request(self, params, body, response, records_on_page, page_size):
        url = dig(body, self.next_path)
        return (str(url), {}) if url and records_on_page else None


@dataclass(frozen=True)
class OffsetPaginator:
    """startAt/maxResults (Jira Data Center search, changelog pages, agile boards); with ``next_offset_path``
    the body names the next page's offset (Bitbucket Data Center's `nextPageStart`, the documented way on)
    and it is taken over the offset plus the records read."""

    positional = True

    offset_param: str = "startAt"
    limit_param: str = "maxResults"
    total_path: str | None = "total"
    is_last_path: str | None = "isLast"
    next_offset_path: str | None = None

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {self.offset_param: 0, self.limit_param: page_size}

    def next_request(self, params, body, response, records_on_page, page_size):
        if records_on_page == 0 or dig(body, self.is_last_path) is True:
            return None
        named = dig(body, self.next_offset_path) if self.next_offset_path else None
        if isinstance(named, int) and not isinstance(named, bool):
            return None, {**params, self.offset_param: named}
        # The server may cap maxResults below what we asked; advance by what it actually sent.
        next_offset = int(params.get(self.offset_param, 0)) + records_on_page
        total = dig(body, self.total_path)
        if isinstance(total, int) and next_offset >= total:
            return None
        return None, {**params, self.offset_param: next_offset}


@dataclass(frozen=True)
class TokenPaginator:
    """nextPageToken (Jira Cloud enhanced search), CircleCI page-token and similar."""

    token_param: str = "nextPageToken"
    token_path: str = "nextPageToken"
    size_param: str | None = "maxResults"
    is_last_path: str | None = "isLast"

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {self.size_param: page_size} if self.size_param else {}

    def next_request(self, params, body, response, records_on_page, page_size):
        token = dig(body, self.token_path)
        if not token or dig(body, self.is_last_path) is True:
            return None
        return None, {**params, self.token_param: token}


@dataclass(frozen=True)
class GraphQLCursorPaginator:
    """A GraphQL connection (Linear, GitHub's v4, Shopify): `first`/`after` variables, the next cursor in the
    connection's `pageInfo`. Its endpoint puts the parameters into the query's variables
    (``params_in="body.variables"``); the list ends when `hasNextPage` is false, a page is empty, or no
    cursor is given.

    ``page_info_path`` None: the `pageInfo` beside the records (Endpoint fills it in from records_path,
    data.issues.nodes -> data.issues.pageInfo)."""

    page_info_path: str | None = None
    cursor_param: str = "after"
    size_param: str | None = "first"
    end_cursor_field: str = "endCursor"
    has_next_field: str = "hasNextPage"

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {self.size_param: page_size} if self.size_param else {}

    def next_request(self, params, body, response, records_on_page, page_size):
        if self.page_info_path is None:
            raise ValueError("GraphQLCursorPaginator has no page_info_path: give it one, or use it in an Endpoint "
                             "whose records_path names the connection's nodes")
        info = dig(body, self.page_info_path)
        if not records_on_page or not isinstance(info, Mapping) or info.get(self.has_next_field) is not True:
            return None
        cursor = info.get(self.end_cursor_field)
        return (None, {**params, self.cursor_param: cursor}) if cursor else None


@dataclass(frozen=True)
class PageNumberPaginator:
    """page=1,2,3 until a short page (APIs without Link headers)."""

    positional = True

    page_param: str = "page"
    size_param: str = "per_page"
    first_page: int = 1

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {self.page_param: self.first_page, self.size_param: page_size}

    def next_request(self, params, body, response, records_on_page, page_size):
        if records_on_page < page_size:
            return None
        return None, {**params, self.page_param: int(params.get(self.page_param, self.first_page)) + 1}


@dataclass(frozen=True)
class NextPageHeaderPaginator:
    """GitLab: offset pages name the next one in `X-Next-Page` (empty on the last page); keyset pages
    (`pagination=keyset`) send no page number, only a `Link: <...>; rel="next"` that carries the cursor."""

    positional = True  # offset pages; keyset pages are not, but are never read in ascending cursor order

    page_param: str = "page"
    size_param: str = "per_page"
    header: str = "X-Next-Page"

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {self.size_param: page_size}

    def next_request(self, params, body, response, records_on_page, page_size):
        next_page = response.headers.get(self.header)
        if next_page is not None:  # an offset page: the header is there, empty on the last page
            return (None, {**params, self.page_param: next_page.strip()}) if next_page.strip() else None
        link = response.links.get("next")
        if link and link.get("url"):
            return link["url"], {}
        return None


@dataclass(frozen=True)
class TreeRangePaginator:
    """A range inside one parameter: Jenkins `tree=allBuilds[...]{M,N}` (M inclusive, N exclusive).

    Jenkins has no page parameters; a list property of the tree takes a range instead. A page shorter
    than the range asked for is the last one.
    """

    tree: str  # the tree expression without its range, e.g. "allBuilds[number,result]"
    param: str = "tree"

    def first_params(self, page_size: int) -> dict[str, Any]:
        return {self.param: f"{self.tree}{{0,{page_size}}}"}

    def next_request(self, params, body, response, records_on_page, page_size):
        if records_on_page < page_size:
            return None
        start = int(str(params.get(self.param, "")).rsplit("{", 1)[-1].split(",", 1)[0] or 0)
        start += records_on_page
        return None, {**params, self.param: f"{self.tree}{{{start},{start + page_size}}}"}
