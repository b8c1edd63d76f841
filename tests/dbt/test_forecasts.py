"""Delivery forecasts (docs/METRICS.md#delivery-forecasts): the Monte Carlo on small cases worked out by hand.

The simulation's inputs, the window throughput per team and the subjects, are written straight into their
intermediate tables (int_forecast_throughput_weekly, int_forecast_subjects), so each case states exactly what
the simulation sees; dbt then builds only the simulation and the two marts. As-of date 2026-11-30 (a Monday),
window 12 weeks, 1000 trials, horizon 104 weeks, seed `test`. Week k ends 7k days after the as-of date.

- steady: completes 2 items every week of the window. Every trial finishes 5 items in week 3 (2, 4, 6) and
  4 items in week 2: p50 = p85 = p95. Target 2026-12-21 (= as-of + 21 days, week 3's end): probability 1;
  target 2026-12-20: probability 0 and p85 past the target. A subject with nothing left: week 0.
- lumpy: window weeks alternate 0, 4, 0, 4, ... (index odd -> 4). 4 remaining items finish in the first
  future week whose sampled index is odd: geometric with p = 1/2, so about 50% in week 1, 75% by week 2,
  87.5% by week 3. The exact counts follow from the md5 rule, enumerated here in Python as the SQL applies it.
- idle: completed nothing in the window: no trial ever finishes; no dates, probability 0, past its target.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from .warehouse import load_raw, query, query_dicts, run_dbt

AS_OF = date(2026, 11, 30)
TRIALS, WINDOW, HORIZON, SEED = 1000, 12, 104, "test"
VARS = ["--vars", json.dumps({"forecast_seed": SEED, "forecast_trials": TRIALS, "forecast_window_weeks": WINDOW,
                              "forecast_horizon_weeks": HORIZON})]
MODELS = ["--select", "int_forecast_completion_weeks", "delivery_forecasts", "forecast_history"]
THROUGHPUT = {"steady": [2] * WINDOW, "lumpy": [0, 4] * (WINDOW // 2), "idle": [0] * WINDOW}
# (subject_id, team, remaining items, target date)
SUBJECTS = [
    ("epic:jira:S-1", "steady", 5, date(2026, 12, 21)),
    ("epic:jira:S-2", "steady", 5, date(2026, 12, 20)),
    ("epic:jira:S-3", "steady", 4, None),
    ("epic:jira:S-4", "steady", 0, date(2026, 12, 1)),
    ("initiative:jira:L-1", "lumpy", 4, date(2026, 12, 14)),
    ("sprint:jira:7", "idle", 3, date(2027, 1, 4)),
]


def sampled_index(team: str, trial: int, week: int) -> int:
    """The window week a trial samples, as the SQL computes it (macros/portable/forecasts.sql, md5_integer)."""
    return int(hashlib.md5(f"{SEED}|{team}|{trial}|{week}".encode()).hexdigest()[:7], 16) % WINDOW


def lumpy_completion_weeks() -> list[int]:
    """Per trial, the first week whose sampled window week has 4 completions (an odd index)."""
    weeks = []
    for trial in range(1, TRIALS + 1):
        week = next((w for w in range(1, HORIZON + 1) if THROUGHPUT["lumpy"][sampled_index("lumpy", trial, w)] == 4),
                    None)
        weeks.append(week)
    return weeks


def discrete_percentile(weeks: list[int], percent: int) -> int:
    """The first week by which `percent`% of the trials finished (all of them finish here)."""
    ordered = sorted(weeks)
    return ordered[-(-len(ordered) * percent // 100) - 1]


def write_inputs(warehouse: Path, as_of: date) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS intermediate")
        con.execute("""CREATE OR REPLACE TABLE intermediate.int_forecast_throughput_weekly (
            team varchar, window_index bigint, week_start date, completed_items bigint, as_of_date date)""")
        window_start = as_of - timedelta(days=as_of.weekday() + 7 * WINDOW)
        con.executemany("INSERT INTO intermediate.int_forecast_throughput_weekly VALUES (?, ?, ?, ?, ?)", [
            (team, index, window_start + timedelta(weeks=index), completed, as_of)
            for team, weeks in THROUGHPUT.items() for index, completed in enumerate(weeks)
        ])
        con.execute("""CREATE OR REPLACE TABLE intermediate.int_forecast_subjects (
            subject_type varchar, subject_id varchar, subject_key varchar, subject_name varchar,
            initiative_key varchar, team varchar, value_stream varchar, remaining_items bigint,
            has_default_items boolean, target_date date, target_kind varchar)""")
        con.executemany("INSERT INTO intermediate.int_forecast_subjects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (subject_id.split(":")[0], subject_id, subject_id.rsplit(":", 1)[1], None, None, team, "shop", remaining,
             False, target, "due_date" if target else None)
            for subject_id, team, remaining, target in SUBJECTS
        ])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("forecasts")
    warehouse = work / "throughline.duckdb"
    load_raw(warehouse, [])
    write_inputs(warehouse, AS_OF)
    run_dbt(["run", *MODELS, *VARS], warehouse, work)
    return warehouse


def forecasts(warehouse: Path) -> dict[str, dict]:
    return {row["subject_id"]: row for row in query_dicts(warehouse, "SELECT * FROM marts.delivery_forecasts")}


def test_constant_throughput_finishes_in_the_same_week_in_every_trial(built):
    rows = forecasts(built)
    s1, s2, s3, s4 = (rows[f"epic:jira:S-{n}"] for n in (1, 2, 3, 4))
    for row in (s1, s2):
        assert (row["p50_weeks"], row["p85_weeks"], row["p95_weeks"]) == (3, 3, 3)
        assert row["p85_completion_date"] == date(2026, 12, 21)
        assert row["within_horizon_probability"] == 1.0
        assert row["window_completed_items"] == 24
    assert (s1["target_probability"], s1["is_p85_past_target"]) == (1.0, False)
    assert (s2["target_probability"], s2["is_p85_past_target"]) == (0.0, True)
    assert (s3["p50_weeks"], s3["p95_weeks"], s3["p50_completion_date"]) == (2, 2, date(2026, 12, 14))
    assert (s3["target_probability"], s3["is_p85_past_target"]) == (None, None)
    assert (s4["p50_weeks"], s4["p95_weeks"], s4["p95_completion_date"], s4["target_probability"]) == \
        (0, 0, AS_OF, 1.0)


def test_alternating_throughput_is_geometric_as_the_md5_rule_samples_it(built):
    weeks = lumpy_completion_weeks()
    assert None not in weeks
    row = forecasts(built)["initiative:jira:L-1"]
    assert (row["p50_weeks"], row["p85_weeks"], row["p95_weeks"]) == tuple(
        discrete_percentile(weeks, p) for p in (50, 85, 95))
    # target 12-14 = as-of + 14 days: the trials finishing in week 1 or 2
    assert row["target_probability"] == sum(1 for week in weeks if week <= 2) / TRIALS
    # the sampling itself is fair: P(week 1) = 1/2 and P(by week 2) = 3/4 within 4 standard deviations
    # (sqrt(p(1-p)/1000) = 0.016 and 0.014)
    assert abs(sum(1 for week in weeks if week == 1) / TRIALS - 0.5) < 0.064
    assert abs(row["target_probability"] - 0.75) < 0.055
    assert row["p50_weeks"] in (1, 2) and row["p85_weeks"] in (3, 4) and row["p95_weeks"] in (4, 5)


def test_no_throughput_gives_no_date_and_counts_as_past_the_target(built):
    row = forecasts(built)["sprint:jira:7"]
    assert (row["p50_weeks"], row["p85_completion_date"], row["p95_completion_date"]) == (None, None, None)
    assert (row["within_horizon_probability"], row["target_probability"], row["is_p85_past_target"]) == \
        (0.0, 0.0, True)


def test_history_keeps_one_snapshot_per_as_of_date(built, tmp_path):
    work = tmp_path
    warehouse = work / "throughline.duckdb"
    warehouse.write_bytes(built.read_bytes())
    snapshots = "SELECT as_of_date, count(*) FROM marts.forecast_history GROUP BY 1 ORDER BY 1"
    assert query(warehouse, snapshots) == [(AS_OF, len(SUBJECTS))]
    run_dbt(["run", *MODELS, *VARS], warehouse, work)  # the same day again: replaced, not added
    assert query(warehouse, snapshots) == [(AS_OF, len(SUBJECTS))]
    later = AS_OF + timedelta(days=7)
    write_inputs(warehouse, later)
    run_dbt(["run", *MODELS, *VARS], warehouse, work)
    assert query(warehouse, snapshots) == [(AS_OF, len(SUBJECTS)), (later, len(SUBJECTS))]
    # each snapshot dates its forecasts from its own day: the constant team's week 3
    assert query(warehouse, "SELECT as_of_date, p85_completion_date FROM marts.forecast_history "
                            "WHERE subject_id = 'epic:jira:S-1' ORDER BY 1") == \
        [(AS_OF, date(2026, 12, 21)), (later, date(2026, 12, 28))]

