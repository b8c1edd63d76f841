import requests

from connectors.core.paginators import (
    LinkHeaderPaginator, NextUrlPaginator, OffsetPaginator, PageNumberPaginator, TokenPaginator, dig,
)


def response_with_link(link: str | None) -> requests.Response:
    r = requests.Response()
    if link:
        r.headers["Link"] = link
    return r


def test_dig():
    assert dig({"a": {"b": [1]}}, "a.b") == [1]
    assert dig({"a": None}, "a.b") is None
    assert dig([1], None) == [1]


def test_link_header_follows_next_only():
    p = LinkHeaderPaginator()
    assert p.first_params(50) == {"per_page": 50}
    r = response_with_link('<https://x/repos/a/b/pulls?page=2&per_page=50>; rel="next", <https://x/p?page=9>; rel="last"')
    assert p.next_request({}, [], r, 50, 50) == ("https://x/repos/a/b/pulls?page=2&per_page=50", {})
    assert p.next_request({}, [], response_with_link('<https://x/p?page=1>; rel="prev"'), 3, 50) is None


def test_offset_advances_by_records_actually_returned():
    p = OffsetPaginator()
    params = p.first_params(100)
    assert params == {"startAt": 0, "maxResults": 100}
    # server capped the page at 50 of 120
    assert p.next_request(params, {"total": 120}, None, 50, 100) == (None, {"startAt": 50, "maxResults": 100})
    assert p.next_request({"startAt": 100, "maxResults": 100}, {"total": 120}, None, 20, 100) is None
    assert p.next_request(params, {"isLast": True}, None, 10, 100) is None
    assert p.next_request(params, {"total": 5}, None, 0, 100) is None


def test_token_paginator():
    p = TokenPaginator()
    assert p.next_request({"maxResults": 50}, {"nextPageToken": "t2", "isLast": False}, None, 50, 50) == (
        None,
        {"maxResults": 50, "nextPageToken": "t2"},
    )
    assert p.next_request({}, {"isLast": True, "nextPageToken": "t3"}, None, 50, 50) is None
    assert p.next_request({}, {}, None, 50, 50) is None


def test_page_number_stops_on_short_page():
    p = PageNumberPaginator()
    assert p.next_request({"page": 1, "per_page": 30}, [], None, 30, 30) == (None, {"page": 2, "per_page": 30})
    assert p.next_request({"page": 2, "per_page": 30}, [], None, 29, 30) is None


def test_next_url_from_the_body_until_it_is_gone_or_the_page_is_empty():
    p = NextUrlPaginator(next_path="paging.next")
    assert p.first_params(100) == {"offset": 0, "limit": 100}
    assert NextUrlPaginator(offset_param=None).first_params(50) == {"limit": 50}
    nxt = "https://api.example.test/v1/incidents?offset=100&limit=100"
    r = requests.Response()
    assert p.next_request({}, {"data": [1], "paging": {"next": nxt}}, r, 1, 100) == (nxt, {})
    assert p.next_request({}, {"data": [1], "paging": {}}, r, 1, 100) is None  # the last page names none
    assert p.next_request({}, {"data": [], "paging": {"next": nxt}}, r, 0, 100) is None  # an empty page ends it
