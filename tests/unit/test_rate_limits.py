"""Token quotas, rate-limit pacing, conditional requests and Actions window splitting, without a server."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connectors.core.errors import RateLimitExhaustedError, WaitLimitError
from connectors.core.http import HttpClient, RequestStats, RetryPolicy, TokenPool
from connectors.github import split_run_window

from .fakes import ScriptedSession, make_response

SECRETS = ["ghp_first_secret", "ghp_second_secret"]


def client(answers, secrets=SECRETS, max_wait=900.0, max_retries=6):
    waits: list[float] = []
    session = ScriptedSession(answers)
    pool = TokenPool(secrets, lambda t: {"Authorization": f"Bearer {t}"})
    c = HttpClient(source="gh", base_url="https://api.test", retry=RetryPolicy(max_retries=max_retries),
                   session=session, sleep=waits.append, tokens=pool, max_rate_limit_wait_seconds=max_wait)
    return c, session, waits


def quota(remaining: int, reset: float) -> dict[str, str]:
    return {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(int(reset))}


def used_tokens(session) -> list[str]:
    return [headers["Authorization"].removeprefix("Bearer ") for _, _, headers in session.calls]


def test_requests_spread_over_tokens_by_quota_left():
    reset = time.time() + 3600
    c, session, _ = client([
        make_response(body=[], headers=quota(100, reset)),  # first: unknown quotas, the first token
        make_response(body=[], headers=quota(50, reset)),   # second: the other token, still unknown
        make_response(body=[], headers=quota(98, reset)),   # then the one with more left: first (99 > 50)
        make_response(body=[], headers=quota(97, reset)),
    ])
    for _ in range(4):
        c.get_json("x")
    assert used_tokens(session) == [SECRETS[0], SECRETS[1], SECRETS[0], SECRETS[0]]


def test_spent_token_with_reset_in_the_past_is_used_again_without_waiting():
    c, session, waits = client([
        make_response(body=[], headers=quota(0, time.time() - 5)),
        make_response(body={"ok": True}, headers=quota(4999, time.time() + 3600)),
    ], secrets=SECRETS[:1])
    c.get_json("x")
    assert c.get_json("x")[0] == {"ok": True}
    assert waits == [] and len(session.calls) == 2


def test_every_token_spent_sleeps_to_a_near_reset():
    reset = time.time() + 100
    stats = RequestStats()
    c, session, waits = client([
        make_response(403, {"message": "API rate limit exceeded"}, quota(0, reset)),
        make_response(403, {"message": "API rate limit exceeded"}, quota(0, reset)),
        make_response(body=[]),
    ])
    c.get_json("x", stats=stats)
    # both refused (one switch, no wait), then one sleep to the reset plus a second of clock skew
    assert used_tokens(session) == [SECRETS[0], SECRETS[1], SECRETS[0]]
    assert waits[:2] == [0.0, 0.0] and 99.0 <= waits[2] <= 101.5
    assert stats.rate_limit_waits == 1 and stats.retry_reasons == {"http 403 primary rate limit": 2}


def test_every_token_spent_until_a_far_reset_stops_with_what_to_do():
    reset = time.time() + 3000
    c, session, waits = client([
        make_response(403, {"message": "API rate limit exceeded"}, quota(0, reset)),
        make_response(403, {"message": "API rate limit exceeded"}, quota(0, reset)),
    ], max_wait=600)
    with pytest.raises(RateLimitExhaustedError) as err:
        c.get_json("repos/acme/api/pulls")
    message = str(err.value)
    assert message.startswith("gh: GET /repos/acme/api/pulls: the rate limit of every token (2) is used up until")
    assert "options.max_rate_limit_wait_seconds (600)" in message and "auth.tokens" in message
    assert not any(secret in message for secret in SECRETS)
    assert len(session.calls) == 2 and waits == [0.0, 0.0]


def test_secondary_limit_waits_a_growing_minute_or_what_retry_after_says():
    secondary = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}
    c, _, waits = client([
        make_response(403, secondary),
        make_response(403, secondary),
        make_response(429, secondary, {"Retry-After": "30"}),
        make_response(body=[]),
        make_response(403, secondary),  # after a success the pacing starts again from a minute
        make_response(body=[]),
    ])
    c.get_json("x")
    c.get_json("x")
    assert waits == [60.0, 120.0, 30.0, 60.0]


def test_secondary_limit_longer_than_the_maximum_wait_stops():
    c, _, _ = client([make_response(403, {"message": "secondary rate limit"}, {"Retry-After": "1200"})], max_wait=600)
    with pytest.raises(RateLimitExhaustedError, match="secondary rate limit"):
        c.get_json("x")


def test_304_is_counted_and_returns_no_body():
    stats = RequestStats()
    c, session, _ = client([make_response(304, headers={"ETag": 'W/"abc"'})], secrets=SECRETS[:1])
    body, response = c.get_json("x", stats=stats, headers={"If-None-Match": 'W/"abc"'})
    assert body is None and response.status_code == 304
    assert stats.not_modified == 1 and session.calls[0][2]["If-None-Match"] == 'W/"abc"'


NOW = datetime(2026, 1, 3, tzinfo=UTC)


def test_actions_window_over_the_cap_is_halved_without_overlap():
    params = {"per_page": 100, "created": ">=2026-01-01T00:00:00Z"}
    assert split_run_window(params, {"total_count": 1001}, now=NOW) == [
        {"per_page": 100, "created": "2026-01-01T00:00:00Z..2026-01-02T00:00:00Z"},
        {"per_page": 100, "created": "2026-01-02T00:00:01Z..2026-01-03T00:00:00Z"},
    ]
    narrower = {"created": "2026-01-01T00:00:00Z..2026-01-01T00:00:09Z"}
    assert split_run_window(narrower, {"total_count": 5000}, now=NOW) == [
        {"created": "2026-01-01T00:00:00Z..2026-01-01T00:00:04Z"},
        {"created": "2026-01-01T00:00:05Z..2026-01-01T00:00:09Z"},
    ]


def test_actions_window_within_the_cap_or_unsplittable_is_kept():
    assert split_run_window({"created": ">=2026-01-01T00:00:00Z"}, {"total_count": 1000}, now=NOW) is None
    assert split_run_window({"per_page": 100}, {"total_count": 5000}, now=NOW) is None  # no search: no cap
    one_second = {"created": "2026-01-01T00:00:00Z..2026-01-01T00:00:01Z"}
    assert split_run_window(one_second, {"total_count": 1500}, now=NOW) is None


def test_waits_add_up_to_the_total_budget_then_the_source_stops():
    # Secondary limits asking for 30 s each: 30 + 30 = 60 s fits a budget of 75 s, a third 30 s (90) does not,
    # so the client stops after three answers and two sleeps instead of sleeping again.
    secondary = {"message": "You have exceeded a secondary rate limit."}
    c, session, waits = client([make_response(429, secondary, {"Retry-After": "30"})] * 3)
    c.max_total_wait_seconds = 75.0
    with pytest.raises(WaitLimitError) as err:
        c.get_json("repos/acme/api/pulls")
    assert waits == [30.0, 30.0] and len(session.calls) == 3
    message = str(err.value)
    assert message.startswith("gh: GET /repos/acme/api/pulls: source 'gh' has waited 60 s in this step")
    assert "the next wait of 30 s (after http 429 secondary rate limit) would pass options.max_total_wait_seconds " \
           "(75 s)" in message
    assert not any(secret in message for secret in SECRETS)


def test_a_reset_wait_counts_against_the_total_budget():
    # Every token spent until a reset 100 s away: the sleep (100 s plus a second of skew) is within
    # max_rate_limit_wait_seconds (900) but not within a total budget of 60 s.
    reset = time.time() + 100
    c, session, waits = client([
        make_response(403, {"message": "API rate limit exceeded"}, quota(0, reset)),
        make_response(403, {"message": "API rate limit exceeded"}, quota(0, reset)),
    ])
    c.max_total_wait_seconds = 60.0
    with pytest.raises(WaitLimitError, match=r"the next wait of 10\d s \(after the rate limit of every token \(2\) "
                                             r"was used up\)"):
        c.get_json("x")
    assert waits == [0.0, 0.0] and len(session.calls) == 2
