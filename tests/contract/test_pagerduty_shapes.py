"""Contract between the PagerDuty simulator (simulator/pagerduty_api.py), the connector and the staging
models: what the connector stores from PagerDuty-shaped answers carries every JSON path the staging views read,
and the simulator keeps the wire rules the connector relies on (6-month range cap, `total` only when asked,
rate limits announced by `ratelimit-*` headers, not Retry-After).

There are no recorded PagerDuty answers in ../shared/fixtures: the shapes follow PagerDuty's API reference
(incident, log entry and service objects, the list envelope).

The generated Org (seed 7) has 16 incident issues on its live repositories (3 payments-api, 2
checkout-web, 11 platform-infra; payments-api-worker has none); the simulator mirrors each as a PagerDuty
incident of the service named after the repository, so the connector must store 16 incidents, each with
its log entries, and 4 services (one per repository, the worker's included).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from connectors import pagerduty
from connectors.core.errors import AuthError
from connectors.core.raw import RawStore
from connectors.kit import assert_each_record_once, raw_keys, source_config
from simulator import SimulatorServer, generate_org
from connectors.config import DBT_PROJECT_DIR

STAGING = DBT_PROJECT_DIR / "models" / "staging" / "pagerduty"
LOG_KINDS = {"trigger_log_entry", "acknowledge_log_entry", "resolve_log_entry"}


@pytest.fixture(scope="module")
def sim():
    with SimulatorServer(generate_org(), mount_options={"pagerduty": {"tokens": {"good"}}}) as server:
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as raw_store:
        yield raw_store


def config(sim, token="good", **options):
    return source_config({"type": "pagerduty", "name": "pd", "base_url": f"{sim.url}/pagerduty",
                          "auth": {"token": "${PD}"},
                          "options": {"start_date": "2026-01-01", "window_days": 180, "backoff_seconds": 0,
                                      "page_size": 4, **options}}, env={"PD": token})


def payload_paths(sql_file: Path) -> set[str]:
    """The JSON paths a staging view reads through the portable macros (`json_text('payload', 'a.b')`)."""
    return set(re.findall(r"json_(?:text|get)\('payload', '([\w.]+)'\)", sql_file.read_text()))


def has_path(record: dict, path: str) -> bool:
    """The key at ``path`` is there (its value may be null); a null object on the way ends the path early
    (``priority`` is null on accounts without priorities, so ``priority.summary`` cannot be there)."""
    *parents, last = path.split(".")
    for part in parents:
        if part not in record:
            return False
        if record[part] is None:
            return True
        record = record[part]
    return last in record


def payloads(store: RawStore, table: str) -> list[dict]:
    with store.lock:
        return [json.loads(row[0]) for row in store.con.execute(f"SELECT payload FROM raw.{table}").fetchall()]


def test_what_the_connector_stores_has_every_path_staging_reads(sim, store):
    pagerduty.extract("incidents", config(sim), store)
    pagerduty.extract("services", config(sim), store)
    api = sim.mounts["pagerduty"]
    assert_each_record_once(store, "pagerduty__incidents", list(api.incidents))
    assert len(api.incidents) == 16 and len(raw_keys(store, "pagerduty__services")) == 4
    for table, sql in (("incidents", "stg_pagerduty__incidents.sql"), ("log_entries", "stg_pagerduty__log_entries.sql"),
                       ("services", "stg_pagerduty__services.sql")):
        paths = payload_paths(STAGING / sql)
        assert paths, sql
        for record in payloads(store, f"pagerduty__{table}"):
            missing = [p for p in sorted(paths) if not has_path(record, p)]
            assert not missing, f"{table} {record['id']}: staging reads {missing}"
    kinds = {entry["type"] for entry in payloads(store, "pagerduty__log_entries")}
    assert kinds == LOG_KINDS
    resolved = [i for i in payloads(store, "pagerduty__incidents") if i["status"] == "resolved"]
    assert resolved and all(i["resolved_at"] for i in resolved)


def test_the_simulator_refuses_a_range_over_six_months_and_gives_total_only_when_asked(sim):
    url, auth = f"{sim.url}/pagerduty/incidents", {"Authorization": "Token token=good"}
    wide = requests.get(url, params={"since": "2026-01-01T00:00:00Z", "until": "2026-08-01T00:00:00Z"},
                        headers=auth, timeout=10)
    assert wide.status_code == 400 and wide.json()["error"]["code"] == 2001
    page = requests.get(url, params={"date_range": "all", "limit": 2}, headers=auth, timeout=10).json()
    assert page["total"] is None and page["more"] is True and len(page["incidents"]) == 2
    counted = requests.get(url, params={"date_range": "all", "total": "true"}, headers=auth, timeout=10).json()
    assert counted["total"] == 16 and counted["more"] is False


def test_a_rate_limit_without_retry_after_waits_for_ratelimit_reset(sim, store):
    sim.faults.add(r"^/pagerduty/incidents\?", "rate_limit", times=1, retry_after=7)
    waits: list[float] = []
    pagerduty.extract("incidents", config(sim), store, sleep=waits.append)
    assert waits == [7.0]  # ratelimit-remaining 0 and ratelimit-reset 7: PagerDuty's headers


def test_a_bad_key_is_refused_once(sim, store):
    before = sim.request_count("/pagerduty/")
    with pytest.raises(AuthError) as failure:
        pagerduty.extract("incidents", config(sim, token="wrong-key"), store)
    assert "wrong-key" not in str(failure.value) and sim.request_count("/pagerduty/") == before + 1
