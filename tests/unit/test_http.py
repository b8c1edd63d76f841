import socket

import pytest
import requests
import urllib3

from connectors.core.errors import (
    AuthError,
    BadRequestError,
    FatalError,
    ForeignHostError,
    GoneError,
    NotFoundError,
    RetriesExhaustedError,
)
from connectors.core.http import HttpClient, RequestStats, RetryPolicy, origin, origin_text, retry_after_seconds

from .fakes import ScriptedSession, make_response

SECRET = "ghp_supersecret"


def client(answers, max_retries=3):
    waits = []
    session = ScriptedSession(answers)
    c = HttpClient(
        source="gh",
        base_url="https://api.test/api/v3",
        auth_headers=lambda: {"Authorization": f"Bearer {SECRET}"},
        retry=RetryPolicy(max_retries=max_retries, backoff_seconds=1.0, max_backoff_seconds=30.0),
        session=session,
        sleep=waits.append,
    )
    return c, session, waits


def test_relative_paths_join_under_base_url():
    c, session, _ = client([make_response(body=[1])])
    body, _ = c.get_json("/repos/a/b/pulls", {"page": 1})
    assert body == [1]
    assert session.calls[0][0] == "https://api.test/api/v3/repos/a/b/pulls"
    assert session.calls[0][2]["Authorization"] == f"Bearer {SECRET}"


def test_retry_after_is_honoured_and_counted():
    c, _, waits = client([
        make_response(429, {"message": "slow down"}, {"Retry-After": "7"}),
        make_response(503),
        make_response(body={"ok": True}),
    ])
    stats = RequestStats()
    body, _ = c.get_json("x", stats=stats)
    assert body == {"ok": True}
    assert stats.requests == 3 and stats.retries == 2
    assert waits[0] == 7.0
    assert 1.0 <= waits[1] <= 2.0  # second attempt: backoff 2s with full jitter in [1, 2]
    assert stats.retry_reasons == {"http 429": 1, "http 503": 1}


def test_timeouts_resets_and_truncated_json_are_retried():
    c, _, waits = client([
        requests.Timeout(),
        requests.ConnectionError("reset by peer"),
        make_response(raw=b'{"issues": [{"id": "1"'),
        make_response(body={"issues": []}),
    ])
    stats = RequestStats()
    assert c.get_json("x", stats=stats)[0] == {"issues": []}
    assert stats.retry_reasons == {"timeout": 1, "connection error": 1, "malformed json": 1}


def test_github_403_rate_limit_waits_for_reset():
    reset = 1_900_000_100
    r = make_response(403, {"message": "API rate limit exceeded"}, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    assert retry_after_seconds(r, now=1_900_000_000) == 100.0
    c, _, waits = client([r, make_response(body=[])])
    c.get_json("x")
    assert waits == [30.0]  # capped at max_backoff_seconds


def test_retries_exhausted_is_fatal_and_names_source():
    c, _, _ = client([make_response(502)] * 3, max_retries=2)
    with pytest.raises(RetriesExhaustedError, match=r"gh: GET /api/v3/x still failing after 2 retries"):
        c.get_json("x")


@pytest.mark.parametrize(
    "status, error, text",
    [
        (401, AuthError, "check the credentials of source 'gh'"),
        (403, AuthError, "refused (403"),
        (404, NotFoundError, "check the scope of source 'gh'"),
        (410, GoneError, "is gone (410)"),  # a NotFoundError: the engine records the object gone
        (400, BadRequestError, "The value 'NOPE' does not exist"),
    ],
)
def test_fatal_statuses_fail_fast_without_secrets(status, error, text):
    body = {"errorMessages": ["The value 'NOPE' does not exist for the field 'project'."], "errors": {}}
    c, session, waits = client([make_response(status, body)])
    with pytest.raises(error) as exc:
        c.get_json("x")
    assert text in str(exc.value)
    assert SECRET not in str(exc.value) and waits == [] and len(session.calls) == 1


def test_credentials_are_bound_to_scheme_host_and_port():
    assert origin("https://API.test:443/api/v3") == origin("https://api.test/other") == ("https", "api.test", 443)
    assert origin("http://api.test/") == ("http", "api.test", 80)
    assert origin("http://api.test:443/") != origin("https://api.test/")
    assert origin_text("https://user:pw@api.test:8443/x?token=1") == "https://api.test:8443"  # no secret shown


def test_a_next_link_on_the_configured_host_is_followed_and_one_elsewhere_is_refused_unsent():
    c, session, _ = client([make_response(body=[2])])
    assert c.get_json("https://api.test/api/v3/x?page=2")[0] == [2]  # same origin: followed with the token
    for elsewhere in ("https://api.test:8443/api/v3/x", "http://api.test/api/v3/x", "https://evil.test/x"):
        with pytest.raises(ForeignHostError, match="refused to follow a link to"):
            c.get_json(elsewhere)
    assert len(session.calls) == 1


def test_redirects_are_followed_on_the_configured_host_only():
    c, session, _ = client([
        make_response(301, headers={"Location": "/api/v3/repos/acme/new"}),
        make_response(body={"name": "new"}),
        make_response(302, headers={"Location": "https://api.test:8443/steal"}),
    ])
    assert c.get_json("repos/acme/old")[0] == {"name": "new"}
    assert [call[0] for call in session.calls] == ["https://api.test/api/v3/repos/acme/old",
                                                   "https://api.test/api/v3/repos/acme/new"]
    assert session.calls[1][2]["Authorization"] == f"Bearer {SECRET}"
    with pytest.raises(ForeignHostError) as err:
        c.get_json("repos/acme/other")
    assert str(err.value).startswith("gh: GET /api/v3/repos/acme/other was redirected (302) to "
                                     "https://api.test:8443, which is not the configured host https://api.test")
    assert len(session.calls) == 3  # the foreign Location was never requested


def test_a_redirect_loop_stops():
    c, session, _ = client([make_response(302, headers={"Location": "/api/v3/x"})] * 6)
    with pytest.raises(FatalError, match="redirected more than 5 times on https://api.test"):
        c.get_json("x")
    assert len(session.calls) == 6


def test_a_dns_failure_names_the_host_and_the_cause():
    # How requests reports a name that does not resolve: ConnectionError(MaxRetryError(NameResolutionError(
    # gaierror))); the message keeps none of that chain's class names, only host and cause.
    gaierror = socket.gaierror(-2, "Name or service not known")
    failure = urllib3.exceptions.NameResolutionError("api.test", None, gaierror)
    failure.__cause__ = gaierror
    wrapped = requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/x", reason=failure))
    c, _, _ = client([wrapped], max_retries=0)
    with pytest.raises(RetriesExhaustedError) as err:
        c.get_json("x")
    assert str(err.value) == (
        "gh: GET /api/v3/x still failing after 0 retries (connection error: the host name api.test does not "
        "resolve (DNS lookup failed): check base_url and the network's DNS); the source may be down or "
        "rate-limiting hard: rerun later, or raise options.max_retries")
