"""GitLab paging: X-Next-Page on offset pages (empty on the last), Link alone on keyset pages."""

import requests

from connectors.core.paginators import NextPageHeaderPaginator
from connectors.gitlab import encode


def response(headers: dict[str, str]) -> requests.Response:
    r = requests.Response()
    r.headers.update(headers)
    return r


def test_offset_pages_follow_x_next_page_and_stop_when_it_is_empty():
    p = NextPageHeaderPaginator()
    params = {"order_by": "updated_at", **p.first_params(100)}
    assert params == {"order_by": "updated_at", "per_page": 100}
    # Offset answers carry Link too; X-Next-Page decides, so the request keeps its own params.
    middle = response({"X-Next-Page": "3", "Link": '<https://gl/api/v4/x?page=3>; rel="next"'})
    assert p.next_request({**params, "page": "2"}, [], middle, 100, 100) == (None, {**params, "page": "3"})
    last = response({"X-Next-Page": "", "Link": '<https://gl/api/v4/x?page=1>; rel="first"'})
    assert p.next_request(params, [], last, 7, 100) is None


def test_keyset_pages_follow_link_only():
    p = NextPageHeaderPaginator()
    keyset = response({"Link": '<https://gl/api/v4/projects/1/jobs?pagination=keyset&cursor=abc>; rel="next"'})
    assert p.next_request({"pagination": "keyset"}, [], keyset, 100, 100) == (
        "https://gl/api/v4/projects/1/jobs?pagination=keyset&cursor=abc", {})
    # The URL already holds every parameter, so later pages pass none; the last page has no next Link.
    assert p.next_request({}, [], response({}), 12, 100) is None


def test_project_paths_are_encoded_whole():
    assert encode("acme/payments/api") == "acme%2Fpayments%2Fapi"
    assert encode("acme/my.project") == "acme%2Fmy.project"
