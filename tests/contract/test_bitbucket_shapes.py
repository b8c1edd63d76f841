"""Contract between the Bitbucket simulator (simulator/bitbucket_api.py), the connector, the staging models
and the marts: what the connector stores from Bitbucket-shaped answers carries every JSON path the staging
views read, the simulator keeps the wire rules the connector relies on (`next` pages, `pagelen` caps, OPEN
pull requests only unless `state` is given, `q` refused when malformed, a 429 without Retry-After), and the
demo organisation's Mobile team (repositories acme/mobile-app and the library acme/mobile-app-ui-kit, whose
pull requests are numbered from 1 too) reaches `deployments` and `pull_request_cycle_times`.

There are no recorded Bitbucket answers in ../shared/fixtures (DevLake's e2e data has no Bitbucket objects):
the shapes follow Bitbucket Cloud's REST 2.0 reference.

The Bitbucket repository mirrors the Org's GitHub repository acme/checkout-web (simulator/bitbucket_api.py):
one pull request per GitHub pull request, one deployment per GitHub deployment with the same environment and
outcome; so the counts below are GitHub's for that repository.
"""

from __future__ import annotations

import json

import pytest
import requests

from connectors import bitbucket
from connectors.config import DBT_PROJECT_DIR
from connectors.core.errors import AuthError
from connectors.core.raw import RawStore
from connectors.core.options import DeploymentRules
from connectors.kit import assert_each_record_once, raw_keys, source_config
from simulator import SimulatorServer, generate_org
from simulator.bitbucket_api import LIBRARY, LIBRARY_MIRRORED, MIRRORED, SLUG
from tests.contract.test_bitbucket_dc_shapes import DATACENTER_ONLY
from tests.contract.test_pagerduty_shapes import has_path, payload_paths, payloads
from tests.dbt.warehouse import RAW_TABLES, query, run_dbt

STAGING = DBT_PROJECT_DIR / "models" / "staging" / "bitbucket"
STREAMS = ("repositories", "pull_requests", "pull_request_activity", "pull_request_commits", "pipelines",
           "environments", "deployments", "deployment_commits")


@pytest.fixture(scope="module")
def sim():
    with SimulatorServer(generate_org(), mount_options={"bitbucket": {"tokens": {"good"}}}) as server:
        yield server


def config(sim, token="good", **options):
    return source_config({"type": "bitbucket", "name": "bb", "base_url": f"{sim.url}/bitbucket",
                          "auth": {"username": "demo@example.com", "token": "${BB}"}, "scope": {"workspace": "acme"},
                          "options": {"start_date": "2026-01-01", "backoff_seconds": 0, "page_size": 20, **options}},
                         env={"BB": token})


@pytest.fixture(scope="module")
def loaded(sim, tmp_path_factory):
    """Every stream read from the simulator into a warehouse (the raw layer of the whole dbt source `raw`)."""
    path = tmp_path_factory.mktemp("bitbucket-contract") / "throughline.duckdb"
    with RawStore(path) as store:
        for table in RAW_TABLES:
            store.ensure_table(table)
        for group in bitbucket.SOURCE.groups:
            bitbucket.extract(group, config(sim), store)
    return path


def github_truth(sim):
    store = sim.org.repos[MIRRORED]
    merged = [pr for pr in store.pulls.values() if pr["merged_at"]]
    production = [d for d in store.deployments.values() if d["environment"] == "production"]
    return store, merged, production


def test_what_the_connector_stores_has_every_path_staging_reads(sim, loaded):
    data = sim.mounts["bitbucket"].data
    with RawStore(loaded) as store:
        # two repositories numbering their pull requests from 1: each kept under its repository
        assert_each_record_once(store, "bitbucket__pull_requests",
                                [f"acme/{slug}:{n}" for slug in (SLUG, LIBRARY) for n in data.pull_requests[slug]])
        assert set(data.pull_requests[SLUG]) & set(data.pull_requests[LIBRARY])
        assert len(raw_keys(store, "bitbucket__pull_request_activity")) == sum(
            len(a) for slug in (SLUG, LIBRARY) for a in data.activity[slug].values())
        assert len(raw_keys(store, "bitbucket__deployments")) == len(data.deployments["mobile-app"])
        for stream in STREAMS:
            # (the paths only Data Center's objects have: tests/contract/test_bitbucket_dc_shapes.py)
            paths = payload_paths(STAGING / f"stg_bitbucket__{stream}.sql") - DATACENTER_ONLY.get(stream, set())
            records = payloads(store, f"bitbucket__{stream}")
            assert paths and records, stream
            if stream == "pull_request_activity":  # each entry holds one kind; staging reads every kind's fields
                kinds = {next(k for k in ("update", "approval", "comment") if k in r) for r in records}
                assert kinds == {"update", "approval", "comment"}
                continue
            for record in records:
                # what only a finished run or deployment has
                done = {"state.status.name", "state.completed_on", "state.result.name", "completed_on"}
                state = record.get("state")
                running = isinstance(state, dict) and state.get("name") != "COMPLETED"
                wanted = paths - done if running else paths
                missing = [p for p in sorted(wanted) if not has_path(record, p)]
                assert not missing, f"{stream}: staging reads {missing}"


