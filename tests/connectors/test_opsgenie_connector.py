"""The opsgenie connector against the source kit's loopback API (connectors/kit) and the simulator's Opsgenie
mount: every incident (with its log) arrives once over `paging.next` pages, the `createdAt` cursor is right,
held by an open incident and never past committed data, a rerun changes nothing, 429s (with and without
Retry-After) and 5xx are waited out, and a bad key is one clear error without the secret.

INCIDENTS: 7 incidents created an hour apart from 2026-01-01T00:00Z (ids I0..I6), all resolved; with
page_size 3 the first page is offset 0/limit 3, then the engine asks again by cursor (`createdAt>=` the
page's last incident, limit 4: the boundary incident is read again and not passed on twice).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import requests

from connectors import opsgenie
from connectors.config import parse_config
from connectors.core.endpoint import parse_timestamp
from connectors.core.errors import AuthError, ConfigError, RetriesExhaustedError
from connectors.core.raw import RawStore
from connectors.kit import (
    ApiServer,
    OffsetPages,
    assert_cursor,
    assert_each_record_once,
    assert_rerun_idempotent,
    source_config,
)
from simulator import SimulatorServer, tiny_org
from simulator.timefmt import parse_ms

KEY = "good-key"
TABLE = "opsgenie__incidents"
LOGS = "opsgenie__incident_logs"
CURSOR = dict(source_instance="og", stream="incidents", scope="all")
# Opsgenie's envelope: {"data": [...], "paging": {"next": <url>}} with no total and no `more` flag.
PAGES = OffsetPages(records_key="data", total_key=None, more_key=None, next_key="paging.next", echo=False)


def incident(n: int, status: str = "resolved", service: str = "svc-web") -> dict:
    return {"id": f"I{n}", "tinyId": str(n + 1), "message": f"incident {n}", "status": status, "priority": "P2",
            "createdAt": f"2026-01-01T{n:02d}:00:00.000Z", "updatedAt": f"2026-01-01T{n:02d}:30:00.000Z",
            "impactedServices": [service], "links": {"web": f"https://acme.app.opsgenie.com/incident/detail/I{n}"}}


def log_entries(incident_id: str) -> list[dict]:
    n = int(incident_id[1:])
    return [{"log": "Incident created", "type": "system", "owner": "System",
             "createdAt": f"2026-01-01T{n:02d}:00:00.000Z", "offset": f"{n}_1"},
            {"log": "Incident resolved by ada@acme.example", "type": "system", "owner": "ada@acme.example",
             "createdAt": f"2026-01-01T{n:02d}:30:00.000Z", "offset": f"{n}_2"}]


_BOUND = re.compile(r"createdAt(>=|<)(\d+)")


def in_query(record: dict, query: dict[str, str]) -> bool:
    """The `createdAt>=N AND createdAt<M` (epoch ms) search the connector sends, as Opsgenie applies it."""
    at = parse_ms(record["createdAt"])
    return all(at >= int(ms) if op == ">=" else at < int(ms) for op, ms in _BOUND.findall(query.get("query", "")))


@pytest.fixture
def incidents():
    return [incident(n) for n in range(7)]


def alert(n: int, priority: str, status: str = "closed") -> dict:
    return {"id": f"A{n}", "tinyId": str(n + 1), "message": f"alert {n}", "status": status, "priority": priority,
            "tags": ["service:web"], "createdAt": f"2026-01-02T{n:02d}:00:00.000Z",
            "updatedAt": f"2026-01-02T{n:02d}:10:00.000Z", "report": {"closeTime": 600_000}}


@pytest.fixture
def alerts():
    # A0-A3 are P3 (a first page with no P1), then A4 P1, A5 P1 still open, A6 P2.
    return [alert(n, "P3") for n in range(4)] + [alert(4, "P1"), alert(5, "P1", "open"), alert(6, "P2")]


@pytest.fixture
def api(incidents, alerts):
    with ApiServer(auth={"Authorization": f"GenieKey {KEY}"}) as server:
        server.add_list("/v1/incidents", incidents, pages=PAGES, cursor_field="createdAt", keep=in_query)
        server.add_list("/v2/alerts", alerts, pages=PAGES, cursor_field="createdAt", keep=in_query)
        server.add_list(r"/v1/incidents/(?P<id>[\w-]+)/logs", lambda match: log_entries(match["id"]), pages=PAGES,
                        key="offset")
        server.add_list("/v1/services", [{"id": f"svc-{n}", "name": f"Service {n}"} for n in range(5)], pages=PAGES)
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "warehouse.duckdb") as raw_store:
        yield raw_store


def config(api, key=KEY, **options):
    return source_config({"type": "opsgenie", "name": "og", "base_url": api.url, "auth": {"api_key": "${OG_KEY}"},
                          "options": {"page_size": 3, "backoff_seconds": 0, **options}}, env={"OG_KEY": key})


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def test_every_incident_and_its_log_arrive_once_and_the_cursor_is_the_newest(api, store):
    (result,) = opsgenie.extract("incidents", config(api), store)
    assert_each_record_once(store, TABLE, [f"I{n}" for n in range(7)])
    # Logs have no id: the key is <incident>:<offset>, the parent the incident.
    assert_each_record_once(store, LOGS, [f"I{n}:{n}_{k}" for n in range(7) for k in (1, 2)])
    assert result.child_records == {"incident_logs": 14}
    assert_cursor(store, TABLE, **CURSOR, equals="2026-01-01T06:00:00.000000Z")  # I6, the newest
    incident_requests = [r for r in api.requests if r.startswith("/v1/incidents?")]
    # Page 1 by offset; then by cursor from the page's last incident, one more than a page (the boundary
    # incident comes again and is dropped): I0-I2, then I2-I5, then I5-I6 (no paging.next: the end).
    assert "offset=0" in incident_requests[0] and "limit=3" in incident_requests[0]
    assert f"query=createdAt%3E%3D{ms('2026-01-01T02:00')}" in incident_requests[1]
    assert "limit=4" in incident_requests[1]
    assert f"query=createdAt%3E%3D{ms('2026-01-01T05:00')}" in incident_requests[2]
    assert len(incident_requests) == 3 and result.pages == 3
    assert "sort=createdAt" in incident_requests[0] and "order=asc" in incident_requests[0]
    # A log's offset is an opaque position: the first log page is asked without one (2 entries: one page each).
    log_requests = [r for r in api.requests if "/logs" in r]
    assert len(log_requests) == 7 and not any("offset=" in r for r in log_requests)


def test_the_api_key_goes_in_the_geniekey_header_and_a_first_load_asks_for_everything(api, store):
    opsgenie.extract("incidents", config(api), store)
    assert "query=createdAt%3E%3D0" in api.requests[0]  # `query` is mandatory: createdAt>=0 is "all"
    assert "GenieKey" not in " ".join(api.requests)  # in the header, never in the URL


def test_start_date_bounds_the_first_load(api, store):
    opsgenie.extract("incidents", config(api, start_date="2026-01-01"), store)
    assert f"query=createdAt%3E%3D{ms('2026-01-01T00:00')}" in api.requests[0]


def test_a_rerun_changes_nothing_and_reads_only_the_lookback(api, store):
    opsgenie.extract("incidents", config(api, lookback_hours=2), store)
    api.reset_stats()
    assert_rerun_idempotent(store, [TABLE, LOGS], lambda: opsgenie.extract("incidents", config(api, lookback_hours=2),
                                                                           store))
    # From the cursor (06:00) minus the 2 h lookback (04:00): I4 to I6 again (and their logs), nothing older.
    assert f"query=createdAt%3E%3D{ms('2026-01-01T04:00')}" in api.requests[0]
    assert set(api.served("/v1/incidents")) == {"I4", "I5", "I6"}


def test_an_open_incident_holds_the_cursor_until_it_is_resolved(api, store, incidents):
    incidents[3] = incident(3, status="open")
    opsgenie.extract("incidents", config(api, lookback_hours=1), store)
    # I6 (06:00) is the newest, but I3 (03:00) is open: the cursor stops at 03:00 + the 1 h lookback, so the
    # next run's lower bound (04:00 - 1 h = 03:00) still reads I3.
    assert_cursor(store, TABLE, **CURSOR, equals="2026-01-01T04:00:00.000000Z")
    assert api.request_count("/v1/incidents/I3/logs") == 0  # an open incident's log has no resolve time yet
    incidents[3] = incident(3, status="resolved")
    api.reset_stats()
    opsgenie.extract("incidents", config(api, lookback_hours=1), store)
    assert "I3" in api.served("/v1/incidents") and api.request_count("/v1/incidents/I3/logs") == 1
    assert_each_record_once(store, LOGS, [f"I{n}:{n}_{k}" for n in range(7) for k in (1, 2)])
    assert_each_record_once(store, TABLE, [f"I{n}" for n in range(7)])
    assert_cursor(store, TABLE, **CURSOR, equals="2026-01-01T06:00:00.000000Z")  # nothing holds it now
    status = store.con.execute(f"SELECT payload ->> '$.status' FROM raw.{TABLE} WHERE record_key = 'I3'").fetchall()
    assert status == [("resolved",)]


def test_a_run_that_dies_half_way_keeps_its_pages_and_resumes(api, store):
    # Page 1 is 1 incidents request + 3 log requests; then every incidents request fails.
    api.fault_after(4, r"^/v1/incidents\?", "server_error", times=None)
    with pytest.raises(RetriesExhaustedError):
        opsgenie.extract("incidents", config(api, max_retries=1), store)
    assert_each_record_once(store, TABLE, ["I0", "I1", "I2"])  # page 1 was committed, with its logs
    assert_each_record_once(store, LOGS, [f"I{n}:{n}_{k}" for n in range(3) for k in (1, 2)])
    assert_cursor(store, TABLE, **CURSOR, equals="2026-01-01T02:00:00.000000Z")  # with it, not beyond
    api.faults.clear()
    opsgenie.extract("incidents", config(api), store)
    assert_each_record_once(store, TABLE, [f"I{n}" for n in range(7)])


def test_a_history_window_asks_for_its_range_only(api, store):
    start, end = datetime(2026, 1, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, 5, tzinfo=UTC)
    opsgenie.SOURCE.extract_window("incidents", config(api), store, start, end)
    # createdAt in [02:00, 05:00): I2, I3, I4
    assert_each_record_once(store, TABLE, ["I2", "I3", "I4"])
    assert f"query=createdAt%3E%3D{ms('2026-01-01T02:00')}+AND+createdAt%3C{ms('2026-01-01T05:00')}" in api.requests[0]
    with pytest.raises(ValueError, match="only incidents and alerts by time window"):
        opsgenie.SOURCE.extract_window("services", config(api), store, start, end)


def test_rate_limits_with_retry_after_are_waited_out_as_asked(api, store):
    waits: list[float] = []
    api.faults.add(r"^/v1/incidents\?", "rate_limit", times=2, retry_after=2)
    (result,) = opsgenie.extract("incidents", config(api, max_backoff_seconds=5), store, sleep=waits.append)
    assert waits == [2.0, 2.0] and result.stats.retries == 2  # Retry-After honoured, twice
    assert_each_record_once(store, TABLE, [f"I{n}" for n in range(7)])


def test_rate_limits_without_retry_after_back_off(api, store):
    # Opsgenie's own 429 names no wait (only X-RateLimit-State: THROTTLED): the backoff decides, 1 s then 2 s
    # with full jitter (half to all of it), capped at max_backoff_seconds (1.5).
    waits: list[float] = []
    api.faults.add(r"^/v1/incidents\?", "rate_limit", times=2, retry_after=None)
    opsgenie.extract("incidents", config(api, backoff_seconds=1, max_backoff_seconds=1.5), store, sleep=waits.append)
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.0 and 0.75 <= waits[1] <= 1.5
    assert_each_record_once(store, TABLE, [f"I{n}" for n in range(7)])


def test_server_errors_are_retried_and_lose_nothing(api, store):
    api.faults.add(r"^/v1/incidents\?", "server_error", times=1, status=502)  # the balancer's HTML page
    api.faults.add(r"^/v1/incidents/I4/logs", "server_error", times=1)  # a JSON 500 on a child request
    (result,) = opsgenie.extract("incidents", config(api), store)
    assert result.stats.retries == 2
    assert_each_record_once(store, LOGS, [f"I{n}:{n}_{k}" for n in range(7) for k in (1, 2)])


def test_a_bad_key_is_one_fatal_error_without_the_secret(api, store):
    with pytest.raises(AuthError) as failure:
        opsgenie.extract("incidents", config(api, key="wrong-s3cret"), store)
    assert "source 'og'" in str(failure.value) and "wrong-s3cret" not in str(failure.value)
    assert api.request_count("/v1/incidents") == 1  # not retried


def test_alerts_are_opt_in_and_only_of_the_chosen_priorities(api, store, alerts):
    assert opsgenie.extract("alerts", config(api), store) == [] and api.request_count("/v2/alerts") == 0
    cursor = dict(source_instance="og", stream="alerts", scope="all")
    (result,) = opsgenie.extract("alerts", config(api, alert_priorities=["P1", "P2"], lookback_hours=0.5), store)
    # Pages: A0-A2 (all P3: none kept, yet the list goes on), then by position A3-A5, then A6.
    assert_each_record_once(store, "opsgenie__alerts", ["A4", "A5", "A6"])
    assert result.pages == 3
    # A5 (05:00) is still open: the cursor stops at min(06:00 newest, 05:00 + 0.5 h) = 05:30 ...
    assert_cursor(store, "opsgenie__alerts", **cursor, equals="2026-01-02T05:30:00.000000Z")
    alerts[5] = alert(5, "P1")
    api.reset_stats()
    opsgenie.extract("alerts", config(api, alert_priorities=["P1", "P2"], lookback_hours=0.5), store)
    # ... so the next run reads from 05:00 and sees A5 closed; nothing holds the cursor any more.
    assert f"query=createdAt%3E%3D{ms('2026-01-02T05:00')}" in api.requests[0]
    assert set(api.served("/v2/alerts")) == {"A5", "A6"}
    assert_cursor(store, "opsgenie__alerts", **cursor, equals="2026-01-02T06:00:00.000000Z")


def test_services_are_read_whole_over_their_pages(api, store):
    (result,) = opsgenie.extract("services", config(api), store)
    assert_each_record_once(store, "opsgenie__services", [f"svc-{n}" for n in range(5)])
    assert result.pages == 2 and result.cursor_after is None  # 5 services in pages of 3, no cursor


def test_the_services_option_keeps_only_their_incidents(api, store, incidents):
    # Page 1 (I0-I2) has none of them: the list must go on to the pages that do.
    incidents[4] = incident(4, service="svc-api")
    incidents[5] = incident(5, service="svc-api")
    opsgenie.extract("incidents", config(api, services=["svc-api"]), store)
    assert_each_record_once(store, TABLE, ["I4", "I5"])
    assert {row[0] for row in store.con.execute(f"SELECT parent_key FROM raw.{LOGS}").fetchall()} == {"I4", "I5"}


def test_the_doctor_check_tells_a_good_key_from_a_bad_one_and_names_unknown_services(api):
    assert [f.level for f in opsgenie.check(config(api))] == ["ok", "ok"]
    failed = opsgenie.check(config(api, key="nope"))
    assert [f.level for f in failed] == ["fail"] and "api.eu.opsgenie.com" in failed[0].message
    unknown = opsgenie.check(config(api, services=["svc-1", "svc-9"]))
    assert [f.level for f in unknown] == ["ok", "warn"] and "svc-9" in unknown[1].message
    api.faults.add(r"^/v2/alerts", "unauthorized", times=None)  # a key restricted from alerts
    with_alerts = opsgenie.check(config(api, alert_priorities=["P1"]))
    assert [f.level for f in with_alerts] == ["ok", "ok", "fail"] and "alert_priorities" in with_alerts[2].message


def test_the_config_takes_the_eu_instance_and_refuses_what_opsgenie_cannot_do():
    entry = {"type": "opsgenie", "name": "og", "base_url": "https://api.eu.opsgenie.com",
             "auth": {"api_key": "${OG_KEY}"}}
    (source,) = parse_config({"sources": [entry]}, env={"OG_KEY": "k"}).sources
    assert source.base_url == opsgenie.EU_API and source.options.page_size == 100
    default = parse_config({"sources": [{**entry, "base_url": opsgenie.US_API}]}, env={"OG_KEY": "k"}).sources[0]
    assert default.auth.api_key.get_secret_value() == "k" and str(default.auth.api_key) == "**********"
    with pytest.raises(ConfigError, match=r"source 'og', field 'options.page_size'"):
        parse_config({"sources": [{**entry, "options": {"page_size": 500}}]}, env={"OG_KEY": "k"})
    with pytest.raises(ConfigError, match=r"source 'og', field 'auth.token': unknown key"):
        parse_config({"sources": [{**entry, "auth": {"api_key": "x", "token": "y"}}]}, env={})
    with pytest.raises(ConfigError, match=r"OG_KEY is not set"):
        parse_config({"sources": [entry]}, env={})


# ---------------------------------------------------------------------------------------- the simulator mount


@pytest.fixture
def sim():
    with SimulatorServer(tiny_org(), mount_options={"opsgenie": {"tokens": {KEY}, "page_size": 2}}) as server:
        api = server.mounts["opsgenie"]
        for n, service in enumerate(["acme/checkout", "acme/payments", "acme/checkout"]):
            body = api.add_incident(service, f"Outage {n}", parse_ms(f"2026-01-0{5 + n}T10:00:00Z"), priority="P1")
            if n < 2:
                api.resolve_incident(body["id"], parse_ms(f"2026-01-0{5 + n}T11:30:00Z"))
        yield server


def sim_config(sim, key=KEY):
    return source_config({"type": "opsgenie", "name": "og", "base_url": f"{sim.url}/opsgenie",
                          "auth": {"api_key": "${OG_KEY}"}, "options": {"page_size": 2, "backoff_seconds": 0}},
                         env={"OG_KEY": key})


def test_the_simulator_speaks_opsgenie_paging_auth_and_rate_limits(sim):
    url = f"{sim.url}/opsgenie/v1/incidents"
    headers = {"Authorization": f"GenieKey {KEY}"}
    body = requests.get(url, params={"query": "createdAt>=0", "limit": 2, "order": "asc"}, headers=headers,
                        timeout=5).json()
    assert [i["message"] for i in body["data"]] == ["Outage 0", "Outage 1"] and "requestId" in body
    nxt = requests.get(body["paging"]["next"], headers=headers, timeout=5).json()
    assert [i["message"] for i in nxt["data"]] == ["Outage 2"] and "next" not in nxt["paging"]
    assert requests.get(url, headers=headers, timeout=5).status_code == 400  # query is mandatory
    assert requests.get(url, params={"query": "message:x"}, headers=headers, timeout=5).status_code == 422
    refused = requests.get(url, params={"query": "createdAt>=0"}, headers={"Authorization": "GenieKey bad"},
                           timeout=5)
    assert refused.status_code == 401 and refused.json()["message"] == "Could not authenticate"
    sim.faults.add(r"^/opsgenie/v1/incidents", "rate_limit", times=1, retry_after=None)
    limited = requests.get(url, params={"query": "createdAt>=0"}, headers=headers, timeout=5)
    assert limited.status_code == 429 and limited.headers["X-RateLimit-State"] == "THROTTLED"
    assert "Retry-After" not in limited.headers


def test_the_connector_reads_the_simulator_whole(sim, store):
    waits: list[float] = []
    sim.faults.add(r"^/opsgenie/v1/incidents\?", "rate_limit", times=1, retry_after=1)
    (result,) = opsgenie.extract("incidents", sim_config(sim), store, sleep=waits.append)
    opsgenie.extract("services", sim_config(sim), store)
    truth = sim.mounts["opsgenie"].incidents
    assert_each_record_once(store, TABLE, list(truth))
    # two resolved incidents' logs (created, resolved); the open one's log is not read
    assert waits == [1.0] and result.child_records == {"incident_logs": 2 + 2}
    assert sim.request_count("/opsgenie/v1/incidents/") == 2  # log requests: the two resolved incidents only
    # The open incident (01-07 10:00) holds the cursor at its createdAt + the 3 h lookback.
    assert_cursor(store, TABLE, **CURSOR, equals="2026-01-07T10:00:00.000000Z")
    names = {row[0] for row in store.con.execute("SELECT payload ->> '$.name' FROM raw.opsgenie__services").fetchall()}
    assert names == {"acme/checkout", "acme/payments"}
    with pytest.raises(AuthError):
        opsgenie.extract("incidents", sim_config(sim, key="wrong"), store)


def test_the_simulator_derives_incidents_from_incident_issues():
    org = tiny_org()
    org.github_add_issue("acme/checkout", "Checkout down", "2026-01-08T16:00:00Z", labels=["incident", "sev1"],
                         closed_at="2026-01-08T17:00:00Z")
    with SimulatorServer(org) as server:
        (found,) = server.mounts["opsgenie"].incidents.values()
    assert (found.body["message"], found.body["priority"], found.body["status"]) == ("Checkout down", "P1", "resolved")
    assert parse_timestamp(found.logs[-1]["createdAt"]) == datetime(2026, 1, 8, 17, tzinfo=UTC)
