"""DORA truth on histories the demo rarely produces: raw GitHub objects -> `dbt build` -> marts, every expected
value worked out by hand below (issue 18, items 4, 7, 12, 13).

Source `gh` (GitHub), production environment `production`, default rollback pattern (rollback|roll back|revert)
and hotfix pattern (hotfix|hot-fix). All times UTC; weeks start Monday (2025-12-01, 2026-01-05, 01-12, 01-19).

Long status history (item 7), acme/ledger:
  L1 101 created 2025-12-01 09:58, in_progress 10:00, success 10:06, then success again 2026-01-14 08:00 and
  2026-01-21 08:00 (GitHub re-marks a long-lived deployment), inactive 2026-01-22 09:00.
  The first terminal status decides: finished 2025-12-01 10:06, duration 6 min = 0.1 h, one deployment in the
  week of 2025-12-01 and none in the week of 2026-01-19 (the latest success would have dated it 2026-01-21).

One chain, acme/shop production (position: id sha start-finish outcome name). The version a deployment
replaces is the latest attempt's sha; versions are ordered by their first success in the chain, one that
never succeeded being the newest:
   1 201 a 01-05 10:00-10:10 success "Deploy"
   2 202 b 01-06 10:00-10:30 success "Deploy"
   3 203 a 01-06 10:20-10:28 success "Rollback"   started BEFORE 202 finished
   4 204 c 01-07 10:00-10:30 FAILURE "Deploy"
   5 205 a 01-07 10:15-10:20 success "Redeploy"   started before 204 failed; a (first success at 1) replaces c
                                                  (never succeeded): an older version, a rollback by version
   6 206 c 01-07 11:00-11:10 success "Deploy"     c never succeeded before: new work
   7 207 d 01-13 09:00-09:10 FAILURE "Deploy"
   8 208 c 01-13 09:20-09:25 success "Rollback"
   9 209 d 01-13 12:00-12:10 success "Deploy"     d never succeeded before: new work
  10 210 e 01-20 09:00-09:10 success "Deploy"
  11 211 d 01-20 10:00-10:05 success "Rollback"   d (first success 9) older than e (10)
  12 212 e 01-20 15:00-15:10 success "Deploy"     e (first success 10) newer than d (9): a ROLL-FORWARD
  13 213 f 01-22 09:00-09:10 success "Hotfix: typo"    (ref hotfix/typo)
  14 214 g 01-22 15:00-15:10 success "Hotfix: search"  (ref hotfix/search)
Rollbacks: 3, 5, 8, 11. Roll-forward: 12 (the old "sha succeeded before" rule called it a rollback).

Incidents (GitHub issues of acme/shop, so service acme/shop; attribution window 24 h):
  I1 #1 01-13 09:40-11:00 "Checkout errors after deploy <first 7 of d>": the text names d; 207 (started
     09:00) and 209 (started 12:00, after the incident) deployed it: 207, attribution `reference`. The
     old window rule picked the latest success before 09:40: the rollback 208 that fixed it.
  I2 #2 01-13 09:50-10:30 "Checkout slow", no reference: window [01-12 09:50, 01-13 09:50], new work only:
     207 (failed 09:10); the rollback 208 (09:25) is never the cause -> 207 `window`.
  I3 #3 01-22 14:00-16:00 "Search down": window [01-21 14:00, 01-22 14:00]: 213 (09:10) -> `window`.

Remediation (item 4): the next deployment of the chain is a rollback or hotfix that started after this one
finished, within 24 h. 202 -> 203: 203 started 10:20, before 202 finished 10:30: NOT a repair (it was
-0.0333 h of recovery before). 210 -> 211 (10:00 >= 09:10): repaired. 213 -> 214 (15:00 >= 09:10): repaired.
Change failures and recovery (never negative):
  204 failed: 10:30 -> the first success of the chain that STARTED after 10:30, 206, finished 11:10: 0.6667 h
      (205 started 10:15 and finished 10:20: before, it would give -0.1667 h)
  207 failed, incidents I1, I2: least(09:10, 09:40) = 09:10 -> last resolved 11:00: 1.8333 h
  210 repaired by 211: 01-20 09:10 -> 10:05: 0.9167 h
  213 incident I3 (and repaired by 214): 14:00 -> 16:00: 2.0 h

Rework (item 12), default kinds rollback and hotfix, made because of an incident: started during an incident of
its service, or the new work before it in its chain (rollbacks and roll-forwards skipped) has an incident.
  208: rollback, started 09:20 before I1 was filed, but the new work before it, 207, has I1 and I2 -> rework
  214: hotfix started 15:00 during I3 -> rework
  not: 203, 205, 211 (rollbacks, no incident), 212 (a roll-forward), 213 (hotfix, no incident), 209 (not a
  rollback or hotfix, though after 207's incidents).

Weekly, service acme/shop:
  01-05: attempts 1-6 = 6; successes 1, 2, 3, 5, 6 on 3 days (01-05, 06, 07); change failures 204 = 1/6
         (202 counted too before: 2/6); recovery 0.6667 (before: -0.1667 and -0.0333); rework 0 (before: the
         rollback 203 = 1/6)
  01-12: attempts 7, 8, 9 = 3; successes 208, 209 on 1 day; change failures 207 = 1/3; recovery 1.8333;
         rework 208 = 1/3; incidents 2
  01-19: attempts 10-14 = 5; successes all 5 on 2 days (01-20, 01-22); change failures 210, 213 = 2/5;
         recoveries 0.9167, 2.0 -> p50 1.4583; rework 214 = 1/5 (before: 211, 212, 213, 214 = 4/5); incidents 1
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

import pytest

from connectors.core.options import DeploymentRules
from connectors.core.raw import RawRecord

from .warehouse import WITHOUT_UNIT_TESTS, Batch, load_raw, only, query, query_dicts, run_dbt

GH = "gh"
SHOP, LEDGER = "acme/shop", "acme/ledger"


def sha(name: str) -> str:
    return hashlib.sha1(f"truth-{name}".encode()).hexdigest()


def ts(text: str) -> str:
    return text.replace(" ", "T") + ":00Z"  # "2026-01-05 10:00" -> GitHub's format


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def shop(day: str, start: str, finish: str, outcome: str) -> list[tuple[str, str]]:
    return [("in_progress", f"2026-{day} {start}"), (outcome, f"2026-{day} {finish}")]


# id -> (repo, sha name, created, description, ref, statuses [(state, at)])
DEPLOYMENTS = {
    101: (LEDGER, "l1", "2025-12-01 09:58", "Deploy", "main", [
        ("in_progress", "2025-12-01 10:00"), ("success", "2025-12-01 10:06"), ("success", "2026-01-14 08:00"),
        ("success", "2026-01-21 08:00"), ("inactive", "2026-01-22 09:00")]),
    201: (SHOP, "a", "2026-01-05 10:00", "Deploy", "main", shop("01-05", "10:00", "10:10", "success")),
    202: (SHOP, "b", "2026-01-06 10:00", "Deploy", "main", shop("01-06", "10:00", "10:30", "success")),
    203: (SHOP, "a", "2026-01-06 10:20", "Rollback", "main", shop("01-06", "10:20", "10:28", "success")),
    204: (SHOP, "c", "2026-01-07 10:00", "Deploy", "main", shop("01-07", "10:00", "10:30", "failure")),
    205: (SHOP, "a", "2026-01-07 10:15", "Redeploy", "main", shop("01-07", "10:15", "10:20", "success")),
    206: (SHOP, "c", "2026-01-07 11:00", "Deploy", "main", shop("01-07", "11:00", "11:10", "success")),
    207: (SHOP, "d", "2026-01-13 09:00", "Deploy", "main", shop("01-13", "09:00", "09:10", "failure")),
    208: (SHOP, "c", "2026-01-13 09:20", "Rollback", "main", shop("01-13", "09:20", "09:25", "success")),
    209: (SHOP, "d", "2026-01-13 12:00", "Deploy", "main", shop("01-13", "12:00", "12:10", "success")),
    210: (SHOP, "e", "2026-01-20 09:00", "Deploy", "main", shop("01-20", "09:00", "09:10", "success")),
    211: (SHOP, "d", "2026-01-20 10:00", "Rollback", "main", shop("01-20", "10:00", "10:05", "success")),
    212: (SHOP, "e", "2026-01-20 15:00", "Deploy", "main", shop("01-20", "15:00", "15:10", "success")),
    213: (SHOP, "f", "2026-01-22 09:00", "Hotfix: typo", "hotfix/typo", shop("01-22", "09:00", "09:10", "success")),
    214: (SHOP, "g", "2026-01-22 15:00", "Hotfix: search", "hotfix/search",
          shop("01-22", "15:00", "15:10", "success")),
}

# (id, number, opened, closed, title, body)
INCIDENTS = [
    (901, 1, "2026-01-13 09:40", "2026-01-13 11:00", f"Checkout errors after deploy {sha('d')[:7]}",
     "Users see 500s."),
    (902, 2, "2026-01-13 09:50", "2026-01-13 10:30", "Checkout slow", "Customers report timeouts."),
    (903, 3, "2026-01-22 14:00", "2026-01-22 16:00", "Search down", "No results."),
]


def deployment_records() -> list[Batch]:
    rows, statuses = [], []
    for ident, (repo, sha_name, created, description, ref, history) in DEPLOYMENTS.items():
        api = f"https://api.github.com/repos/{repo}"
        rows.append(RawRecord(str(ident), {
            "id": ident, "url": f"{api}/deployments/{ident}", "sha": sha(sha_name), "ref": ref, "task": "deploy",
            "environment": "production", "description": description, "creator": {"login": "deploy-bot"},
            "created_at": ts(created), "updated_at": ts(history[-1][1]), "repository_url": api,
        }, scope=repo, cursor_value=ts(created)))
        for number, (state, when) in enumerate(history, start=1):
            status_id = ident * 10 + number
            statuses.append(RawRecord(str(status_id), {
                "id": status_id, "state": state, "environment": "production", "created_at": ts(when),
                "updated_at": ts(when), "repository_url": api,
            }, parent_key=str(ident), scope=repo, cursor_value=ts(when)))
    return [("github__deployments", GH, rows), ("github__deployment_statuses", GH, statuses)]


def incident_records() -> list[Batch]:
    return [("github__issues", GH, [RawRecord(str(ident), {
        "id": ident, "number": number, "title": title, "body": body, "state": "closed",
        "user": {"login": "oncall"}, "labels": [{"name": "incident"}],
        "created_at": ts(opened), "updated_at": ts(closed), "closed_at": ts(closed),
        "html_url": f"https://github.com/{SHOP}/issues/{number}",
        "repository_url": f"https://api.github.com/repos/{SHOP}",
    }, scope=SHOP, cursor_value=ts(opened)) for ident, number, opened, closed, title, body in INCIDENTS])]


DBT_VARS = {"deployment_rules": {GH: DeploymentRules(production_environments=["production"]).for_dbt()}}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("dora-truth")
    path = work_dir / "throughline.duckdb"
    load_raw(path, [*deployment_records(), *incident_records()])
    # Only the relations the tests query (warehouse.only says why that is enough).
    marts = ("deployments", "incidents", "dora_metrics_weekly", "deployment_frequency_weekly")
    run_dbt(["build", *only(*marts), *WITHOUT_UNIT_TESTS, "--vars", json.dumps(DBT_VARS)], path, work_dir)
    return path


def key(ident: int) -> str:
    return f"{GH}:{ident}"


def deployments(path) -> dict[int, dict]:
    return {int(row["deployment_id"]): row for row in query_dicts(path, "SELECT * FROM marts.deployments")}


def week(path, service: str, monday: date) -> dict:
    return query_dicts(path, """
        SELECT * FROM marts.dora_metrics_weekly
        WHERE grouping_level = 'service' AND service = ? AND period_start = ?""", [service, monday])[0]


def test_a_long_status_history_ends_at_its_first_terminal_status(warehouse):
    ledger = deployments(warehouse)[101]
    assert (ledger["status"], ledger["started_at"], ledger["finished_at"]) == (
        "success", at("2025-12-01 10:00"), at("2025-12-01 10:06"))
    assert ledger["duration_hours"] == pytest.approx(0.1)  # 6 minutes, not 33,000 hours
    assert week(warehouse, LEDGER, date(2025, 12, 1))["deployments"] == 1
    assert week(warehouse, LEDGER, date(2026, 1, 19))["deployments"] == 0  # its last success status: 01-21
    frequency = query(warehouse, """
        SELECT week_start, deployments FROM marts.deployment_frequency_weekly WHERE service = ? AND deployments > 0""",
        [LEDGER])
    assert frequency == [(date(2025, 12, 1), 1)]


def test_rollback_roll_forward_and_hotfix_flags(warehouse):
    rows = deployments(warehouse)
    flags = {ident: (r["is_rollback"], r["is_roll_forward"], r["is_hotfix"]) for ident, r in rows.items()}
    assert sorted(i for i, f in flags.items() if f[0]) == [203, 205, 208, 211]
    assert sorted(i for i, f in flags.items() if f[1]) == [212]  # e back after the rollback to d: newer
    assert sorted(i for i, f in flags.items() if f[2]) == [213, 214]
    assert rows[212]["previous_deployment_key"] == key(211)


def test_a_repair_starts_after_the_failure_it_repairs(warehouse):
    rows = deployments(warehouse)
    # 203 started 10:20, before 202 finished at 10:30: not its repair, so 202 is no change failure
    assert (rows[202]["is_followed_by_remediation"], rows[202]["is_change_failure"], rows[202]["recovery_hours"]) == (
        False, False, None)
    failures = {ident: (r["failure_started_at"], r["recovered_at"], r["remediated_by_deployment_key"])
                for ident, r in rows.items() if r["is_change_failure"]}
    assert failures == {
        204: (at("2026-01-07 10:30"), at("2026-01-07 11:10"), None),  # 206, not 205 (started 10:15)
        207: (at("2026-01-13 09:10"), at("2026-01-13 11:00"), None),  # I1 and I2 resolved
        210: (at("2026-01-20 09:10"), at("2026-01-20 10:05"), key(211)),
        213: (at("2026-01-22 14:00"), at("2026-01-22 16:00"), key(214)),
    }
    recovery = {ident: rows[ident]["recovery_hours"] for ident in failures}
    # 40 min, 110 min, 55 min, 120 min
    assert recovery == pytest.approx({204: 40 / 60, 207: 110 / 60, 210: 55 / 60, 213: 2.0})
    assert query(warehouse, "SELECT count(*) FROM marts.deployments WHERE recovery_hours < 0") == [(0,)]


def test_incidents_name_their_deployment_never_the_rollback_that_fixed_it(warehouse):
    rows = {r["display_key"]: r for r in query_dicts(warehouse, "SELECT * FROM marts.incidents")}
    attributed = {k: (r["caused_by_deployment_key"], r["attribution"], r["attribution_reference"])
                  for k, r in rows.items()}
    assert attributed == {
        f"{SHOP}#1": (key(207), "reference", sha("d")[:7]),
        f"{SHOP}#2": (key(207), "window", None),
        f"{SHOP}#3": (key(213), "window", None),
    }
    incident_counts = {ident: r["incident_count"] for ident, r in deployments(warehouse).items() if r["incident_count"]}
    assert incident_counts == {207: 2, 213: 1}  # the rollback 208 has none


def test_rework_is_unplanned_and_made_because_of_an_incident(warehouse):
    rows = deployments(warehouse)
    assert sorted(i for i, r in rows.items() if r["is_rework"]) == [208, 214]
    responses = {i: (r["is_during_incident"], r["is_incident_response"]) for i, r in rows.items()}
    assert responses[208] == (False, True)  # before I1 was filed, after 207 that caused it
    assert responses[214] == (True, True)   # during I3
    assert responses[209] == (False, True)  # after 207's incidents, but new work: not rework
    assert responses[213] == (False, False)  # a hotfix nobody filed an incident for


def test_weekly_metrics_of_the_shop(warehouse):
    columns = ("deployment_attempts", "deployments", "deployment_days", "change_failures", "change_failure_rate",
               "recoveries", "recovery_time_p50_hours", "rework_deployments", "rework_rate", "incidents")
    expected = {
        date(2026, 1, 5): (6, 5, 3, 1, 1 / 6, 1, 40 / 60, 0, 0.0, 0),
        date(2026, 1, 12): (3, 2, 1, 1, 1 / 3, 1, 110 / 60, 1, 1 / 3, 2),
        # recoveries 55 min and 2 h: p50 (55 / 60 + 2) / 2
        date(2026, 1, 19): (5, 5, 2, 2, 2 / 5, 2, (55 / 60 + 2) / 2, 1, 1 / 5, 1),
    }
    for monday, values in expected.items():
        row = week(warehouse, SHOP, monday)
        assert tuple(row[c] for c in columns) == pytest.approx(values), monday