def test_the_simulator_keeps_bitbucket_wire_rules(sim):
    url = f"{sim.url}/bitbucket/2.0/repositories/acme/mobile-app/pullrequests"
    auth = {"Authorization": "Bearer good"}
    store, merged, _production = github_truth(sim)
    open_only = requests.get(url, headers=auth, timeout=10).json()
    assert open_only["size"] == sum(pr["state"] == "open" for pr in store.pulls.values())  # OPEN by default
    capped = requests.get(url, params={"state": "MERGED", "pagelen": 100}, headers=auth, timeout=10).json()
    assert capped["pagelen"] == 50 and capped["size"] == len(merged)
    bad = requests.get(url, params={"q": "updated_on ~ yesterday"}, headers=auth, timeout=10)
    assert bad.status_code == 400 and "error" in bad.json()


def test_a_429_without_retry_after_is_retried(sim, tmp_path):
    sim.faults.add(r"^/bitbucket/2\.0/repositories/acme/mobile-app/pipelines/\?", "rate_limit", times=1,
                   retry_after=None)
    raw = requests.get(f"{sim.url}/bitbucket/2.0/repositories/acme/mobile-app/pipelines/", params={"pagelen": 1},
                       headers={"Authorization": "Bearer good"}, timeout=10)
    assert raw.status_code == 429 and "Retry-After" not in raw.headers
    assert raw.json() == {"type": "error", "error": {"message": "Rate limit for this resource has been exceeded"}}
    sim.faults.add(r"^/bitbucket/2\.0/repositories/acme/mobile-app/pipelines/\?", "rate_limit", times=1,
                   retry_after=None)
    waits: list[float] = []
    with RawStore(tmp_path / "w.duckdb") as store:
        results = bitbucket.extract("pipelines", config(sim, backoff_seconds=1), store, sleep=waits.append)
        records = {r.scope: r.records for r in results}
        assert len(waits) == 1 and records == {f"acme/{SLUG}": len(sim.mounts["bitbucket"].data.pipelines[SLUG]),
                                               f"acme/{LIBRARY}": 0}  # the library has no Pipelines


def test_a_bad_token_is_refused_once(sim, tmp_path):
    before = sim.request_count("/bitbucket/")
    with RawStore(tmp_path / "w.duckdb") as store, pytest.raises(AuthError) as failure:
        bitbucket.extract("pipelines", config(sim, token="wrong-key"), store)
    assert "wrong-key" not in str(failure.value) and sim.request_count("/bitbucket/") == before + 1


def test_the_mobile_team_reaches_deployments_and_cycle_times(sim, loaded, tmp_path):
    rules = {"bb": DeploymentRules().for_dbt()}
    run_dbt(["build", "--select", "+pull_request_cycle_times", "+deployments", "+deployment_changes",
             "--exclude", "test_type:unit",
             "--vars", json.dumps({"deployment_rules": rules})], loaded, tmp_path)
    store, merged, production = github_truth(sim)
    deployments = query(loaded, "SELECT team, service, count(*) FROM marts.deployments GROUP BY ALL")
    assert deployments == [("Mobile", "acme/mobile-app", len(production))]
    cycle_times = query(loaded, """SELECT team, code_host, count(*), count(first_deployed_at),
                                          count(*) FILTER (WHERE lead_time_hours < 0 OR review_hours < 0)
                                   FROM marts.pull_request_cycle_times WHERE repo = 'acme/mobile-app'
                                   GROUP BY ALL""")
    (team, host, count, deployed, negative), = cycle_times
    assert (team, host, count, negative) == ("Mobile", "bitbucket", len(merged), 0)
    # the library's merged pull requests, numbered from 1 as the app's are, each its own row, never deployed
    library = [pr for pr in sim.org.repos[LIBRARY_MIRRORED].pulls.values() if pr["merged_at"]]
    assert query(loaded, """SELECT team, count(*), count(DISTINCT pull_request_number), count(first_deployed_at)
                            FROM marts.pull_request_cycle_times WHERE repo = 'acme/mobile-app-ui-kit'
                            GROUP BY ALL""") == [("Mobile", len(library), len(library), 0)]
    # a merged pull request is shipped once a successful production deployment started after its merge
    outcomes = {d["id"]: [s["state"] for s in store.deployment_statuses[d["id"]]] for d in production}
    last_success = max(d["created_at"] for d in production if outcomes[d["id"]][-1:] == ["success"])
    assert deployed == sum(pr["merged_at"] <= last_success for pr in merged)

    # What shipped, from the deployments' commit ranges: every default-branch commit from start_date up to the
    # last successful production deployment's, each once, and with them the pull requests merged into them
    data = sim.mounts["bitbucket"].data
    commits = data.commits["mobile-app"]
    where = {c["hash"]: i for i, c in enumerate(commits)}
    prod = next(e["uuid"] for e in data.environments["mobile-app"] if e["name"] == "Production")
    last = max(where[d["release"]["commit"]["hash"]] for d in data.deployments["mobile-app"]
               if d["environment"]["uuid"] == prod and d["state"].get("status", {}).get("name") == "SUCCESSFUL")
    shipped = [c["hash"] for c in commits[:last + 1] if c["date"] >= "2026-01-01"]
    merges = {pr["merge_commit"]["hash"] for pr in data.pull_requests["mobile-app"].values() if pr["merge_commit"]}
    assert query(loaded, """SELECT count(*), count(DISTINCT commit_sha), count(DISTINCT pull_request_key),
                                   count(*) FILTER (WHERE pull_request_match <> 'merge_commit')
                            FROM marts.deployment_changes WHERE is_first_production_deployment""") == [
        (len(shipped), len(shipped), sum(h[:12] in merges for h in shipped), 0)]


