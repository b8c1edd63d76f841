"""The generated organisation's business outcomes: KPI series, OKRs and team surveys whose links are known.

``build_outcomes(org, seed, first_day=..., last_day=...)`` runs at the end of ``generate_org`` (the days are its
history's first and last) and reads what the generator planted
(``org.planted``: which epics shipped when, the initiatives, the bottleneck / WIP surge / CFR spike weeks).
It fills ``org.outcomes`` (rows per kind of the outcomes source, as a file holds them) and adds to
``org.planted``:

  * ``kpi_effects``: per value stream, one epic whose first successful production deployment moves a KPI
    (checkout conversion +0.5 points, payment success rate +2 points, cloud cost per order -0.08 EUR) from
    the first observation dated after the day it shipped; before and after that the series only has uniform
    noise of +-`noise`;
  * ``survey_drops``: the survey dimension each planted problem pulls down in the month it happened.

``write_outcome_files(org, folder)`` writes them as CSV files, one folder per kind, for an `outcomes`
source (the demo does this). Nothing here depends on the scale: the series are per value stream.
"""

from __future__ import annotations

import csv
import io
import os
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

FIRST_DAY = date(2026, 5, 2)  # the generator's START_MS (by default)
LAST_DAY = date(2026, 10, 30)  # the last whole day before its anchor (by default)
# Effects are planted on epics that shipped far enough from both ends for a 5-week window on each side.
MARGIN = timedelta(days=35)
TEAM_VALUE_STREAMS = {"Payments": "Buy and pay", "Checkout": "Buy and pay", "Platform": "Platform services"}


# (kpi, project whose epic moves it, week the epic should ship near, unit, value stream, cadence, base,
# effect, noise amplitude, decimals)
KPI_PLANS = (
    ("checkout_conversion", "CHK", 11, "percent", "Buy and pay", "daily", 3.0, 0.5, 0.05, 3),
    ("payment_success_rate", "PAY", 13, "percent", "Buy and pay", "daily", 95.0, 2.0, 0.2, 2),
    ("cloud_cost_per_order", "PLAT", 15, "EUR", "Platform services", "weekly", 0.42, -0.08, 0.01, 4),
)
SURVEY_DIMENSIONS = ("focus time", "ease of release", "review turnaround")
SURVEY_BASE = {"Payments": 3.6, "Checkout": 3.4, "Platform": 3.8}
SURVEY_DROP = 1.2
# Which survey dimension each planted problem pulls down, in the month it happened.
SURVEY_EFFECTS = (("review_bottleneck", "review turnaround"), ("wip_surge", "focus time"),
                  ("cfr_spike", "ease of release"))
KR3_CHECKINS = (70, 73, 77, 80, 84, 86)  # the accessibility score at each month's end, May to October


