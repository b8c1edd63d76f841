"""Golden test of the signals layer: hand-made weekly histories where each rule fires exactly where worked out
by hand, and a steady team where none does.

The signal models read only marts (flow, DORA, realization) and outcomes staging, whose own golden tests start
from raw records (test_flow_marts.py, test_dora_marts.py, ...). Here what they read is written by hand, so
each series is exactly the one the arithmetic below needs, and only the signals models are built on top. The
rules are the shipped seeds/signal_rules.csv, loaded with the types its YAML declares.

Weeks start Monday: W0 = 2026-01-05, W1 = 01-12, ... W11 = 03-23; the warehouse is as of W12 = 03-30 12:00,
so W12 is still running and is never judged (its velocity 0 would otherwise fire). Default rules
(seeds/signal_rules.csv): control limits mean +- 3 sigma (sample) of the previous 8 weeks, at least 6 of
them; WIP limit 20 (this test gives team Surge its own limit, 10); efficiency falling 3 weeks in a row; CFR
spike 0.2 above the previous 8 weeks' rate with at least 3 attempts; bottleneck waiting_share 0.25 with 2
items, status_share mean + 3 sigma of the previous 8 weeks (at least 4) with 3 items.

Team Steady (value stream Shop) wobbles and never leaves its limits:
  velocity 4 (even weeks) / 6 (odd), flow time 40 / 50 h, efficiency 0.5 / 0.4, WIP 5 / 7,
  5 deployment attempts a week with 1 change failure in even weeks (CFR 0.2 / 0), lead time 10 / 12 h.
  Velocity over any 8 weeks: mean 5, sigma sqrt(8 / 7) = 1.069, limits 1.79..8.21: 4 and 6 are inside.
  CFR: W0 has no baseline; later the baseline is at least 0.1 (1 of 10), so 0.2 < 0.1 + 0.2.
Team Surge (value stream Platform) has the same wobble (flow time always 100 h) and these planted events:
  W0..W8 one item a week passes through "Code Review" (an active status): 12 h in even weeks, 24 h in odd.
  W5  bottleneck (waiting_share): items R1, R2 wait in "In Review" 48 h each (96 h), R3 in "Ready for QA" 24 h,
      while S-1 is active all week (168 h) and Code Review holds 24 h: In Review holds 96 / 312 = 0.308 of
      the in-progress time, >= 0.25, with 2 items. (Its status_share has no signal: 2 items, fewer than 3.)
      (W7: R4 waits 72 h in "Ready for QA", 72 / 264 = 0.27, but it is one item: no signal.)
  W8  CFR spike: 4 of 5 attempts fail (0.8); W0..W7 had 4 failures in 40 attempts (0.1): 0.8 >= 0.3.
  W7..W10 efficiency 0.45, 0.40, 0.35, 0.30 after W6's 0.5: falling 3 weeks in a row at W9, 4 at W10.
      Control limits stay quiet: at W10 the previous 8 weeks .5 .4 .5 .4 .5 .45 .4 .35 have mean 0.4375,
      sigma 0.05825, lower limit 0.2628 < 0.30 (W9: lower 0.2951 < 0.35).
  W10 WIP surge: WIP at each day's end 7, 10, 14, 18, 21, 23, 25: above Surge's limit 10, and above its
      control limit 6 + 3 * 1.069 = 9.207 (W2..W9 alternate 5 / 7).
  W9  bottleneck (status_share): C1, C2, C3 spend 40 h each in Code Review: 120 / 288 = 0.417 of the
      in-progress time, against its previous 8 weeks (W1..W8: 24/192, 12/180, 24/192, 12/180, 24/312,
      12/180, 24/264, 12/180) whose mean + 3 sigma is 0.0856 + 3 * 0.0257 = 0.163.
  W11 velocity drop to 0: the previous 8 weeks (W3..W10) alternate 6 / 4: lower limit 5 - 3 * 1.069 = 1.793.
  W11 WIP 7 all week, 30 at its end: above Surge's limit 10, and above its control limits. The previous 8
      weeks W3..W10 (7 5 7 5 7 5 7 25) have mean 68 / 8 = 8.5 and sigma sqrt(318 / 7) = 6.740: upper limit
      8.5 + 20.22 = 28.72; the lower one, 8.5 - 20.22 = -11.72, is clamped at 0 (no count goes below 0).
  W12 (the as-of date's week) forecast slip: Surge's forecasts on 03-30 (marts.delivery_forecasts, made here):
      S-9 p85 04-20 against its target 04-06 (14 days late); I-1 p85 beyond the 104-week horizon against 04-13
      (counted from the horizon's end 03-30 + 728 days: 714 days late); the Linear project "Offline mode" (a uuid
      key: named in the evidence) p85 04-13 against 04-06 (7 days late); S-8 p85 04-06 before its 04-13. Steady's
      KR1 is past its target with nothing left: no slip. Value 714 (the worst), limit 0.
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta

import duckdb
import pytest
import yaml

from connectors.config import DBT_PROJECT_DIR

from .warehouse import query_dicts, run_dbt

W0 = date(2026, 1, 5)
WEEKS = 12  # judged weeks W0..W11; W12 runs until the as-of time
AS_OF = datetime(2026, 3, 30, 12)
LINEAR_PROJECT = "6f1c2a9e-4b7d-4e21-9c3a-0d5e8f7a1b22"
MODELS = ["int_signal_metrics_weekly", "int_signal_status_weeks", "int_signal_status_waits_weekly",
          "int_signal_team_rules", "int_signal_trailing_stats", "signal_control_limits_weekly", "signals",
          "value_stream_scorecard"]


def week(index: int) -> date:
    return W0 + timedelta(weeks=index)


def alternate(even, odd) -> list:
    return [even if w % 2 == 0 else odd for w in range(WEEKS)]


# team -> (value stream, velocity, flow time, efficiency, WIP at each day's end, failures of 5 attempts, lead time)
STEADY = ("Shop", alternate(4, 6), alternate(40.0, 50.0), alternate(0.5, 0.4),
          [[wip] * 7 for wip in alternate(5, 7)], alternate(1, 0), alternate(10.0, 12.0))
SURGE_EFFICIENCY = alternate(0.5, 0.4)
SURGE_EFFICIENCY[7:11] = [0.45, 0.40, 0.35, 0.30]
SURGE_WIP = [[wip] * 7 for wip in alternate(5, 7)]
SURGE_WIP[10] = [7, 10, 14, 18, 21, 23, 25]
SURGE_WIP[11] = [7, 7, 7, 7, 7, 7, 30]
SURGE = ("Platform", alternate(4, 6)[:11] + [0], [100.0] * WEEKS, SURGE_EFFICIENCY, SURGE_WIP,
         alternate(1, 0)[:8] + [4] + alternate(1, 0)[9:], [10.0] * WEEKS)
TEAMS = {"Steady": STEADY, "Surge": SURGE}

TEAM_VALUE_STREAMS = [("Steady", "Shop"), ("Steady-Ops", "Shop"), ("Surge", "Platform")]
# Surge's own WIP limit replaces the `*` row for Surge only
SURGE_WIP_ADVICE = "Surge: finish before starting."

# Surge's state intervals (work_item_id, status, flow state, started, ended); S-1 is active from W0 on
INTERVALS = [
    ("S-1", "In Progress", "active", datetime(2026, 1, 5), None),
    ("R1", "In Review", "waiting", datetime(2026, 2, 9), datetime(2026, 2, 11)),
    ("R2", "In Review", "waiting", datetime(2026, 2, 9), datetime(2026, 2, 11)),
    ("R3", "Ready for QA", "waiting", datetime(2026, 2, 10), datetime(2026, 2, 11)),
    ("R4", "Ready for QA", "waiting", datetime(2026, 2, 23), datetime(2026, 2, 26)),
    ("R1", "Done", "done", datetime(2026, 2, 11), None),
    *[(f"CR-{w}", "Code Review", "active", datetime.combine(week(w), datetime.min.time()),
       datetime.combine(week(w), datetime.min.time()) + timedelta(hours=12 if w % 2 == 0 else 24)) for w in range(9)],
    *[(item, "Code Review", "active", datetime(2026, 3, 9), datetime(2026, 3, 10, 16)) for item in ("C1", "C2", "C3")],
]


def create_marts(con: duckdb.DuckDBPyConnection) -> None:
    """The marts the signal models read, with the columns they use and the marts' own types."""
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA marts")
    con.execute("CREATE TABLE staging.stg_jira__issues (extracted_at TIMESTAMP)")
    con.execute("INSERT INTO staging.stg_jira__issues VALUES (?)", [AS_OF])
    con.execute("""CREATE TABLE marts.work_items (work_item_id VARCHAR, team VARCHAR, value_stream VARCHAR,
        is_done BOOLEAN, completed_at TIMESTAMP, flow_time_hours DOUBLE, active_time_hours DOUBLE)""")
    con.execute("""CREATE TABLE marts.flow_metrics_weekly (week_start DATE, grouping_level VARCHAR, team VARCHAR,
        value_stream VARCHAR, flow_item_type VARCHAR, flow_velocity BIGINT)""")
    con.execute("""CREATE TABLE marts.flow_load_daily (day DATE, team VARCHAR, value_stream VARCHAR,
        flow_item_type VARCHAR, wip_items BIGINT)""")
    con.execute("""CREATE TABLE marts.dora_metrics_weekly (period_start DATE, grouping_level VARCHAR, team VARCHAR,
        service VARCHAR, deployments BIGINT, deployment_attempts BIGINT, change_failures BIGINT,
        change_failure_rate DOUBLE, lead_time_p50_hours DOUBLE)""")
    con.execute("""CREATE TABLE marts.work_item_state_intervals (work_item_id VARCHAR, status_name VARCHAR,
        flow_state VARCHAR, started_at TIMESTAMP, ended_at TIMESTAMP)""")
    for team, (stream, velocity, flow_time, efficiency, wip, failures, lead_time) in TEAMS.items():
        for w in range(WEEKS + 1):
            judged = w < WEEKS
            # the running week W12: nothing completed yet, WIP as in W0
            # the team's all-types rollup row repeats the velocity: it must not count twice in the series
            for level, item_type in (("team_type", "feature"), ("team", "all")):
                con.execute("INSERT INTO marts.flow_metrics_weekly VALUES (?, ?, ?, ?, ?, ?)",
                            [week(w), level, team, stream, item_type, velocity[w] if judged else 0])
            for day, items in enumerate(wip[w] if judged else wip[0][:1]):
                con.execute("INSERT INTO marts.flow_load_daily VALUES (?, ?, ?, 'feature', ?)",
                            [week(w) + timedelta(days=day), team, stream, items])
            # other teams' rows and the overall row must not leak into the team's series
            for level, name in (("team", team), ("overall", "all")):
                attempts, failed = (5, failures[w]) if judged else (1, 1)
                con.execute("INSERT INTO marts.dora_metrics_weekly VALUES (?, ?, ?, 'all', ?, ?, ?, ?, ?)",
                            [week(w), level, name, attempts - failed, attempts, failed, failed / attempts,
                             lead_time[w] if judged else 99.0])
            if not judged:
                continue
            completed = datetime.combine(week(w), datetime.min.time()) + timedelta(days=2, hours=12)
            for number in range(velocity[w]):
                con.execute("INSERT INTO marts.work_items VALUES (?, ?, ?, true, ?, ?, ?)",
                            [f"{team}-{w}-{number}", team, stream, completed, flow_time[w],
                             efficiency[w] * flow_time[w]])
    for item in sorted({row[0] for row in INTERVALS}):
        con.execute("INSERT INTO marts.work_items VALUES (?, 'Surge', 'Platform', false, NULL, NULL, NULL)", [item])
    con.executemany("INSERT INTO marts.work_item_state_intervals VALUES (?, ?, ?, ?, ?)", INTERVALS)
    # every planted item is a story-level flow item (containers and sub-tasks are left out of flow metrics)
    con.execute("ALTER TABLE marts.work_items ADD COLUMN is_flow_item BOOLEAN DEFAULT true")
    create_scorecard_inputs(con)