def test_a_commit_list_as_atlassian_documents_it_has_every_path_staging_reads(tmp_path):
    """`GET /2.0/repositories/{workspace}/{repo_slug}/commits/{revision}?exclude=...` answers a page of commit
    objects shaped as the reference's example (`bitbucket/geordi`, f7591a1): the connector stores it under
    the deployment and staging finds every field it reads."""
    from connectors.kit import ApiServer
    from tests.connectors.test_bitbucket_connector import BitbucketPages, deployment, environment

    documented = {
        "type": "commit", "hash": "f7591a13eda445d9a9167f98eb870319f4b6c2d8", "date": "2012-07-16T19:37:54+00:00",
        "message": "Add a GEORDI_OUTPUT_DIR setting",
        "summary": {"raw": "Add a GEORDI_OUTPUT_DIR setting", "markup": "markdown",
                    "html": "<p>Add a GEORDI_OUTPUT_DIR setting</p>", "type": "rendered"},
        "author": {"raw": "Brodie Rao <a@b.c>", "type": "author",
                   "user": {"display_name": "Brodie Rao", "uuid": "{9484702e-c663-4afd-aefb-c93a8cd31c28}",
                            "nickname": "brodie", "account_id": "557058:3aae1e05-702a-41e5-81c8-f36f29afb6ca",
                            "type": "user", "links": {"html": {"href": "https://bitbucket.org/%7B9484702e%7D/"}}}},
        "parents": [{"hash": "f06941fec4ef6bcb0c2456927a0cf258fa4f899b", "type": "commit",
                     "links": {"html": {"href": "https://bitbucket.org/bitbucket/geordi/commits/f06941fec4ef"}}}],
        "repository": {"name": "geordi", "type": "repository", "full_name": "bitbucket/geordi",
                       "uuid": "{85d08b4e-571d-44e9-a507-fa476535aa98}"},
        "links": {"html": {"href": "https://bitbucket.org/bitbucket/geordi/commits/f7591a13eda4"}},
    }
    release = deployment("d1", "production", "SUCCESSFUL", "2012-07-17T10:00:00.000000+00:00",
                         "2012-07-17T10:05:00.000000+00:00", sha=documented["hash"])
    with ApiServer() as api, RawStore(tmp_path / "w.duckdb") as store:
        repo = r"/2\.0/repositories/bitbucket/geordi"
        api.add_list(repo + "/environments/", [environment("Production", 2)], pages=BitbucketPages(), key="uuid")
        api.add_list(repo + "/deployments/", [release], pages=BitbucketPages(), key="uuid")
        api.add_list(repo + "/commits/f7591a13eda445d9a9167f98eb870319f4b6c2d8", [documented],
                     pages=BitbucketPages(50), key="hash")
        cfg = source_config({"type": "bitbucket", "name": "bb", "base_url": api.url, "auth": {"token": "${T}"},
                             "scope": {"workspace": "bitbucket", "repositories": ["geordi"]},
                             "options": {"backoff_seconds": 0}}, env={"T": "t"})
        *_, commits = bitbucket.extract("deployments", cfg, store)
        assert commits.records == 1 and api.requests[-1].startswith(
            "/2.0/repositories/bitbucket/geordi/commits/f7591a13eda445d9a9167f98eb870319f4b6c2d8?")
        assert_each_record_once(store, "bitbucket__deployment_commits", [f"{{d1}}:{documented['hash']}"])
        paths = payload_paths(STAGING / "stg_bitbucket__deployment_commits.sql")
        assert paths == {"hash", "author.user.nickname", "author.raw", "date", "message", "parents"}
        assert [p for p in sorted(paths) if not has_path(documented, p)] == []
