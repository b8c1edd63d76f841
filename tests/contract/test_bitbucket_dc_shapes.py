"""Contract between the Bitbucket Data Center simulator (simulator/bitbucket_dc_api.py), the connector's
`flavour: datacenter`, the staging models it shares with Bitbucket Cloud, and the marts: what the connector
stores from Data Center-shaped answers carries every JSON path the staging views read for that flavour, the
simulator keeps the wire rules the connector relies on (`start`/`limit` pages with `isLastPage` and
`nextPageStart`, `limit` capped, OPEN pull requests only unless `state` is given, a 429 with Retry-After, a
401 for a bad token), and the Mobile team's Data Center repository MOB/mobile-api reaches
`pull_request_cycle_times`.

There are no recorded Data Center answers in ../shared/fixtures: the shapes follow Bitbucket Data Center's
REST 1.0 reference (its OpenAPI schemas RestPullRequest, RestPullRequestActivity, RestCommit).

The repository mirrors the Org's GitHub repository acme/platform-infra (simulator/bitbucket_dc_api.py): one
pull request per GitHub pull request with the same times, one comment per review and an approval per
approving review, so the counts and times below are GitHub's for that repository.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from connectors import bitbucket
from connectors.config import DBT_PROJECT_DIR
from connectors.core.errors import AuthError
from connectors.core.raw import RawStore
from connectors.kit import assert_each_record_once, raw_keys, source_config
from simulator import SimulatorServer, generate_org
from simulator.bitbucket_dc_api import MIRRORED, SLUG
from tests.contract.test_pagerduty_shapes import has_path, payload_paths, payloads
from tests.dbt.warehouse import RAW_TABLES, query, run_dbt

STAGING = DBT_PROJECT_DIR / "models" / "staging" / "bitbucket"
SCOPE = f"MOB/{SLUG}"
# The paths each staging view reads for one flavour only (the other's objects do not have them).
DATACENTER_ONLY = {
    "repositories": set(),
    "pull_requests": {"author.user.name", "closedDate", "createdDate", "updatedDate", "fromRef.displayId",
                      "toRef.displayId", "properties.mergeCommit.id"},
    "pull_request_activity": {"action", "createdDate", "user.name", "commit.id", "commentAction"},
    "pull_request_commits": {"id", "author.name", "author.emailAddress", "authorTimestamp"},
}
CLOUD_ONLY = {
    "repositories": {"full_name", "mainbranch.name", "created_on", "updated_on"},
    "pull_requests": {"author.nickname", "author.display_name", "author.uuid", "source.branch.name",
                      "destination.branch.name", "merge_commit.hash", "links.html.href", "created_on", "updated_on"},
    "pull_request_commits": {"hash", "author.raw", "date"},
}
# What only some Data Center objects have: a closed pull request's closedDate, a merged one's merge commit.
ONLY_SOME = {"closedDate", "properties.mergeCommit.id"}
URL = "/bitbucket_dc/rest/api/1.0/projects/MOB/repos/mobile-api"


@pytest.fixture(scope="module")
def sim():
    with SimulatorServer(generate_org(), mount_options={"bitbucket_dc": {"tokens": {"good"}}}) as server:
        yield server


def config(sim, token="good", **options):
    return source_config({"type": "bitbucket", "flavour": "datacenter", "name": "bbdc",
                          "base_url": f"{sim.url}/bitbucket_dc", "auth": {"token": "${BB}"},
                          "scope": {"project": "MOB"},
                          "options": {"backoff_seconds": 0, "page_size": 20, **options}}, env={"BB": token})


@pytest.fixture(scope="module")
def loaded(sim, tmp_path_factory):
    """Every stream read from the simulator into a warehouse (the raw layer of the whole dbt source `raw`)."""
    path = tmp_path_factory.mktemp("bitbucket-dc-contract") / "throughline.duckdb"
    with RawStore(path) as store:
        for table in RAW_TABLES:
            store.ensure_table(table)
        for group in bitbucket.SOURCE.groups:
            bitbucket.extract(group, config(sim), store)
    return path


def github_truth(sim):
    store = sim.org.repos[MIRRORED]
    return store, [pr for pr in store.pulls.values() if pr["merged_at"]]


def test_what_the_connector_stores_has_every_path_staging_reads(sim, loaded):
    data = sim.mounts["bitbucket_dc"].data
    with RawStore(loaded) as store:
        assert_each_record_once(store, "bitbucket__pull_requests", [f"{SCOPE}:{n}" for n in data.pull_requests[SLUG]])
        assert_each_record_once(store, "bitbucket__pull_request_activity", [
            f"{SCOPE}:{n}:{a['id']}" for n, entries in data.activities[SLUG].items() for a in entries])
        assert len(raw_keys(store, "bitbucket__pull_request_commits")) == sum(
            len(c) for c in data.pr_commits[SLUG].values())
        assert raw_keys(store, "bitbucket__repositories") == [str(data.repositories[SLUG]["id"])]
        for stream in DATACENTER_ONLY:
            paths = payload_paths(STAGING / f"stg_bitbucket__{stream}.sql") - CLOUD_ONLY.get(stream, set())
            records = payloads(store, f"bitbucket__{stream}")
            assert paths and records, stream
            for record in records:
                if stream == "pull_request_activity":  # Cloud's entries name their kind; these have an action
                    wanted = {"action", "createdDate", "user.name"} | {
                        "MERGED": {"commit.id"}, "COMMENTED": {"commentAction"}}.get(record["action"], set())
                else:
                    wanted = {p for p in paths if p not in ONLY_SOME or has_path(record, p)}
                missing = [p for p in sorted(wanted) if not has_path(record, p)]
                assert not missing, f"{stream}: staging reads {missing}"
    # what the connector stores is all the simulator serves: a merged pull request carries its merge commit
    merged = [pr for pr in data.pull_requests[SLUG].values() if pr["state"] == "MERGED"]
    assert merged and all("mergeCommit" in pr["properties"] and "closedDate" in pr for pr in merged)


def test_the_simulator_keeps_data_center_wire_rules(sim):
    url = f"{sim.url}{URL}/pull-requests"
    auth = {"Authorization": "Bearer good"}
    store, merged = github_truth(sim)
    open_only = requests.get(url, headers=auth, timeout=10).json()
    assert [pr["state"] for pr in open_only["values"]] == ["OPEN"] * sum(p["state"] == "open" for p in store.pulls.values())
    assert open_only["limit"] == 25 and open_only["isLastPage"] is True and "nextPageStart" not in open_only
    capped = requests.get(url, params={"state": "MERGED", "limit": 1000}, headers=auth, timeout=10).json()
    assert capped["limit"] == 100 and capped["size"] == len(merged)
    first = requests.get(url, params={"state": "ALL", "limit": 10}, headers=auth, timeout=10).json()
    assert (first["size"], first["isLastPage"], first["nextPageStart"]) == (10, False, 10)
    updated = [pr["updatedDate"] for pr in first["values"]]
    assert updated == sorted(updated, reverse=True)  # NEWEST: the latest update first
    bad = requests.get(url, params={"state": "SUPERSEDED"}, headers=auth, timeout=10)
    assert bad.status_code == 400 and bad.json()["errors"][0]["message"].startswith("Invalid state")
    refused = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert refused.status_code == 401 and "exceptionName" in refused.json()["errors"][0]


def test_a_429_names_its_wait_and_the_connector_takes_it(sim, tmp_path):
    sim.faults.add(r"^/bitbucket_dc/rest/api/1\.0/projects/MOB/repos/mobile-api/pull-requests\?", "rate_limit",
                   times=1, retry_after=2)
    waits: list[float] = []
    with RawStore(tmp_path / "w.duckdb") as store:
        (result,) = bitbucket.extract("pull_requests", config(sim, max_backoff_seconds=5), store,
                                      sleep=waits.append)
    assert waits == [2.0] and result.records == len(sim.mounts["bitbucket_dc"].data.pull_requests[SLUG])


def test_a_bad_token_is_refused_once(sim, tmp_path):
    before = sim.request_count("/bitbucket_dc/")
    with RawStore(tmp_path / "w.duckdb") as store, pytest.raises(AuthError) as failure:
        bitbucket.extract("pull_requests", config(sim, token="wrong-key"), store)
    assert "wrong-key" not in str(failure.value) and sim.request_count("/bitbucket_dc/") == before + 1


def test_a_rerun_asks_one_page_and_no_child_list(sim, loaded):
    before = sim.request_count("/bitbucket_dc/")
    with RawStore(loaded) as store:
        (result,) = bitbucket.extract("pull_requests", config(sim), store)
    # the project's repositories, then the newest page: its last pull request is older than the cursor
    # less the lookback, and every one on it is stored unchanged
    assert sim.request_count("/bitbucket_dc/") - before == 2 and result.child_records == {
        "pull_request_activity": 0, "pull_request_commits": 0}


def test_the_mobile_repository_reaches_the_cycle_times(sim, loaded, tmp_path):
    run_dbt(["build", "--select", "+pull_request_cycle_times", "--exclude", "test_type:unit"], loaded, tmp_path)
    store, merged = github_truth(sim)

    def at(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)

    rows = query(loaded, """SELECT pull_request_number, opened_at, merged_at, first_response_at, approved_at,
                                   first_deployed_at, team
                            FROM marts.pull_request_cycle_times WHERE repo = 'MOB/mobile-api'
                            ORDER BY pull_request_number""")
    # one row per merged pull request, opened and merged when GitHub's were (the activity's MERGED)
    assert [(n, opened, merged_at) for n, opened, merged_at, *_ in rows] == [
        (pr["number"], at(pr["created_at"]), at(pr["merged_at"])) for pr in sorted(merged, key=lambda p: p["number"])]
    # the first response is the first review by someone else before the merge (its comment); the approval the
    # first approving review's, a second after its comment
    for number, _opened, merged_at, first_response, approved, deployed, team in rows:
        reviews = [r for r in store.reviews.get(number, []) if r["user"]["login"] != store.pulls[number]["user"]["login"]
                   and at(r["submitted_at"]) <= merged_at]
        assert first_response == (min(at(r["submitted_at"]) for r in reviews) if reviews else None), number
        approvals = [at(r["submitted_at"]) for r in reviews if r["state"] == "APPROVED"]
        if approvals and min(approvals).timestamp() + 1 <= merged_at.timestamp():
            assert (approved - min(approvals)).total_seconds() == 1, number
        # Data Center has no deployments API: nothing here ships it; no service names MOB/mobile-api in the
        # service_teams seed
        assert (deployed, team) == (None, "unassigned"), number