def create_scorecard_inputs(con: duckdb.DuckDBPyConnection) -> None:
    """January 2026 of value stream Shop (teams Steady and Steady-Ops) for the scorecard; see its tests."""
    con.execute("""CREATE TABLE marts.flow_metrics_monthly (month_start DATE, grouping_level VARCHAR, team VARCHAR,
        value_stream VARCHAR, flow_item_type VARCHAR, flow_velocity BIGINT)""")
    con.executemany("INSERT INTO marts.flow_metrics_monthly VALUES (?, 'team_type', ?, ?, ?, ?)", [
        (date(2026, 1, 1), "Steady", "Shop", "feature", 15), (date(2026, 1, 1), "Steady", "Shop", "defect", 5),
        (date(2026, 1, 1), "Steady", "Shop", "risk", 0), (date(2026, 1, 1), "Surge", "Platform", "feature", 20)])
    # the mart's rollup rows count the same items again: the scorecard must not add them
    con.executemany("INSERT INTO marts.flow_metrics_monthly VALUES (?, ?, ?, ?, 'all', ?)", [
        (date(2026, 1, 1), "team", "Steady", "Shop", 20), (date(2026, 1, 1), "value_stream", "all", "Shop", 20)])
    con.execute("""CREATE TABLE marts.dora_metrics_monthly (period_start DATE, grouping_level VARCHAR, team VARCHAR,
        service VARCHAR, deployments BIGINT, deployment_attempts BIGINT, change_failures BIGINT,
        rework_deployments BIGINT)""")
    con.executemany("INSERT INTO marts.dora_metrics_monthly VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        (date(2026, 1, 1), "team", "Steady", "all", 18, 20, 2, 1),
        (date(2026, 1, 1), "team", "Steady-Ops", "all", 8, 10, 3, 2),
        (date(2026, 1, 1), "service", "Steady", "shop-api", 18, 20, 2, 1),  # already in the team row
        (date(2026, 1, 1), "overall", "all", "all", 26, 30, 5, 3),
        (date(2026, 1, 1), "team", "Nobody", "all", 1, 1, 1, 0),  # no value stream: unassigned
    ])
    con.execute("""CREATE TABLE marts.pull_request_cycle_times (team VARCHAR, first_deployed_at TIMESTAMP,
        lead_time_hours DOUBLE)""")
    con.executemany("INSERT INTO marts.pull_request_cycle_times VALUES (?, ?, ?)", [
        ("Steady", datetime(2026, 1, 10), 10.0), ("Steady", datetime(2026, 1, 11), 20.0),
        ("Steady-Ops", datetime(2026, 1, 20), 30.0), ("Steady", None, 500.0)])
    con.execute("""CREATE TABLE marts.deployments (finished_at TIMESTAMP, team VARCHAR, is_change_failure BOOLEAN,
        failure_started_at TIMESTAMP, recovery_hours DOUBLE)""")
    con.executemany("INSERT INTO marts.deployments VALUES (?, ?, ?, ?, ?)", [
        (datetime(2026, 1, 8), "Steady", True, datetime(2026, 1, 8), 2.0),
        (datetime(2026, 1, 9), "Steady", True, datetime(2026, 1, 9), 4.0),
        (datetime(2026, 1, 15), "Steady-Ops", True, datetime(2026, 1, 15), 9.0),
        (datetime(2026, 1, 20), "Steady-Ops", True, datetime(2026, 1, 20), None),  # not recovered yet
        (datetime(2026, 3, 29), "Steady", False, None, None)])
    con.execute("""CREATE TABLE staging.stg_outcomes__survey_results (team VARCHAR, surveyed_on DATE,
        dimension VARCHAR, score DOUBLE, scale_min DOUBLE, scale_max DOUBLE, respondents INTEGER,
        value_stream VARCHAR)""")
    con.executemany("INSERT INTO staging.stg_outcomes__survey_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        ("Steady", date(2026, 1, 15), "focus time", 4.0, 1.0, 5.0, 8, None),
        ("Steady", date(2026, 1, 15), "ease of release", 3.0, 1.0, 5.0, 1, None),
        ("Steady-Ops", date(2026, 1, 20), "focus time", 6.0, 0.0, 10.0, None, None),
        ("Steady", date(2026, 2, 3), "focus time", 2.0, 1.0, 3.0, 4, "Platform"),  # the row names its stream
    ])
    con.execute("""CREATE TABLE marts.outcome_links (work_level VARCHAR, value_stream VARCHAR,
        key_result_source_instance VARCHAR, key_result_id VARCHAR, first_shipped_at TIMESTAMP, kpi_change DOUBLE)""")
    con.executemany("INSERT INTO marts.outcome_links VALUES (?, 'Shop', 'okrs', ?, ?, ?)", [
        ("epic", "KR1", datetime(2026, 1, 10), 5.0), ("epic", "KR2", datetime(2026, 1, 12), 2.0),
        ("epic", "KR2", datetime(2026, 1, 20), -1.0), ("epic", "KR1", datetime(2026, 1, 25), None),
        ("initiative", "KR1", datetime(2026, 1, 10), 5.0)])
    con.execute("""CREATE TABLE staging.stg_outcomes__key_results (source_instance VARCHAR, key_result_id VARCHAR,
        baseline DOUBLE, target DOUBLE)""")
    con.executemany("INSERT INTO staging.stg_outcomes__key_results VALUES ('okrs', ?, ?, ?)", [
        ("KR1", 10.0, 20.0), ("KR2", 5.0, 3.0), ("KR3", 0.0, 1.0)])  # KR2 aims down (e.g. churn)
    con.execute("""CREATE TABLE marts.okr_progress (week_start DATE, source_instance VARCHAR, key_result_id VARCHAR,
        team VARCHAR, value_stream VARCHAR, attainment DOUBLE, expected_attainment DOUBLE)""")
    con.executemany("INSERT INTO marts.okr_progress VALUES (?, 'okrs', ?, ?, ?, ?, ?)", [
        (date(2026, 1, 5), "KR1", None, "Shop", 0.1, 0.2), (date(2026, 1, 26), "KR1", None, "Shop", 0.4, 0.3),
        (date(2026, 1, 19), "KR2", "Steady", None, 0.2, 0.5), (date(2026, 1, 26), "KR2", "Steady", None, -0.1, 0.6),
        (date(2026, 1, 26), "KR3", None, "Shop", None, 0.5), (date(2026, 2, 2), "KR1", None, "Shop", 0.5, 0.8)])
    con.execute("""CREATE TABLE marts.delivery_forecasts (as_of_date DATE, subject_type VARCHAR, subject_id VARCHAR,
        subject_key VARCHAR, subject_name VARCHAR, team VARCHAR, value_stream VARCHAR, remaining_items BIGINT,
        target_date DATE, p85_completion_date DATE, target_probability DOUBLE, is_p85_past_target BOOLEAN)""")
    con.executemany("INSERT INTO marts.delivery_forecasts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        (AS_OF.date(), kind, f"{kind}:jira:{key}", key, name, team, stream, remaining, target, p85, probability, past)
        for kind, key, name, team, stream, remaining, target, p85, probability, past in [
            ("epic", "S-9", "Search", "Surge", "Platform", 5, date(2026, 4, 6), date(2026, 4, 20), 0.1, True),
            ("initiative", "I-1", "Grow", "Surge", "Platform", 3, date(2026, 4, 13), None, 0.0, True),
            ("epic", "S-8", "Cart", "Surge", "Platform", 2, date(2026, 4, 13), date(2026, 4, 6), 0.9, False),
            ("key_result", "KR1", "Retain", "Steady", "Shop", 0, date(2026, 3, 27), date(2026, 3, 30), 0.0, True),
            # a Linear project: its key is a uuid, so the evidence names it
            ("epic", LINEAR_PROJECT, "Offline mode", "Surge", "Platform", 4, date(2026, 4, 6), date(2026, 4, 13),
             0.2, True),
        ]])
    con.execute("CREATE TABLE marts.epics (value_stream VARCHAR, shipped_month DATE, time_to_market_hours DOUBLE)")
    con.executemany("INSERT INTO marts.epics VALUES (?, ?, ?)", [
        ("Shop", date(2026, 1, 1), 100.0), ("Shop", date(2026, 1, 1), 300.0), ("Shop", None, None),
        ("Shop", date(2026, 2, 1), 50.0)])


