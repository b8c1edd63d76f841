"""The fault matrix: every fault kind against Jira, GitHub, CircleCI, Azure DevOps, Bitbucket and Linear, read
through the real connectors.

Each row of CASES is one fault (where it lands, how often) and what the run must do about it. Every cell
checks the same guarantees against the simulator's ground truth (tests/faults/targets.py):
  - zero records lost, zero duplicated, none the source does not have, each at its current version;
  - the cursor never past committed data;
  - passing faults: each injected fault fired and cost exactly one retry, and the waits followed the
    server (Retry-After, the rate-limit reset) rather than a guess;
  - fatal faults: exactly one clear error (the source's name, the request, what to fix) after one refused
    request; what was committed before it stays and is sound; the rerun after the fix completes the load.
docs/OPERATIONS.md ("Failure modes") has this matrix as a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.core.errors import AuthError, RetriesExhaustedError
from connectors.core.raw import RawStore
from tests.faults.targets import (
    AZURE_DEVOPS,
    BITBUCKET,
    BITBUCKET_DC,
    GITLAB,
    JIRA_DC,
    LINEAR,
    TARGETS,
    Target,
    assert_matches_truth,
    assert_partial_load_is_sound,
    simulator,
)

ALL = ("jira", "github", "circleci", "azure_devops", "bitbucket", "bitbucket-dc", "linear")
# Linear sends no Retry-After (its RATELIMITED answer carries an hourly reset): the cases about one leave it out.
WITH_RETRY_AFTER = tuple(s for s in ALL if s != "linear")
MATRIX = (*TARGETS, AZURE_DEVOPS, BITBUCKET, BITBUCKET_DC, LINEAR)


@dataclass(frozen=True)
class Case:
    id: str
    # (where: "list" or "child", kind, options) per fault; `times` is in the options
    faults: tuple[tuple[str, str, dict[str, Any]], ...]
    sources: tuple[str, ...] = ALL
    fatal: type[Exception] | None = None
    # fatal cases: what the one error must say ({source} is the source's name, {method} the list's) and how many
    # requests were refused with which status before it (a bad token is not retried; a dead server is,
    # max_retries times)
    says: tuple[str, ...] = ()
    refused: tuple[int, int] = (0, 0)
    min_wait: float = 0.0  # seconds the client must have waited in all (what the server asked for)
    per_source: dict[str, tuple[tuple[str, str, dict[str, Any]], ...]] = field(default_factory=dict)

    def faults_for(self, target: Target) -> tuple[tuple[str, str, dict[str, Any]], ...]:
        return self.per_source.get(target.name, self.faults)


CASES = (
    # Retry-After: 1 on two list pages -> the client sleeps 1 s twice: at least 2 s waited.
    Case("429 with Retry-After", (("list", "rate_limit", {"times": 2, "retry_after": 1}),), min_wait=2.0,
         sources=WITH_RETRY_AFTER),
    # Retry-After 1 s, above max_backoff_seconds (0.5 s here): the server's wait is honoured, not cut to 0.5 s.
    # Regression: the client capped it at max_backoff_seconds and came back early (another 429 in real life).
    Case("Retry-After above max backoff", (("list", "rate_limit", {"times": 1, "retry_after": 1}),), min_wait=1.0,
         sources=WITH_RETRY_AFTER),
    # No Retry-After: Jira and CircleCI back off (0.05 s, then 0.1 s); GitHub's 429 carries the quota headers
    # (X-RateLimit-Remaining 0, reset 1 s ahead), so the client sleeps until the reset: at least 1 s.
    Case("429 without Retry-After", (("list", "rate_limit", {"times": 2, "retry_after": None}),),
         per_source={"github": (("list", "rate_limit",
                                 {"times": 1, "retry_after": None, "limit": "primary", "reset_seconds": 1}),),
                     # Azure DevOps names its reset (X-RateLimit-Reset, epoch seconds): the client waits for it
                     "azure_devops": (("list", "rate_limit", {"times": 2, "retry_after": None, "reset_seconds": 1}),)}),
    # GitHub's secondary (abuse) limit: 403, "secondary rate limit" in the body, Retry-After 1.
    Case("GitHub secondary rate limit (403)", (("list", "rate_limit", {"times": 1, "status": 403, "retry_after": 1}),
                                               ("child", "rate_limit", {"times": 1, "status": 403, "retry_after": 1})),
         sources=("github",), min_wait=2.0),
    Case("5xx burst", (("list", "server_error", {"times": 1, "status": 500}),
                       ("list", "server_error", {"times": 1, "status": 502}),
                       ("list", "server_error", {"times": 1, "status": 503}),
                       ("child", "server_error", {"times": 1, "status": 504}))),
    # The server answers after 1 s; the client gives up at 0.5 s (timeout_seconds) and asks again.
    Case("timeout", (("list", "slow", {"times": 1, "seconds": 1.0}), ("child", "slow", {"times": 1, "seconds": 1.0}))),
    Case("connection reset", (("list", "connection_reset", {"times": 2}), ("child", "connection_reset", {"times": 1}))),
    Case("malformed JSON", (("list", "malformed_json", {"times": 1}), ("child", "malformed_json", {"times": 1}))),
    # Content-Length promises the page, half arrives, the connection closes.
    Case("truncated page", (("list", "truncated", {"times": 1, "after": 1}), ("child", "truncated", {"times": 1}))),
    # The first list page (and its children) is read and committed; every request after it is refused.
    Case("token revoked mid-run", (("list", "unauthorized", {"times": None, "after": 1}),), fatal=AuthError,
         says=("source '{source}'", "{method} /", "check the credentials"), refused=(401, 1)),
    # The source goes down after the first page: 1 request + max_retries (4) retries, then one error.
    Case("server down mid-run", (("list", "server_error", {"times": None, "after": 1, "status": 503}),),
         fatal=RetriesExhaustedError, says=("{source}: {method} /", "still failing after 4 retries", "rerun later"),
         refused=(503, 5)),
)


def _cells():
    return [pytest.param(case, target, id=f"{case.id}-{target.name}")
            for case in CASES for target in MATRIX if target.name in case.sources]


def _add(sim, target: Target, faults) -> None:
    for where, kind, opts in faults:
        sim.faults.add(target.list_path if where == "list" else target.child_path, kind, **opts)


@pytest.mark.parametrize(("case", "target"), _cells())
def test_fault(case: Case, target: Target, tmp_path):
    with simulator(target) as sim, RawStore(tmp_path / "w.duckdb") as store:
        faults = case.faults_for(target)
        _add(sim, target, faults)
        if case.fatal is None:
            results = target.extract(sim.url, store)
            fired = [f["fired"] for f in sim.faults.all()]
            assert fired == [opts["times"] for _, _, opts in faults]  # every fault landed
            # one retry per fault, no more (a retry storm) and none missed (a fault taken as data)
            assert sum(r.stats.retries for r in results) == sum(fired)
            assert sum(r.stats.waited_seconds for r in results) >= case.min_wait
        else:
            with pytest.raises(case.fatal) as raised:
                target.extract(sim.url, store)
            message = str(raised.value)
            # one clear error: the source, the object (request path), the fix
            assert [part for part in case.says
                    if part.format(source=target.source_name, method=target.list_method) not in message] == []
            status, count = case.refused
            status = target.refused_status if status == 401 else status
            assert sim.request_count(status=status) == count
            assert_partial_load_is_sound(store, sim, target)
            committed = store.con.execute(f"SELECT count(*) FROM raw.{target.main_table}").fetchall()[0][0]
            assert committed >= 1  # the page before the revocation stays
            sim.faults.clear()  # the token is fixed
            target.extract(sim.url, store)
        assert_matches_truth(store, sim, target)
        assert_partial_load_is_sound(store, sim, target)


@pytest.mark.parametrize("target", [*TARGETS, JIRA_DC, GITLAB, AZURE_DEVOPS, BITBUCKET, BITBUCKET_DC, LINEAR],
                         ids=[t.name for t in (*TARGETS, JIRA_DC, GITLAB, AZURE_DEVOPS, BITBUCKET, BITBUCKET_DC, LINEAR)])
def test_records_updated_and_inserted_while_paging(target: Target, tmp_path):
    """A record already read is updated and a new one created while the run is on its second page: the
    run stores each record once and its cursor stays behind what it committed; the next nightly run
    (cursor minus lookback) ends with every record at its current version.

    Regression (Jira Data Center, GitLab): paged by position, FLOW-4's update moved it to the end of the
    list and FLOW-5 up into the page already read; FLOW-5 was never stored and the cursor passed it for
    good (on GitLab, deployment iid 1 and iid 3)."""
    with simulator(target) as sim, RawStore(tmp_path / "w.duckdb") as store:
        action = target.change_while_paging(sim)
        sim.faults.add(target.list_path, "mutate", times=1, after=1, action=action)
        target.extract(sim.url, store)
        assert [f["fired"] for f in sim.faults.all()] == [1]
        assert_partial_load_is_sound(store, sim, target)
        target.extract(sim.url, store)
        assert_matches_truth(store, sim, target)
        assert_partial_load_is_sound(store, sim, target)
