import pytest
import requests

from connectors.core.errors import AuthError, BadRequestError, NotFoundError, RetriesExhaustedError
from connectors.core.http import HttpClient, RequestStats, RetryPolicy, retry_after_seconds

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