def build_outcomes(org, seed: int, first_day: date = FIRST_DAY, last_day: date = LAST_DAY) -> None:
    """The KPI series, OKRs and surveys of the history from ``first_day`` to ``last_day``: the OKRs' period
    runs from its first Monday to ``last_day``, surveys are taken on the 28th of each month."""
    rng = random.Random(f"{seed}:outcomes")
    period_start = _first_monday(first_day)
    planted = org.planted
    epics = planted.get("epics_shipped", {})
    in_initiative = {epic: initiative for initiative, es in planted.get("initiatives", {}).items() for epic in es}
    effects = []
    for kpi, project, week, unit, stream, cadence, base, effect, noise, _decimals in KPI_PLANS:
        epic = _pick_epic(epics, project, period_start + timedelta(weeks=week), (first_day, last_day),
                          need_initiative=in_initiative if project == "PAY" else None)
        if epic is None:
            continue
        shipped_on = datetime.fromisoformat(epics[epic]["shipped_at"].replace("Z", "+00:00")).date()
        effects.append({"kpi": kpi, "value_stream": stream, "unit": unit, "cadence": cadence, "epic_key": epic,
                        "initiative_key": in_initiative.get(epic), "shipped_at": epics[epic]["shipped_at"],
                        "deployment_id": epics[epic]["deployment_id"], "shipped_on": shipped_on.isoformat(),
                        "level_before": base, "level_after": round(base + effect, 6), "effect": effect,
                        "noise": noise})
    planted["kpi_effects"] = effects
    by_kpi = {e["kpi"]: e for e in effects}

    kpis: list[dict[str, Any]] = []
    for kpi, _project, _week, unit, stream, cadence, base, effect, noise, decimals in KPI_PLANS:
        step = date.fromisoformat(by_kpi[kpi]["shipped_on"]) if kpi in by_kpi else None
        for day in _days(cadence, first_day, last_day):
            level = base + (effect if step is not None and day > step else 0.0)
            kpis.append({"kpi": kpi, "observed_on": day.isoformat(),
                         "value": round(level + rng.uniform(-noise, noise), decimals), "unit": unit,
                         "value_stream": stream, "product": None, "segment": None})
    # Revenue by market and in total: a segmented KPI no epic is planted to move.
    for k, monday in enumerate(_days("weekly", first_day, last_day)):
        eu, us = 120000 + 800 * k + rng.uniform(-3000, 3000), 80000 + 500 * k + rng.uniform(-2000, 2000)
        for segment, value in ((None, eu + us), ("EU", eu), ("US", us)):
            kpis.append({"kpi": "revenue", "observed_on": monday.isoformat(), "value": round(value), "unit": "EUR",
                         "value_stream": "Buy and pay", "product": "acme-shop", "segment": segment})

    def epic_link(kpi: str, kind: str = "epic") -> str:
        effect = by_kpi.get(kpi)
        target = effect and (effect["initiative_key"] if kind == "initiative" else effect["epic_key"])
        return f"{kind}:{target}" if target else ""

    period = {"start_on": period_start.isoformat(), "due_on": last_day.isoformat()}
    key_results = [
        {"objective_id": "O-1", "objective": "Make buying effortless", "key_result_id": "KR-1",
         "key_result": "Checkout conversion from 3.0% to 3.6%", "kpi": "checkout_conversion", "unit": "percent",
         "baseline": 3.0, "target": 3.6, **period, "team": "Checkout", "value_stream": "Buy and pay",
         "links": epic_link("checkout_conversion")},
        {"objective_id": "O-1", "objective": "Make buying effortless", "key_result_id": "KR-2",
         "key_result": "Payment success rate from 95% to 98%", "kpi": "payment_success_rate", "unit": "percent",
         "baseline": 95.0, "target": 98.0, **period, "team": "Payments", "value_stream": "Buy and pay",
         "links": epic_link("payment_success_rate", "initiative")},
        {"objective_id": "O-2", "objective": "An accessible checkout", "key_result_id": "KR-3",
         "key_result": "Accessibility audit score from 70 to 90", "kpi": None, "unit": "points",
         "baseline": 70.0, "target": 90.0, **period, "team": "Checkout", "value_stream": "Buy and pay",
         "links": "label:a11y"},
        {"objective_id": "O-3", "objective": "A cheaper platform", "key_result_id": "KR-4",
         "key_result": "Cloud cost per order from 0.42 to 0.34 EUR", "kpi": "cloud_cost_per_order", "unit": "EUR",
         "baseline": 0.42, "target": 0.34, **period, "team": "Platform", "value_stream": "Platform services",
         "links": epic_link("cloud_cost_per_order")},
    ]
    # a check-in at each month's end and at the period's due date: the last ones, as many as there are values
    month_ends = [end for end in _month_ends(first_day, last_day) if end < last_day] + [last_day]
    key_result_values = [{"key_result_id": "KR-3", "observed_on": day.isoformat(), "value": float(value)}
                         for day, value in zip(month_ends[-len(KR3_CHECKINS):], KR3_CHECKINS)]

    drops = []
    survey_days = [end.replace(day=28) for end in _month_ends(first_day, last_day)
                   if first_day <= end.replace(day=28) <= last_day]
    for problem, dimension in SURVEY_EFFECTS:
        fact = planted.get(problem)
        if fact is None:
            continue
        first, end = date.fromisoformat(fact["first_week"]), date.fromisoformat(fact["end_week"])
        # the month's survey taken while the problem lasted, or in the week after it ended
        hit = [d for d in survey_days if first <= d < end + timedelta(days=7)]
        drops += [{"team": fact["team"], "dimension": dimension, "surveyed_on": d.isoformat(), "drop": SURVEY_DROP,
                   "because": problem} for d in hit]
    dropped = {(d["team"], d["dimension"], d["surveyed_on"]) for d in drops}
    planted["survey_drops"] = drops
    surveys = []
    for team, base in SURVEY_BASE.items():
        for day in survey_days:
            for dimension in SURVEY_DIMENSIONS:
                score = base + rng.uniform(-0.2, 0.2) - (SURVEY_DROP if (team, dimension, day.isoformat()) in dropped else 0)
                surveys.append({"team": team, "surveyed_on": day.isoformat(), "dimension": dimension,
                                "score": round(min(5.0, max(1.0, score)), 1), "scale_min": 1, "scale_max": 5,
                                "respondents": 6 - rng.randint(0, 2), "value_stream": TEAM_VALUE_STREAMS[team]})
    org.outcomes = {"kpis": kpis, "key_results": key_results, "key_result_values": key_result_values,
                    "surveys": surveys}


