"""benchmarks/summary.py: each benchmark merges its own key into benchmarks/summary.json."""

from __future__ import annotations

import json

import benchmarks.summary as summary
from benchmarks.summary import merge, update_summary

MACHINE = {"cores": 2, "ram_gib": 24.0, "python": "3.12.3", "duckdb": "2.0.0", "load_average": [3.1, 2.0, 1.5]}


def test_merge_keeps_other_sections_and_other_tiers():
    before = {"commit": "aaa", "machine": {"cores": 8},
              "P2": {"jira": 1.4},
              "P3": {"3M": {"issues": 3_000_000, "ratio": 1.3}}}
    after = merge(before, "P3", {"1M": {"issues": 1_000_000, "ratio": 1.2}}, at_commit="bbb+dirty", on=MACHINE)
    assert after == {"commit": "bbb+dirty", "machine": MACHINE,
                     "P2": {"jira": 1.4},
                     "P3": {"3M": {"issues": 3_000_000, "ratio": 1.3}, "1M": {"issues": 1_000_000, "ratio": 1.2}}}
    assert before["P3"] == {"3M": {"issues": 3_000_000, "ratio": 1.3}}  # the input is not changed


def test_merge_replaces_a_source_measured_again_and_a_section_that_was_not_an_object():
    after = merge({"P2": {"jira": 5.19, "github": 1.89}, "P5": 12}, "P2", {"jira": 1.42}, at_commit="c", on=MACHINE)
    assert after["P2"] == {"jira": 1.42, "github": 1.89}
    assert merge(after, "P5", {"max_p95_ms": 41.0}, at_commit="c", on=MACHINE)["P5"] == {"max_p95_ms": 41.0}


def test_update_summary_writes_commit_machine_and_the_section(tmp_path, monkeypatch):
    monkeypatch.setattr(summary, "commit", lambda: "0123abc")
    monkeypatch.setattr(summary, "machine", lambda: MACHINE)
    path = tmp_path / "summary.json"
    path.write_text('{"P2": {"jira"')  # cut by a killed run
    update_summary("P5", {"max_p95_ms": 38.5}, path)
    update_summary("P2", {"gitlab": 1.3}, path)
    written = json.loads(path.read_text())
    assert written == {"commit": "0123abc", "machine": MACHINE, "P2": {"gitlab": 1.3}, "P5": {"max_p95_ms": 38.5}}
    assert list(written) == ["commit", "machine", "P2", "P5"]


def test_commit_outside_a_checkout(tmp_path):
    assert summary.commit(tmp_path) == "unknown"  # not a git checkout


def test_p5_is_the_slowest_dashboard_querys_p95():
    import sys
    from pathlib import Path

    import pytest

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dashboards" / "scripts"))
    try:
        from bench_queries import p95_summary
    finally:
        sys.path.pop(0)
    figures = p95_summary({"flow/velocity": 3.0, "dora/weekly": 120.54, "flow/load": 99.9}, "demo", 20, 3)
    assert figures == {"max_p95_ms": 120.5, "query": "dora/weekly", "warehouse": "demo", "queries": 3,
                       "over_target": 1, "target_ms": 100, "runs": 20, "passes": 3}
    with pytest.raises(SystemExit, match="no dashboard query to time on 'empty'"):
        p95_summary({}, "empty", 20)
