"""The outcomes source: KPI series, key results, check-ins and surveys from files or tables; every bad row
reported with its file, line, column and fix, the good ones loaded.

Every expected value below is worked out by hand from the rows written in the test.
"""

from __future__ import annotations

import json
import logging
import os

import duckdb
import pytest

from connectors.config import parse_config
from connectors.core.errors import ConfigError
from connectors.core.raw import RawStore
from connectors.outcomes import OutcomesFileError, check, extract, parse_links

KPIS_CSV = """\
KPI,Observed On,value,unit,value_stream,product,segment
checkout_conversion,2026-07-06,3.12,percent,Buy and pay,,
checkout_conversion,2026-07-06,2.50,percent,Buy and pay,,mobile
revenue,2026-07-06,200000,EUR,,acme-shop,
checkout_conversion,2026-07-07,"3,2",percent,Buy and pay,,
checkout_conversion,07/08/2026,3.2,percent,Buy and pay,,
checkout_conversion,2026-07-09,3.2,percent,,,
checkout_conversion,2026-07-06,3.3,percent,Buy and pay,,
,2026-07-10,,percent,Buy and pay,,
"""
# line 1 header; lines 2-4 good (line 3 is the same KPI and day as line 2 but a segment: another series;
# line 4 has a product instead of a value stream); line 5 value "3,2" (a comma); line 6 a US date;
# line 7 neither value_stream nor product; line 8 the same identity as line 2; line 9 no kpi and no value.

KEY_RESULTS = [
    {"objective_id": "O-1", "objective": "Make buying effortless", "key_result_id": "KR-1",
     "key_result": "Conversion from 3.0% to 3.6%", "kpi": "checkout_conversion", "baseline": 3.0, "target": 3.6,
     "start_on": "2026-05-04", "due_on": "2026-10-30", "team": "Checkout",
     "links": "epic:CHK-3; initiative:chk-1;label:a11y ; field:customfield_10050=Q3-growth; issue:PAY-7"},
    {"objective": "Accessible", "key_result_id": "KR-2", "key_result": "Audit score 70 -> 90", "baseline": 70,
     "target": 90, "due_on": "2026-10-30", "value_stream": "Buy and pay", "links": ["label:a11y", "epic:CHK-9"]},
    {"objective": "x", "key_result_id": "KR-3", "key_result": "no target", "baseline": 1, "due_on": "2026-10-30",
     "team": "Checkout"},
    {"objective": "x", "key_result_id": "KR-4", "key_result": "flat", "baseline": 5, "target": 5,
     "start_on": "2026-10-30", "due_on": "2026-05-04", "team": "Checkout"},
    {"objective": "x", "key_result_id": "KR-5", "key_result": "bad links", "baseline": 0, "target": 1,
     "due_on": "2026-10-30", "links": "epic:checkout revamp"},
    {"objective": "x", "key_result_id": "KR-6", "key_result": "bad field", "baseline": 0, "target": 1,
     "due_on": "2026-10-30", "team": "Checkout", "links": "field:customfield_10050"},
    {"objective": "x", "key_result_id": "KR-7", "key_result": "unknown kind", "baseline": 0, "target": 1,
     "due_on": "2026-10-30", "team": "Checkout", "links": "component:Cart"},
    {"objective": "x", "key_result_id": "KR-1", "key_result": "again", "baseline": 0, "target": 1,
     "due_on": "2026-10-30", "team": "Checkout"},
]
# line 1 KR-1 and line 2 KR-2 good; line 3 no target; line 4 target = baseline and due before start; line 5
# neither team nor value_stream and an epic link that is not a key; line 6 a field link without `=value`;
# line 7 an unknown link kind; line 8 KR-1 again.

CHECKINS_CSV = "key_result_id,observed_on,value,note\nKR-2,2026-07-31,74,after the audit\nKR-2,2026-08-31,high,\n"
# line 2 good; line 3 value "high".