def load_seeds(con: duckdb.DuckDBPyConnection) -> None:
    """The seeds the signal models read, as `dbt seed` would load them: the shipped signal_rules.csv (with the
    column types its YAML declares) plus Surge's own WIP limit, and this test's team_value_streams."""
    rules = DBT_PROJECT_DIR / "seeds" / "signal_rules.csv"
    types = yaml.safe_load(rules.with_suffix(".yml").read_text())["seeds"][0]["config"]["column_types"]
    con.execute("CREATE SCHEMA seeds")
    con.execute(f"CREATE TABLE seeds.signal_rules AS SELECT * FROM read_csv(?, header = true, columns = {types!r})",
                [str(rules)])
    con.execute("INSERT INTO seeds.signal_rules VALUES "
                "('wip_limit', 'wip_items', 'Surge', true, 10, NULL, NULL, 'above', 'warning', ?)", [SURGE_WIP_ADVICE])
    con.execute("CREATE TABLE seeds.team_value_streams (team VARCHAR, value_stream VARCHAR)")
    con.executemany("INSERT INTO seeds.team_value_streams VALUES (?, ?)", TEAM_VALUE_STREAMS)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """Only the signal models are built, on top of the hand-made marts and seeds."""
    work = tmp_path_factory.mktemp("signals")
    path = work / "throughline.duckdb"
    with duckdb.connect(str(path)) as con:
        load_seeds(con)
        create_marts(con)
    run_dbt(["build", "--select", *MODELS], path, work)
    return path


