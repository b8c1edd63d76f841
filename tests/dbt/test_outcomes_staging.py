"""The outcomes source through its staging views: files read by the connector, typed rows out, one row per link.

Hand-written input (source `okrs`):
  kpis/2026-q3.csv      3 rows: conversion (whole KPI) on 07-06 and 07-13, conversion of segment `mobile` on 07-06;
                        line 5 `value` = "3,4%" -> rejected.
  key_results.jsonl     KR-1 of objective O-1 (3 links, one written twice), KR-2 without objective_id and without
                        links; line 3 has no target -> rejected.
  checkins.csv          KR-2 on 07-31 = 12 and 08-31 = 20.
  surveys.csv           Payments focus 3.6 of 1-5 (no scale given), Checkout ease-of-release 7 of 0-10, n=9.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from connectors.config import parse_config
from connectors.core.raw import RawStore
from connectors.outcomes import extract

from .warehouse import RAW_TABLES, query_dicts, run_dbt

KPIS = """\
kpi,observed_on,value,unit,value_stream,segment
conversion,2026-07-06,3.1,percent,Buy and pay,
conversion,2026-07-13,3.45,percent,Buy and pay,
conversion,2026-07-06,2.5,percent,Buy and pay,mobile
conversion,2026-07-20,"3,4%",percent,Buy and pay,
"""
KEY_RESULTS = [
    {"objective_id": "O-1", "objective": "Make checkout effortless", "key_result_id": "KR-1",
     "key_result": "Conversion from 3.1% to 3.6%", "kpi": "conversion", "unit": "percent", "baseline": 3.1,
     "target": 3.6, "start_on": "2026-07-01", "due_on": "2026-09-30", "team": "Checkout",
     "links": "epic:chk-12; label:checkout-conversion; field:customfield_10050=Q3-growth; epic:CHK-12"},
    {"objective": "Fewer payment failures", "key_result_id": "KR-2", "key_result": "Retry 20 failure kinds",
     "baseline": "0", "target": "20", "due_on": "2026-09-30", "value_stream": "Buy and pay"},
    {"objective": "Fewer payment failures", "key_result_id": "KR-3", "key_result": "No target", "baseline": 0,
     "due_on": "2026-09-30", "team": "Payments"},
]
CHECKINS = "key_result_id,observed_on,value\nKR-2,2026-07-31,12\nKR-2,2026-08-31,20\n"
SURVEYS = """\
team,surveyed_on,dimension,score,scale_min,scale_max,respondents
Payments,2026-07-31,focus,3.6,,,
Checkout,2026-07-31,ease of release,7,0,10,9
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("outcomes_staging")
    folders = {kind: work / kind for kind in ("kpis", "key_results", "key_result_values", "surveys")}
    for folder in folders.values():
        folder.mkdir()
    (folders["kpis"] / "2026-q3.csv").write_text(KPIS)
    (folders["key_results"] / "key_results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in KEY_RESULTS))
    (folders["key_result_values"] / "checkins.csv").write_text(CHECKINS)
    (folders["surveys"] / "surveys.csv").write_text(SURVEYS)
    config = parse_config({"sources": [{"type": "outcomes", "name": "okrs",
                                        **{kind: {"path": str(folder)} for kind, folder in folders.items()}}]})
    path = work / "throughline.duckdb"
    with RawStore(path) as store:
        for table in RAW_TABLES:
            store.ensure_table(table)
        extract("outcomes", config.sources[0], store)
    run_dbt(["build", "--select", "staging.outcomes", "--exclude", "test_type:unit"], path, work)
    return path


def test_kpi_values_are_typed_and_a_segment_is_its_own_series(warehouse):
    rows = query_dicts(warehouse, "SELECT kpi, observed_on, value, unit, value_stream, product, segment, line "
                                  "FROM staging.stg_outcomes__kpi_values ORDER BY segment NULLS FIRST, observed_on")
    assert rows == [
        {"kpi": "conversion", "observed_on": date(2026, 7, 6), "value": 3.1, "unit": "percent",
         "value_stream": "Buy and pay", "product": None, "segment": None, "line": 2},
        {"kpi": "conversion", "observed_on": date(2026, 7, 13), "value": 3.45, "unit": "percent",
         "value_stream": "Buy and pay", "product": None, "segment": None, "line": 3},
        {"kpi": "conversion", "observed_on": date(2026, 7, 6), "value": 2.5, "unit": "percent",
         "value_stream": "Buy and pay", "product": None, "segment": "mobile", "line": 4},
    ]


def test_key_results_and_their_links(warehouse):
    rows = query_dicts(warehouse, "SELECT objective_id, objective, key_result_id, kpi, baseline, target, start_on, "
                                  "due_on, team, value_stream FROM staging.stg_outcomes__key_results ORDER BY 3")
    assert rows == [
        {"objective_id": "O-1", "objective": "Make checkout effortless", "key_result_id": "KR-1", "kpi": "conversion",
         "baseline": 3.1, "target": 3.6, "start_on": date(2026, 7, 1), "due_on": date(2026, 9, 30),
         "team": "Checkout", "value_stream": None},
        # no objective_id: the objective's text stands for it; "0" and "20" written as strings are numbers
        {"objective_id": "Fewer payment failures", "objective": "Fewer payment failures", "key_result_id": "KR-2",
         "kpi": None, "baseline": 0.0, "target": 20.0, "start_on": None, "due_on": date(2026, 9, 30),
         "team": None, "value_stream": "Buy and pay"},
    ]
    links = query_dicts(warehouse, "SELECT key_result_id, link_kind, field, link_value "
                                   "FROM staging.stg_outcomes__key_result_links ORDER BY link_kind")
    # four links written, the epic twice (once in lower case): three links
    assert links == [
        {"key_result_id": "KR-1", "link_kind": "epic", "field": None, "link_value": "CHK-12"},
        {"key_result_id": "KR-1", "link_kind": "field", "field": "customfield_10050", "link_value": "Q3-growth"},
        {"key_result_id": "KR-1", "link_kind": "label", "field": None, "link_value": "checkout-conversion"},
    ]


def test_checkins_and_surveys(warehouse):
    assert query_dicts(warehouse, "SELECT key_result_id, observed_on, value FROM "
                                  "staging.stg_outcomes__key_result_values ORDER BY observed_on") == [
        {"key_result_id": "KR-2", "observed_on": date(2026, 7, 31), "value": 12.0},
        {"key_result_id": "KR-2", "observed_on": date(2026, 8, 31), "value": 20.0},
    ]
    assert query_dicts(warehouse, "SELECT team, surveyed_on, dimension, score, scale_min, scale_max, respondents "
                                  "FROM staging.stg_outcomes__survey_results ORDER BY team") == [
        {"team": "Checkout", "surveyed_on": date(2026, 7, 31), "dimension": "ease of release", "score": 7.0,
         "scale_min": 0.0, "scale_max": 10.0, "respondents": 9},
        {"team": "Payments", "surveyed_on": date(2026, 7, 31), "dimension": "focus", "score": 3.6,
         "scale_min": 1.0, "scale_max": 5.0, "respondents": None},  # no scale given: 1 to 5
    ]


def test_rejected_rows_name_file_line_column_and_fix(warehouse):
    rows = query_dicts(warehouse, "SELECT kind, file, line, reason FROM staging.stg_outcomes__rejected_rows "
                                  "ORDER BY kind")
    assert [(r["kind"], r["file"], r["line"]) for r in rows] == [
        ("key_results", "key_results.jsonl", 3), ("kpis", "2026-q3.csv", 5)]
    assert rows[0]["reason"] == "column target: required but empty or missing; give it a value"
    assert rows[1]["reason"].startswith("column value: '3,4%' is not a number; write it like 1234.5")