SURVEYS_CSV = """\
team,surveyed_on,dimension,score,scale_min,scale_max,respondents
Payments,2026-07-28,focus time,3.4,,,6
Payments,2026-07-28,review turnaround,9,0,10,5
Payments,2026-07-28,ease of release,6,,,
Payments,2026-08-28,focus time,3,1,,
Payments,2026-08-28,ease of release,3,5,1,
Payments,2026-08-28,review turnaround,3,,,4.5
"""
# line 2 good (1-5 scale by default); line 3 good (0-10); line 4 score 6 above the default 5; line 5 only
# scale_min; line 6 scale_min above scale_max; line 7 4.5 respondents.


def outcomes_source(**kinds):
    return parse_config({"sources": [{"type": "outcomes", "name": "okrs", **kinds}]}).sources[0]


def rows(store: RawStore, table: str) -> dict[str, dict]:
    return {key: json.loads(payload) for key, payload in store.con.execute(
        f"SELECT record_key, payload FROM raw.{table} ORDER BY record_key").fetchall()}


def checked(store: RawStore, table: str) -> list[dict]:
    return sorted((p["_throughline"] for p in rows(store, table).values()), key=lambda c: (c["file"], c["line"]))


@pytest.fixture
def folders(tmp_path):
    paths = {kind: tmp_path / kind for kind in ("kpis", "key_results", "key_result_values", "surveys")}
    for path in paths.values():
        path.mkdir()
    (paths["kpis"] / "kpis.csv").write_text(KPIS_CSV)
    (paths["key_results"] / "okrs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in KEY_RESULTS))
    (paths["key_result_values"] / "checkins.csv").write_text(CHECKINS_CSV)
    (paths["surveys"] / "dx.csv").write_text(SURVEYS_CSV)
    return paths


@pytest.fixture
def source(folders):
    return outcomes_source(**{kind: {"path": str(path)} for kind, path in folders.items()})


def test_good_rows_of_every_kind_load_with_their_checked_values(tmp_path, source):
    with RawStore(tmp_path / "w.duckdb") as store:
        results = extract("outcomes", source, store)
        kpis, krs = checked(store, "outcomes__kpis"), checked(store, "outcomes__key_results")
        checkins, surveys = checked(store, "outcomes__key_result_values"), checked(store, "outcomes__surveys")
    totals = {}
    for r in results:
        totals[r.table] = totals.get(r.table, 0) + r.records
    # 3 + 2 + 1 + 2 good rows; 5 + 6 + 1 + 4 rejected
    assert totals == {"outcomes__kpis": 3, "outcomes__key_results": 2, "outcomes__key_result_values": 1,
                      "outcomes__surveys": 2, "outcomes__rejected_rows": 16}
    # Column names are matched ignoring case and spaces; values are typed; empty cells are None.
    assert kpis[0] == {"file": "kpis.csv", "line": 2, "kpi": "checkout_conversion", "observed_on": "2026-07-06",
                       "value": 3.12, "unit": "percent", "value_stream": "Buy and pay", "product": None,
                       "segment": None}
    assert (kpis[1]["segment"], kpis[1]["value"]) == ("mobile", 2.5)
    assert (kpis[2]["product"], kpis[2]["value_stream"], kpis[2]["value"]) == ("acme-shop", None, 200000.0)
    assert krs[0]["links"] == [
        {"kind": "epic", "field": None, "value": "CHK-3"},
        {"kind": "initiative", "field": None, "value": "CHK-1"},  # keys are upper-cased
        {"kind": "label", "field": None, "value": "a11y"},
        {"kind": "field", "field": "customfield_10050", "value": "Q3-growth"},
        {"kind": "issue", "field": None, "value": "PAY-7"},
    ]
    assert (krs[0]["baseline"], krs[0]["target"], krs[0]["start_on"], krs[0]["due_on"]) == (
        3.0, 3.6, "2026-05-04", "2026-10-30")
    # no objective_id: the objective stands for it; links as a JSON list work too
    assert krs[1]["objective_id"] == "Accessible" and [lk["value"] for lk in krs[1]["links"]] == ["a11y", "CHK-9"]
    assert checkins == [{"file": "checkins.csv", "line": 2, "key_result_id": "KR-2", "observed_on": "2026-07-31",
                         "value": 74.0, "note": "after the audit"}]
    assert [(s["dimension"], s["score"], s["scale_min"], s["scale_max"], s["respondents"]) for s in surveys] == [
        ("focus time", 3.4, 1.0, 5.0, 6), ("review turnaround", 9.0, 0.0, 10.0, 5)]


def test_every_bad_row_is_rejected_with_file_line_column_and_fix(tmp_path, source, caplog):
    with caplog.at_level(logging.WARNING, logger="connectors.outcomes"), RawStore(tmp_path / "w.duckdb") as store:
        extract("outcomes", source, store)
        rejected = rows(store, "outcomes__rejected_rows")
    reasons = {key: payload["reason"] for key, payload in rejected.items()}
    assert sorted(reasons) == sorted(
        [f"kpis:kpis.csv:{n}" for n in (5, 6, 7, 8, 9)]
        + [f"key_results:okrs.jsonl:{n}" for n in (3, 4, 5, 6, 7, 8)]
        + ["key_result_values:checkins.csv:3"]
        + [f"surveys:dx.csv:{n}" for n in (4, 5, 6, 7)]
    )
    assert reasons["kpis:kpis.csv:5"].startswith("column value: '3,2' is not a number; write it like 1234.5")
    assert reasons["kpis:kpis.csv:6"] == "column observed_on: '07/08/2026' is not a date; write it as YYYY-MM-DD, like 2026-01-05"
    assert reasons["kpis:kpis.csv:7"] == "columns value_stream / product: give at least one of them"
    assert reasons["kpis:kpis.csv:8"] == (
        "same kpi, value_stream, product, segment and observed_on as line 2; keep one of the two rows")
    assert reasons["kpis:kpis.csv:9"] == (
        "column kpi: required but empty or missing; give it a value; "
        "column value: required but empty or missing; give it a value")
    assert reasons["key_results:okrs.jsonl:3"] == "column target: required but empty or missing; give it a value"
    assert reasons["key_results:okrs.jsonl:4"] == (
        "columns baseline / target: both are 5, so progress cannot be measured; give the value the key result "
        "starts from and the one it aims at; column due_on: 2026-05-04 is before start_on 2026-10-30; swap them")
    assert reasons["key_results:okrs.jsonl:5"] == (
        "columns team / value_stream: give at least one of them; "
        "column links: 'epic:checkout revamp': 'checkout revamp' is not an issue key; write it like PAY-12")
    assert reasons["key_results:okrs.jsonl:6"].startswith(
        "column links: 'field:customfield_10050' is not a field link; write field:<field id>=<value>")
    assert reasons["key_results:okrs.jsonl:7"].startswith(
        "column links: 'component:Cart' is not a link; write kind:value with kind one of epic, initiative, issue, "
        "label, field")
    assert reasons["key_results:okrs.jsonl:8"] == "same key_result_id as line 1; keep one of the two rows"
    assert reasons["key_result_values:checkins.csv:3"].startswith("column value: 'high' is not a number")
    assert reasons["surveys:dx.csv:4"] == (
        "column score: 6 is outside the scale 1 to 5; fix the score, or give the survey's scale in scale_min / "
        "scale_max")
    assert reasons["surveys:dx.csv:5"] == "columns scale_min / scale_max: give both (or neither, for the 1-5 scale)"
    assert reasons["surveys:dx.csv:6"] == "columns scale_min / scale_max: 5 is not below 1; swap them"
    assert reasons["surveys:dx.csv:7"] == "column respondents: '4.5' is not a count of people; write a whole number like 14"
    # the rejected row keeps what the file wrote
    assert rejected["kpis:kpis.csv:5"]["row"]["value"] == "3,2"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 16
    assert "outcomes source 'okrs', surveys file dx.csv, line 4: column score: 6 is outside the scale" in warnings[-4]


def test_unchanged_files_are_skipped_and_a_changed_file_replaces_its_rows(tmp_path, folders, source):
    warehouse = tmp_path / "w.duckdb"
    with RawStore(warehouse) as store:
        extract("outcomes", source, store)
        before = rows(store, "outcomes__kpis")
        again = extract("outcomes", source, store)
        assert sum(r.records for r in again) == 0  # every file skipped: same fingerprint
        assert rows(store, "outcomes__kpis") == before

        # A touched file with the same bytes is not read again either.
        kpis = folders["kpis"] / "kpis.csv"
        os.utime(kpis, ns=(kpis.stat().st_atime_ns, kpis.stat().st_mtime_ns + 10**9))
        assert sum(r.records for r in extract("outcomes", source, store)) == 0

        # The KPI file now holds two good rows: the revenue row is gone, the bad rows are fixed or gone.
        kpis.write_text("kpi,observed_on,value,value_stream\n"
                        "checkout_conversion,2026-07-06,3.2,Buy and pay\n"
                        "checkout_conversion,2026-07-07,3.25,Buy and pay\n")
        changed = extract("outcomes", source, store)
        assert {(r.table, r.scope): r.records for r in changed if r.records} == {
            ("outcomes__kpis", "kpis.csv"): 2}
        now = checked(store, "outcomes__kpis")
        assert [(c["observed_on"], c["value"]) for c in now] == [("2026-07-06", 3.2), ("2026-07-07", 3.25)]
        # the 07-06 row has the same identity as before (no segment, no product): same key, new value
        assert len(set(rows(store, "outcomes__kpis")) & set(before)) == 1
        rejected = rows(store, "outcomes__rejected_rows")
        assert not [k for k in rejected if k.startswith("kpis:")]  # the KPI file's old rejections went with it
        assert len(rejected) == 11  # the other kinds' 6 + 1 + 4 stay


def test_parquet_and_duckdb_tables(tmp_path):
    con = duckdb.connect(str(tmp_path / "okrs.duckdb"))
    con.execute("CREATE SCHEMA okr")
    con.execute("CREATE TABLE okr.surveys (team VARCHAR, surveyed_on DATE, dimension VARCHAR, score DECIMAL(3,1), "
                "respondents INTEGER)")
    con.execute("INSERT INTO okr.surveys VALUES ('Platform', DATE '2026-09-28', 'ease of release', 2.6, 5), "
                "('Platform', DATE '2026-09-28', 'focus time', 5.5, 5)")
    con.execute("COPY (SELECT 'cloud_cost_per_order' AS kpi, TIMESTAMP '2026-07-06 00:00:00' AS observed_on, "
                f"0.42 AS value, 'Platform services' AS value_stream) TO '{tmp_path / 'kpis.parquet'}' (FORMAT parquet)")
    con.close()
    source = outcomes_source(surveys={"table": f"duckdb:{tmp_path / 'okrs.duckdb'}:okr.surveys"},
                             kpis={"table": str(tmp_path / "kpis.parquet")})
    with RawStore(tmp_path / "w.duckdb") as store:
        extract("outcomes", source, store)
        surveys, kpis = checked(store, "outcomes__surveys"), checked(store, "outcomes__kpis")
        rejected = rows(store, "outcomes__rejected_rows")
    # typed columns: DATE and DECIMAL; a TIMESTAMP column gives its date
    assert [(s["surveyed_on"], s["score"], s["respondents"]) for s in surveys] == [("2026-09-28", 2.6, 5)]
    assert [(k["observed_on"], k["value"]) for k in kpis] == [("2026-07-06", 0.42)]
    (reason,) = [r["reason"] for r in rejected.values()]
    assert reason.startswith("column score: 5.5 is outside the scale 1 to 5")
    assert rejected[f"surveys:duckdb:{tmp_path / 'okrs.duckdb'}:okr.surveys:2"]["line"] == 2  # row number


def test_a_header_without_a_required_column_is_one_error_and_the_rest_loads(tmp_path, folders, source):
    (folders["kpis"] / "old.csv").write_text("kpi,date,value,value_stream\nx,2026-07-06,1,Buy and pay\n")
    with RawStore(tmp_path / "w.duckdb") as store:
        with pytest.raises(OutcomesFileError) as raised:
            extract("outcomes", source, store)
        assert store.con.execute("SELECT count(*) FROM raw.outcomes__surveys").fetchall()[0][0] == 2
    message = str(raised.value)
    assert message.startswith("outcomes source 'okrs': 1 file(s) or folder(s) could not be read")
    assert "kpis file old.csv: cannot be read: its header lacks the column(s) observed_on every kpis row needs" in message
    assert "(see docs/sources/outcomes.md)" in message


def test_doctor_checks_each_folder(tmp_path, folders):
    source = outcomes_source(kpis={"path": str(folders["kpis"])}, surveys={"path": str(tmp_path / "missing")},
                             key_results={"path": str(folders["key_results"]), "glob": ["*.csv"]})
    findings = {f.subject: (f.level, f.message) for f in check(source)}
    assert findings["okrs: kpis"] == ("ok", "1 file(s) to read")
    assert findings["okrs: key_results"][0] == "warn"  # okrs.jsonl does not match *.csv
    assert findings["okrs: surveys"][0] == "fail" and "does not exist" in findings["okrs: surveys"][1]


def test_config_needs_a_kind_and_names_the_source():
    with pytest.raises(ConfigError) as raised:
        parse_config({"sources": [{"type": "outcomes", "name": "okrs"}]})
    assert "source 'okrs'" in str(raised.value) and "give at least one of kpis, key_results" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        parse_config({"sources": [{"type": "outcomes", "name": "okrs", "kpis": {"path": "a", "table": "b.parquet"}}]})
    assert "field 'kpis'" in str(raised.value) and "not both" in str(raised.value)


@pytest.mark.parametrize(("written", "links"), [
    ("", []),
    ("label:checkout-conversion", [{"kind": "label", "field": None, "value": "checkout-conversion"}]),
    ("EPIC:pay-12;;epic:PAY-12\nissue: CHK-7 ", [{"kind": "epic", "field": None, "value": "PAY-12"},
                                                 {"kind": "issue", "field": None, "value": "CHK-7"}]),
    ("field:labels=q3", [{"kind": "field", "field": "labels", "value": "q3"}]),
])
def test_links(written, links):
    assert parse_links(written) == links


@pytest.mark.parametrize("written", ["epic", "label:two words", "field:Sprint Name=x", "initiative:", "team:Payments"])
def test_what_is_not_a_link_is_refused(written):
    with pytest.raises(ValueError):
        parse_links(written)


def test_the_simulated_organisations_files_load_without_a_rejected_row(tmp_path):
    from simulator import generate_org
    from simulator.outcomes import write_outcome_files

    org = generate_org(seed=7, scale=1)
    folders = write_outcome_files(org, tmp_path / "outcomes")
    source = outcomes_source(**{kind: {"path": str(path)} for kind, path in folders.items()})
    with RawStore(tmp_path / "w.duckdb") as store:
        extract("outcomes", source, store)
        counts = {kind: store.con.execute(f"SELECT count(*) FROM raw.outcomes__{kind}").fetchall()[0][0]
                  for kind in (*folders, "rejected_rows")}
    assert counts == {**{kind: len(org.outcomes[kind]) for kind in folders}, "rejected_rows": 0}
    # written again unchanged, the files are not rewritten (so not read again)
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "outcomes").rglob("*.csv")}
    write_outcome_files(org, tmp_path / "outcomes")
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