def signals(warehouse) -> dict:
    rows = query_dicts(warehouse, "SELECT * FROM marts.signals ORDER BY week_start, rule, metric")
    return {(row["team"], (row["week_start"] - W0).days // 7, row["rule"], row["metric"]): row for row in rows}


def test_each_rule_fires_exactly_where_planted_and_never_on_steady_data(warehouse):
    assert sorted(signals(warehouse)) == sorted([
        ("Surge", 5, "bottleneck", "waiting_share"),
        ("Surge", 8, "cfr_spike", "change_failure_rate"),
        ("Surge", 9, "bottleneck", "status_share"),
        ("Surge", 9, "efficiency_falling", "flow_efficiency"),
        ("Surge", 10, "efficiency_falling", "flow_efficiency"),
        ("Surge", 10, "control_limits", "wip_items"),
        ("Surge", 10, "wip_limit", "wip_items"),
        ("Surge", 11, "control_limits", "flow_velocity"),
        ("Surge", 11, "control_limits", "wip_items"),
        ("Surge", 11, "wip_limit", "wip_items"),
        ("Surge", 12, "forecast_slip", "p85_days_past_target"),
    ])


def test_a_forecast_past_its_target_at_p85_raises_a_slip_with_each_late_forecast(warehouse):
    slip = signals(warehouse)[("Surge", 12, "forecast_slip", "p85_days_past_target")]
    assert (slip["value_stream"], slip["direction"], slip["value"], slip["limit"]) == ("Platform", "above", 714.0, 0.0)
    assert slip["evidence_values"] == [714.0, 14.0, 7.0]
    assert slip["evidence"] == (
        "forecasts past their target at p85 (3): I-1 (initiative) p85 beyond the horizon, target 2026-04-13, "
        "0% by then; S-9 (epic) p85 2026-04-20, target 2026-04-06, 10% by then; "
        '"Offline mode" (epic) p85 2026-04-13, target 2026-04-06, 20% by then')
    assert slip["severity"] == "warning" and slip["recommendation"].startswith("A delivery forecast")


def test_control_limits_carry_the_limit_crossed_and_the_weeks_behind_it(warehouse):
    found = signals(warehouse)
    sigma = (8 / 7) ** 0.5  # four values 1 above the mean, four 1 below
    wip = found[("Surge", 10, "control_limits", "wip_items")]
    assert (wip["value_stream"], wip["direction"], wip["value"]) == ("Platform", "above", 25.0)
    assert wip["limit"] == pytest.approx(6 + 3 * sigma)
    assert wip["evidence_values"] == [5.0, 7.0] * 4  # W2..W9
    assert wip["severity"] == "warning" and wip["status_name"] is None
    velocity = found[("Surge", 11, "control_limits", "flow_velocity")]
    assert (velocity["direction"], velocity["value"]) == ("below", 0.0)
    assert velocity["limit"] == pytest.approx(5 - 3 * sigma)
    assert velocity["evidence_values"] == [6.0, 4.0] * 4  # W3..W10
    assert velocity["evidence"].startswith("0.0 is below its control limits 1.79..8.21 (mean 5.0 ± 3.0")
    assert velocity["recommendation"].startswith("Fewer items were finished")


def test_a_counts_lower_control_limit_is_clamped_at_zero(warehouse):
    wip = signals(warehouse)[("Surge", 11, "control_limits", "wip_items")]
    assert (wip["direction"], wip["value"]) == ("above", 30.0)
    assert wip["limit"] == pytest.approx(8.5 + 3 * (318 / 7) ** 0.5)
    assert wip["evidence_values"] == [7.0, 5.0, 7.0, 5.0, 7.0, 5.0, 7.0, 25.0]  # W3..W10
    # mean - 3 sigma is -11.72: the evidence shows the clamped 0, not a limit no count could cross
    assert wip["evidence"].startswith("30.0 is above its control limits 0.0..28.72 (mean 8.5 ± 3.0 × sigma 6.74")


def bands(warehouse) -> dict:
    rows = query_dicts(warehouse, "SELECT * FROM marts.signal_control_limits_weekly")
    return {(row["team"], (row["week_start"] - W0).days // 7, row["metric"]): row for row in rows}


def test_control_limit_bands_are_drawn_every_week_with_enough_history(warehouse):
    found = bands(warehouse)
    # W6 is the first week with 6 earlier values (W0..W5) of the default 8-week window: no band before it
    assert min(week for _, week, _ in found) == 6
    assert ("Steady", 5, "flow_velocity") not in found
    # Steady's velocity at W6: W0..W5 are 4 6 4 6 4 6, mean 5, sample sigma sqrt(6 / 5) = 1.095;
    # band 5 -+ 3.286 = 1.714..8.286, and W6's 4 lies inside
    steady = found[("Steady", 6, "flow_velocity")]
    assert (steady["value"], steady["mean"], steady["samples"], steady["threshold"]) == (4.0, 5.0, 6, 3.0)
    assert steady["sigma"] == pytest.approx(1.2 ** 0.5)
    assert (steady["lower_limit"], steady["upper_limit"]) == (
        pytest.approx(5 - 3 * 1.2 ** 0.5), pytest.approx(5 + 3 * 1.2 ** 0.5))
    assert (steady["watched_direction"], steady["crossed"], steady["value_stream"]) == ("below", None, "Shop")
    assert steady["previous_values"] == [4.0, 6.0] * 3
    # a band is drawn whether or not a signal fired: Steady has every week W6..W11 of its five watched metrics
    assert sorted((week, metric) for team, week, metric in found if team == "Steady") == sorted(
        (week, metric) for week in range(6, 12) for metric in
        ["flow_velocity", "flow_time_p85_hours", "flow_efficiency", "wip_items", "change_lead_time_p50_hours"])
    # Surge's WIP: W10 above 6 + 3 * 1.069 = 9.207; W11 above 28.72 with the lower limit clamped at 0
    wip = found[("Surge", 10, "wip_items")]
    assert (wip["value"], wip["mean"], wip["crossed"]) == (25.0, 6.0, "above")
    assert (wip["lower_limit"], wip["upper_limit"]) == (
        pytest.approx(6 - 3 * (8 / 7) ** 0.5), pytest.approx(6 + 3 * (8 / 7) ** 0.5))
    surge = found[("Surge", 11, "wip_items")]
    assert (surge["lower_limit"], surge["upper_limit"]) == (0.0, pytest.approx(8.5 + 3 * (318 / 7) ** 0.5))
    # Surge's efficiency at W10: 0.30 inside 0.2628..0.6122 (mean 0.4375, sigma 0.05825): no signal
    efficiency = found[("Surge", 10, "flow_efficiency")]
    assert efficiency["mean"] == pytest.approx(0.4375)
    assert efficiency["lower_limit"] == pytest.approx(0.4375 - 3 * statistics.stdev(
        [0.5, 0.4, 0.5, 0.4, 0.5, 0.45, 0.4, 0.35]))
    assert efficiency["crossed"] is None
    # every crossed band is a control_limits signal, and every such signal a crossed band
    assert sorted((team, week, metric) for (team, week, metric), row in found.items() if row["crossed"]) == sorted(
        (team, week, metric) for team, week, rule, metric in signals(warehouse) if rule == "control_limits")


def test_wip_limit_uses_the_teams_own_row(warehouse):
    row = signals(warehouse)[("Surge", 10, "wip_limit", "wip_items")]
    assert (row["value"], row["limit"]) == (25.0, 10.0)
    assert row["evidence_values"] == [7.0, 10.0, 14.0, 18.0, 21.0, 23.0, 25.0]
    assert row["evidence"] == ("25 items in progress at the end of the week, limit 10.0; "
                               "at the end of each day: 7, 10, 14, 18, 21, 23, 25")
    assert row["recommendation"] == "Surge: finish before starting."


def test_efficiency_falling_names_the_run(warehouse):
    found = signals(warehouse)
    third = found[("Surge", 9, "efficiency_falling", "flow_efficiency")]
    assert (third["value"], third["limit"]) == (pytest.approx(0.35), pytest.approx(0.40))
    assert third["evidence_values"] == pytest.approx([0.5, 0.45, 0.40, 0.35])  # from W6
    assert third["evidence"] == "flow efficiency fell 3 weeks in a row: 0.5 -> 0.45 -> 0.4 -> 0.35"
    fourth = found[("Surge", 10, "efficiency_falling", "flow_efficiency")]
    assert fourth["evidence_values"] == pytest.approx([0.5, 0.45, 0.40, 0.35, 0.30])
    assert third["severity"] == "info"


def test_cfr_spike_against_the_previous_weeks_rate(warehouse):
    row = signals(warehouse)[("Surge", 8, "cfr_spike", "change_failure_rate")]
    assert (row["value"], row["limit"]) == (pytest.approx(0.8), pytest.approx(0.1 + 0.2))
    assert row["evidence_values"] == [4.0, 5.0, 4.0, 40.0]
    assert row["evidence"] == ("4 of 5 deployments were change failures (80.0%) against 4 of 40 (10.0%) "
                               "over the previous 8 weeks")
    assert row["severity"] == "critical"


def test_bottleneck_names_the_status_items_waited_in_longest(warehouse):
    found = signals(warehouse)
    queue = found[("Surge", 5, "bottleneck", "waiting_share")]
    assert (queue["status_name"], queue["value"], queue["limit"]) == ("In Review", pytest.approx(96 / 312), 0.25)
    assert queue["evidence_values"] == [96.0, 312.0, 2.0]
    assert queue["recommendation"].startswith("Items waited longest in In Review:")
    rise = found[("Surge", 9, "bottleneck", "status_share")]
    history = [24 / 192, 12 / 180, 24 / 192, 12 / 180, 24 / 312, 12 / 180, 24 / 264, 12 / 180]  # W1..W8
    assert (rise["status_name"], rise["value"]) == ("Code Review", pytest.approx(120 / 288))
    assert rise["evidence_values"] == pytest.approx(history)
    assert rise["limit"] == pytest.approx(statistics.mean(history) + 3 * statistics.stdev(history))
    assert rise["limit"] == pytest.approx(0.1628, abs=0.0001)  # mean 0.0856, sigma 0.0257
    assert rise["recommendation"].startswith("Items spent far more of their time in Code Review than usual")


def test_the_running_week_and_other_teams_rows_are_not_judged(warehouse):
    weeks = query_dicts(warehouse, """
        SELECT team, count(*) AS weeks, max(week_start) AS last_week, max(deployment_attempts) AS most_attempts
        FROM intermediate.int_signal_metrics_weekly GROUP BY team ORDER BY team
    """)
    assert weeks == [
        {"team": "Steady", "weeks": 12, "last_week": week(11), "most_attempts": 5},
        {"team": "Surge", "weeks": 12, "last_week": week(11), "most_attempts": 5},
    ]


def scorecard(warehouse, month: date, stream: str) -> dict:
    rows = query_dicts(warehouse, "SELECT * FROM marts.value_stream_scorecard WHERE month_start = ? AND value_stream = ?",
                       [month, stream])
    assert len(rows) == 1, (month, stream)
    return rows[0]


def test_scorecard_flow_layer(warehouse):
    """Shop, January: velocity 15 features + 5 defects (flow_metrics_monthly). Flow time and efficiency from
    work_items completed W0..W3: 4 + 4 items of 40 h at 0.5 and 6 + 6 of 50 h at 0.4; p85 of 8 x 40 and
    12 x 50 sits at position 0.85 * 19 = 16.15 among the sorted values: 50. Efficiency (8 * 20 + 12 * 20) /
    (8 * 40 + 12 * 50) = 400 / 920. Load: days 01-05..01-31 at 5 (W0, W2) and 7 (W1, and W3 to 01-31):
    (35 + 49 + 35 + 6 * 7) / 27 days = 161 / 27."""
    row = scorecard(warehouse, date(2026, 1, 1), "Shop")
    assert row["flow_velocity"] == 20
    assert row["flow_time_p85_hours"] == pytest.approx(50.0)
    assert row["flow_efficiency"] == pytest.approx(400 / 920)
    assert row["flow_load_avg"] == pytest.approx(161 / 27)
    assert (row["feature_share"], row["defect_share"], row["risk_share"], row["debt_share"]) == (0.75, 0.25, 0.0, 0.0)


def test_scorecard_dora_layer_adds_up_the_teams_of_the_value_stream(warehouse):
    """Team rows Steady (18 deployments, 20 attempts, 2 failures, 1 rework) and Steady-Ops (8, 10, 3, 2) are both
    Shop: 26 deployments / 31 days, fail rate 5 / 30, rework 3 / 30. Lead times 10, 20 (Steady) and 30
    (Steady-Ops) pool to a median of 20 (the teams' own medians, 15 and 30, are not averaged). Recoveries 2, 4,
    9 h (one not recovered yet): median 4. Service and overall rows are not counted twice; team Nobody has no
    value stream."""
    row = scorecard(warehouse, date(2026, 1, 1), "Shop")
    assert (row["deployments"], row["deployment_attempts"]) == (26, 30)
    assert row["deployments_per_day"] == pytest.approx(26 / 31)
    assert row["change_failure_rate"] == pytest.approx(5 / 30)
    assert row["rework_rate"] == pytest.approx(3 / 30)
    assert (row["change_lead_time_p50_hours"], row["recovery_time_p50_hours"]) == (20.0, 4.0)
    nobody = scorecard(warehouse, date(2026, 1, 1), "unassigned")
    assert (nobody["deployments"], nobody["change_failure_rate"], nobody["flow_velocity"]) == (1, 1.0, 0)


def test_scorecard_team_and_realization_layers(warehouse):
    """Survey scores on 0..1: (4 - 1) / 4 = 0.75 by 8 people, (3 - 1) / 4 = 0.5 by 1, (6 - 0) / 10 = 0.6 with no
    count (weight 1): (6 + 0.5 + 0.6) / 10 = 0.71; respondents 8 + 1. Epics shipped in January with time to
    market 100 and 300 h: median 200. February: a survey row naming Platform counts there, (2 - 1) / 2 = 0.5."""
    row = scorecard(warehouse, date(2026, 1, 1), "Shop")
    assert row["survey_score"] == pytest.approx(0.71)
    assert row["survey_respondents"] == 9
    assert (row["epics_shipped"], row["time_to_market_p50_hours"]) == (2, 200.0)
    platform = scorecard(warehouse, date(2026, 2, 1), "Platform")
    assert (platform["survey_score"], platform["survey_respondents"]) == (0.5, 4)
    assert scorecard(warehouse, date(2026, 2, 1), "Shop")["epics_shipped"] == 1


def test_scorecard_kpi_movement_and_key_result_attainment(warehouse):
    """KPI movement, epics shipped in January with a measured KPI change: KR1 +5 towards its target (10 -> 20),
    KR2 +2 away from its target (5 -> 3) and -1 towards it; an unmeasured link and the initiative row do not
    count: 2 of 3. Key results as of the last week starting in January (01-26): KR1 0.4 (plan 0.3), KR2 -0.1
    (plan 0.6, behind; its value stream from team Steady), KR3 not measured: mean (0.4 - 0.1) / 2 = 0.15.
    February: KR1 0.5 against a plan of 0.8."""
    row = scorecard(warehouse, date(2026, 1, 1), "Shop")
    assert (row["kpi_links_measured"], row["kpi_towards_target_share"]) == (3, pytest.approx(2 / 3))
    assert (row["key_results_measured"], row["key_result_attainment_avg"], row["key_results_behind_plan"]) == (
        2, pytest.approx(0.15), 1)
    february = scorecard(warehouse, date(2026, 2, 1), "Shop")
    assert (february["key_results_measured"], february["key_result_attainment_avg"],
            february["key_results_behind_plan"], february["kpi_links_measured"]) == (1, 0.5, 1, 0)
