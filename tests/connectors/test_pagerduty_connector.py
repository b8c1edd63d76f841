"""The PagerDuty connector against the source kit's loopback API (connectors/kit), in PagerDuty's wire shapes:
`{"incidents": [...], "limit", "offset", "total", "more"}` pages, `Authorization: Token token=...`, `since`/`until`
windows of `created_at`, log entries per incident, services.

INCIDENTS: 7 incidents PI0..PI6 created ten days apart from 2026-01-01T00:00Z (PI6 on 2026-03-02), all
resolved an hour after they started; each has a trigger, an acknowledge (+5 min) and a resolve (+60 min) log
entry. start_date 2026-01-01 and page_size 3: one window of 180 days holds all 7 (3 pages).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors import pagerduty
from connectors.core.errors import AuthError, ConfigError, RetriesExhaustedError
from connectors.core.raw import RawStore
from connectors.kit import (
    ApiServer,
    OffsetPages,
    assert_cursor,
    assert_each_record_once,
    assert_rerun_idempotent,
    raw_keys,
    source_config,
)

TOKEN = "good-token"
TABLE = "pagerduty__incidents"
LOGS = "pagerduty__log_entries"
START = datetime(2026, 1, 1, tzinfo=UTC)
CURSOR = dict(source_instance="pd", stream="incidents", scope="all")
SERVICES = [
    {"id": "PSVC1", "type": "service", "name": "Checkout API", "status": "active",
     "html_url": "https://acme.pagerduty.com/service-directory/PSVC1"},
    {"id": "PSVC2", "type": "service", "name": "Payments", "status": "active",
     "html_url": "https://acme.pagerduty.com/service-directory/PSVC2"},
]


def ts(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def incident(n: int, created: datetime, *, service: str = "PSVC1", status: str = "resolved") -> dict:
    name = next(s["name"] for s in SERVICES if s["id"] == service)
    return {
        "id": f"PI{n}", "type": "incident", "incident_number": n, "title": f"incident {n}",
        "summary": f"[#{n}] incident {n}", "html_url": f"https://acme.pagerduty.com/incidents/PI{n}",
        "created_at": ts(created), "updated_at": ts(created + timedelta(hours=1)), "status": status,
        "resolved_at": ts(created + timedelta(hours=1)) if status == "resolved" else None,
        "service": {"id": service, "type": "service_reference", "summary": name},
        "urgency": "high", "priority": {"id": "PPRI1", "type": "priority_reference", "summary": "P1"},
    }


def entries(record: dict) -> list[dict]:
    created = datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
    n = record["incident_number"]
    out = [{"id": f"R{n}T", "type": "trigger_log_entry", "created_at": record["created_at"]},
           {"id": f"R{n}A", "type": "acknowledge_log_entry", "created_at": ts(created + timedelta(minutes=5))}]
    if record["status"] == "resolved":
        out.append({"id": f"R{n}R", "type": "resolve_log_entry", "created_at": ts(created + timedelta(hours=1))})
    return [{**e, "incident": {"id": record["id"], "type": "incident_reference"}} for e in out]


@pytest.fixture
def incidents():
    return [incident(n, START + timedelta(days=10 * n)) for n in range(7)]


@pytest.fixture
def api(incidents):
    def by_id(query, match, base_url):
        found = [i for i in incidents if i["id"] == match["id"]]
        if not found:
            return 404, {}, {"error": {"message": "Not Found", "code": 2100}}
        return 200, {}, {"incident": found[0]}

    def of_service(record, query):
        return "service_ids[]" not in query or record["service"]["id"] == query["service_ids[]"]

    with ApiServer(auth={"Authorization": f"Token token={TOKEN}"},
                   unauthorized=(401, {}, {"error": {"message": "Unauthorized", "code": 2006}})) as server:
        server.add_list("/incidents", incidents, pages=OffsetPages(records_key="incidents"), cursor_field="created_at",
                        since_param="since", until_param="until", keep=of_service)
        server.add_list(r"/incidents/(?P<id>\w+)/log_entries",
                        lambda match: [e for i in incidents if i["id"] == match["id"] for e in entries(i)],
                        pages=OffsetPages(records_key="log_entries"))
        server.add_route(r"/incidents/(?P<id>\w+)", by_id)
        server.add_list("/services", SERVICES, pages=OffsetPages(records_key="services"))
        yield server


@pytest.fixture
def store(tmp_path):
    with RawStore(tmp_path / "warehouse.duckdb") as raw_store:
        yield raw_store


def config(api, token=TOKEN, **options):
    return source_config({"type": "pagerduty", "name": "pd", "base_url": api.url, "auth": {"token": "${PD_TOKEN}"},
                          "options": {"page_size": 3, "backoff_seconds": 0, "start_date": "2026-01-01",
                                      "window_days": 180, **options}},
                         env={"PD_TOKEN": token})


def log_keys(n_incidents: int) -> list[str]:
    return [f"R{n}{kind}" for n in range(n_incidents) for kind in "TAR"]


def test_every_incident_and_log_entry_arrives_once_and_the_cursor_is_the_newest(api, store):
    (result,) = pagerduty.extract("incidents", config(api), store)  # one result however many windows
    assert_each_record_once(store, TABLE, [f"PI{n}" for n in range(7)])
    assert_each_record_once(store, LOGS, log_keys(7))  # 7 incidents x (trigger, acknowledge, resolve)
    # 2026-01-01 to now in 180-day windows: the first holds all 7 in pages of 3 (3 + 3 + 1); the rest are empty.
    assert result.records == 7 and result.child_records == {"log_entries": 21}
    assert result.cursor_before is None and result.cursor_after == "2026-03-02T00:00:00.000000Z"
    assert api.request_count("/incidents?") == 3 + len(pagerduty.windows(START, datetime.now(UTC), timedelta(days=180))) - 1
    assert_cursor(store, TABLE, **CURSOR, equals="2026-03-02T00:00:00.000000Z")  # PI6: 1 Jan + 60 days
    first = api.requests[0]
    assert first.startswith("/incidents?") and "since=2026-01-01T00%3A00%3A00Z" in first
    assert "until=2026-06-30T00%3A00%3A00Z" in first and "sort_by=created_at%3Aasc" in first  # 1 Jan + 180 days
    assert "total=true" in first and "time_zone=UTC" in first
    with store.lock:
        parents = store.con.execute(f"SELECT DISTINCT parent_key FROM raw.{LOGS} ORDER BY 1").fetchall()
    assert [p[0] for p in parents] == [f"PI{n}" for n in range(7)]


def test_windows_are_at_most_window_days_long():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cut = pagerduty.windows(start, start + timedelta(days=70), timedelta(days=30))
    assert [(a.day, a.month, b.day, b.month) for a, b in cut] == [(1, 1, 31, 1), (31, 1, 2, 3), (2, 3, 12, 3)]
    assert pagerduty.windows(start, start, timedelta(days=30)) == []


def test_each_request_asks_for_one_window_of_at_most_window_days(api, store):
    pagerduty.extract("incidents", config(api, window_days=30), store)
    assert_each_record_once(store, TABLE, [f"PI{n}" for n in range(7)])
    firsts = [r for r in api.requests if r.startswith("/incidents?") and "offset=0" in r]
    # Windows: [Jan 1, Jan 31) holds PI0-PI2, [Jan 31, Mar 2) PI3-PI5, [Mar 2, Apr 1) PI6; one request each
    # (a page of 3 with total 3 is the last), and each later window of the year one empty page.
    assert "since=2026-01-31T00%3A00%3A00Z" in firsts[1] and "until=2026-03-02T00%3A00%3A00Z" in firsts[1]
    assert all("since=" in r and "until=" in r for r in firsts)


def test_a_history_load_reads_the_incidents_one_window_at_a_time(api, store):
    from operations.history import load_history

    source = config(api)
    progress = load_history(source, store, since=START, window=timedelta(days=30), now=START + timedelta(days=90))
    # [Jan 1, Jan 31) PI0-PI2, [Jan 31, Mar 2) PI3-PI5, [Mar 2, Apr 1) PI6; services read once, whole.
    assert [p.records_window for p in progress] == [3, 3, 1]
    assert_each_record_once(store, TABLE, [f"PI{n}" for n in range(7)])
    assert_each_record_once(store, LOGS, log_keys(7))
    assert raw_keys(store, "pagerduty__services") == ["PSVC1", "PSVC2"]


def test_a_rerun_changes_nothing_and_reads_only_the_lookback(api, store):
    pagerduty.extract("incidents", config(api), store)
    api.reset_stats()
    assert_rerun_idempotent(store, [TABLE, LOGS], lambda: pagerduty.extract("incidents", config(api), store))
    # From the cursor (PI6, 2026-03-02T00:00) minus the 3 h lookback: PI6 again, and its log entries.
    assert "since=2026-03-01T21%3A00%3A00Z" in api.requests[0]
    assert set(api.served("/incidents")) == {"PI6"}


def test_new_incidents_arrive_on_the_next_run(api, store, incidents):
    pagerduty.extract("incidents", config(api), store)
    incidents.append(incident(7, START + timedelta(days=70), service="PSVC2"))
    pagerduty.extract("incidents", config(api), store)
    assert_each_record_once(store, TABLE, [f"PI{n}" for n in range(8)])
    assert_cursor(store, TABLE, **CURSOR, equals="2026-03-12T00:00:00.000000Z")  # PI7: 1 Jan + 70 days


def test_an_incident_stored_open_is_read_again_by_id_until_resolved(api, store, incidents):
    incidents.append(incident(7, START + timedelta(days=63), status="triggered"))  # 5 Mar, open
    incidents.append(incident(8, START + timedelta(days=68)))  # 10 Mar: moves the cursor past PI7
    pagerduty.extract("incidents", config(api, recheck_open_days=1000), store)
    assert "R7R" not in raw_keys(store, LOGS)
    incidents[7] = incident(7, START + timedelta(days=63))  # resolved since
    api.reset_stats()
    pagerduty.extract("incidents", config(api, recheck_open_days=1000), store)
    # The window starts at PI8 minus 3 h, so PI7 comes only from GET /incidents/PI7 (and its log entries).
    assert api.request_count("/incidents/PI7?") == 1 and set(api.served("/incidents")) == {"PI8"}
    with store.lock:
        status = store.con.execute(
            f"SELECT payload ->> '$.status' FROM raw.{TABLE} WHERE record_key = 'PI7'").fetchone()
    assert status == ("resolved",) and "R7R" in raw_keys(store, LOGS)
    assert_each_record_once(store, TABLE, [f"PI{n}" for n in range(9)])
    assert_cursor(store, TABLE, **CURSOR, equals="2026-03-10T00:00:00.000000Z")  # the re-check does not move it
    api.reset_stats()
    pagerduty.extract("incidents", config(api, recheck_open_days=1000), store)
    assert api.request_count("/incidents/PI7") == 0  # resolved: not re-checked any more


def test_open_incidents_older_than_recheck_open_days_are_left(api, store, incidents):
    incidents.append(incident(7, START + timedelta(days=63), status="acknowledged"))
    incidents.append(incident(8, START + timedelta(days=68)))
    pagerduty.extract("incidents", config(api), store)  # default 30 days; PI7 is from March, today is later
    api.reset_stats()
    pagerduty.extract("incidents", config(api), store)
    assert api.request_count("/incidents/PI7") == 0


def test_a_run_that_dies_half_way_keeps_its_pages_and_resumes(api, store):
    # Request 1 is list page 1, requests 2-4 the log entries of its 3 incidents; then every list page fails.
    api.fault_after(4, r"^/incidents\?", "server_error", times=None)
    with pytest.raises(RetriesExhaustedError):
        pagerduty.extract("incidents", config(api, max_retries=1), store)
    assert_each_record_once(store, TABLE, ["PI0", "PI1", "PI2"])  # page 1 was committed, with its log entries
    assert_each_record_once(store, LOGS, log_keys(3))
    assert_cursor(store, TABLE, **CURSOR, equals="2026-01-21T00:00:00.000000Z")  # PI2, not beyond
    api.faults.clear()
    pagerduty.extract("incidents", config(api), store)
    assert_each_record_once(store, TABLE, [f"PI{n}" for n in range(7)])
    assert_each_record_once(store, LOGS, log_keys(7))


def test_rate_limits_with_and_without_retry_after_and_server_errors_are_retried(api, store):
    waits: list[float] = []
    api.faults.add(r"^/incidents\?", "rate_limit", times=1, retry_after=2)
    api.faults.add(r"^/incidents\?", "rate_limit", times=1, retry_after=None)  # backoff: 0 s here
    api.faults.add(r"^/incidents/PI1/log_entries", "server_error", times=1, status=502)  # HTML from the LB
    api.faults.add(r"^/incidents/PI2/log_entries", "server_error", times=1, status=500)
    (result,) = pagerduty.extract("incidents", config(api, max_backoff_seconds=5), store, sleep=waits.append)
    assert waits == [2.0, 0.0, 0.0, 0.0] and result.stats.retries == 4  # Retry-After honoured, the rest backoff
    assert result.stats.retry_reasons == {"http 429": 2, "http 502": 1, "http 500": 1}
    assert_each_record_once(store, TABLE, [f"PI{n}" for n in range(7)])
    assert_each_record_once(store, LOGS, log_keys(7))


def test_a_bad_token_is_one_fatal_error_without_the_secret(api, store):
    with pytest.raises(AuthError) as failure:
        pagerduty.extract("incidents", config(api, token="wrong-s3cret"), store)
    assert "source 'pd'" in str(failure.value) and "wrong-s3cret" not in str(failure.value)
    assert api.request_count() == 1  # not retried


def test_service_ids_filter_the_incident_list(api, store, incidents):
    incidents.append(incident(7, START + timedelta(days=5), service="PSVC2"))
    pagerduty.extract("incidents", config(api, service_ids=["PSVC2"]), store)
    assert_each_record_once(store, TABLE, ["PI7"])
    assert "service_ids%5B%5D=PSVC2" in api.requests[0]


def test_services_are_read_whole(api, store):
    (result,) = pagerduty.extract("services", config(api), store)
    assert result.records == 2 and raw_keys(store, "pagerduty__services") == ["PSVC1", "PSVC2"]


@pytest.mark.parametrize(("options", "message"), [
    ({"window_days": 365}, "window_days"),
    ({"service_id": ["P1"]}, "service_id"),  # a typo of service_ids is refused, not ignored
])
def test_config_errors_name_the_source_and_the_field(options, message):
    entry = {"type": "pagerduty", "name": "pd", "auth": {"token": "${PD_TOKEN}"}, "options": options}
    with pytest.raises(ConfigError) as failure:
        source_config(entry, env={"PD_TOKEN": "x"})
    assert "'pd'" in str(failure.value) and message in str(failure.value)


def test_the_default_base_url_is_the_us_api():
    source = source_config({"type": "pagerduty", "name": "pd", "auth": {"token": "${PD_TOKEN}"}}, env={"PD_TOKEN": "x"})
    assert source.base_url == "https://api.pagerduty.com" and source.options.window_days == 30


def test_the_doctor_check_tells_a_good_token_from_a_bad_one_and_names_unknown_services(api):
    assert [f.level for f in pagerduty.check(config(api))] == ["ok"]
    assert [f.level for f in pagerduty.check(config(api, token="nope"))] == ["fail"]
    api.add_route(r"/services/(?P<id>\w+)", lambda q, m, base: (
        (200, {}, {"service": SERVICES[0]}) if m["id"] == "PSVC1" else (404, {}, {"error": {"message": "Not Found"}})))
    findings = pagerduty.check(config(api, service_ids=["PSVC1", "PNOPE"]))
    assert [(f.level, f.subject) for f in findings] == [
        ("ok", "pd: credentials"), ("ok", "pd: service PSVC1"), ("fail", "pd: service PNOPE")]
    assert "Checkout API" in findings[1].message