def _pick_epic(epics: dict[str, dict], project: str, near: date, span: tuple[date, date],
               need_initiative: dict | None) -> str | None:
    """The epic of `project` that shipped closest to `near`, whose first production deployment succeeded
    (so "first shipped" means the same with or without failed attempts), inside the margins."""
    candidates = []
    for key, fact in epics.items():
        if not key.startswith(f"{project}-") or fact["shipped_at"] is None:
            continue
        if fact["attempt_deployment_id"] != fact["deployment_id"]:
            continue
        if need_initiative is not None and key not in need_initiative:
            continue
        shipped = datetime.fromisoformat(fact["shipped_at"].replace("Z", "+00:00")).date()
        if span[0] + MARGIN <= shipped <= span[1] - MARGIN:
            candidates.append((abs((shipped - near).days), shipped, key))
    return min(candidates)[2] if candidates else None


def _days(cadence: str, first_day: date, last_day: date) -> list[date]:
    if cadence == "daily":
        return [first_day + timedelta(days=k) for k in range((last_day - first_day).days + 1)]
    first_monday = _first_monday(first_day)
    return [first_monday + timedelta(weeks=k) for k in range((last_day - first_monday).days // 7 + 1)]


def _first_monday(day: date) -> date:
    return day + timedelta(days=-day.weekday() % 7)


def _month_ends(first_day: date, last_day: date) -> list[date]:
    """The last day of every month from ``first_day``'s to ``last_day``'s."""
    ends = []
    month = first_day.replace(day=1)
    while month <= last_day:
        following = (month + timedelta(days=31)).replace(day=1)
        ends.append(following - timedelta(days=1))
        month = following
    return ends


# The file of each kind, in the folder of that kind (an outcomes source reads one folder per kind).
FILES = {"kpis": "kpis.csv", "key_results": "key_results.csv", "key_result_values": "checkins.csv",
         "surveys": "surveys.csv"}


def write_outcome_files(org, folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write org.outcomes as CSV files, `<folder>/<kind>/<file>`; returns the folder of each kind.

    Written to a temporary name and renamed, as the source's docs ask; an unchanged file is not rewritten.
    """
    folders = {}
    for kind, name in FILES.items():
        rows = org.outcomes.get(kind, [])
        target = Path(folder) / kind
        target.mkdir(parents=True, exist_ok=True)
        folders[kind] = target
        buffer = io.StringIO(newline="")
        columns = list(rows[0]) if rows else ["kpi"]
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
        path = target / name
        if path.exists() and path.read_text() == buffer.getvalue():
            continue
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(buffer.getvalue())
        os.replace(tmp, path)
    return folders
