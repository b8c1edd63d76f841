"""The generic events source: files and tables in, validated rows out, bad rows reported and kept aside.

Every expected value below is worked out by hand from the rows written in the test.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

import duckdb
import pytest

from connectors.config import parse_config
from connectors.core.errors import ConfigError
from connectors.core.raw import RawStore
from connectors.events import (
    DEPLOYMENTS,
    EventsFileError,
    deployment_status,
    extract,
    parse_utc,
    validate,
)

DEPLOY_CSV = """\
id,Service,environment,status,started_at,finished_at,sha,version,repo,is_rollback
d1,payments,production,succeeded,2026-01-05T09:00:00Z,2026-01-05T09:10:00Z,ABC1234,,acme/payments,
d2,payments,Production,FAILED,2026-01-06T11:00:00+02:00,2026-01-06T11:30:00+02:00,,v1.4.0,,no
d3,payments,production,exploded,2026-01-07T09:00:00Z,,abc9999,,,
d4,checkout,staging,ok,2026-01-08 09:00:00,2026-01-08T08:00:00Z,def5678,,,
"""
# line 1 header; d1 line 2 (good), d2 line 3 (good: 11:00+02:00 is 09:00 UTC), d3 line 4 (status unknown),
# d4 line 5 (finishes an hour before it starts).

DEPLOY_JSONL = "\n".join([
    json.dumps({"service": "checkout", "environment": "production", "status": "Synced",
                "finished_at": "2026-01-09T10:00:00Z", "sha": "FEEDBEEF12"}),
    "not json",
    json.dumps({"service": "checkout", "environment": "production", "status": "success",
                "started_at": "2026-01-10", "sha": "feedbeef13"}),
    "",
    json.dumps({"id": "j5", "service": "checkout", "environment": "production", "status": "running",
                "started_at": "2026-01-11T08:00:00"}),
]) + "\n"
# line 1 good (no id: hashed key), line 2 not JSON, line 3 date without time, line 4 blank (skipped),
# line 5 has neither sha nor version.


def events_source(**kinds):
    config = parse_config({"sources": [{"type": "events", "name": "argo-export", **kinds}]})
    return config.sources[0]


def rows(store: RawStore, table: str) -> list[tuple]:
    return store.con.execute(
        f"SELECT record_key, scope, payload FROM raw.{table} ORDER BY record_key"
    ).fetchall()


def by_table(results) -> dict[str, int]:
    totals: dict[str, int] = {}
    for r in results:
        totals[r.table] = totals.get(r.table, 0) + r.records
    return totals


@pytest.fixture
def folder(tmp_path):
    deploys = tmp_path / "deploys"
    deploys.mkdir()
    (deploys / "2026-01.csv").write_text(DEPLOY_CSV)
    (deploys / "argo.jsonl").write_text(DEPLOY_JSONL)
    (deploys / "README.txt").write_text("not matched by the globs")
    return deploys


def test_good_rows_load_and_bad_rows_are_reported_with_file_and_line(tmp_path, folder, caplog):
    source = events_source(deployments={"path": str(folder)})
    with caplog.at_level(logging.WARNING, logger="connectors.events"), RawStore(tmp_path / "w.duckdb") as store:
        results = extract("events", source, store)
        deployments = rows(store, "events__deployments")
        rejected = rows(store, "events__rejected_rows")

    assert by_table(results) == {"events__deployments": 3, "events__rejected_rows": 5}
    keys = [key for key, _, _ in deployments]
    assert keys[:2] == ["d1", "d2"] and keys[2].startswith("h:")
    d1, d2, argo = (json.loads(p)["_throughline"] for _, _, p in deployments)
    assert d1["status"] == "success" and d1["source_status"] == "succeeded"
    assert d1["sha"] == "abc1234" and d1["repo"] == "acme/payments" and d1["line"] == 2
    assert d1["is_rollback"] is None  # empty cell: the deployment rules decide
    assert d2["started_at"] == "2026-01-06T09:00:00+00:00" and d2["finished_at"] == "2026-01-06T09:30:00+00:00"
    assert d2["status"] == "failure" and d2["is_rollback"] is False and d2["version"] == "v1.4.0"
    assert argo["file"] == "argo.jsonl" and argo["line"] == 1 and argo["started_at"] is None
    assert argo["sha"] == "feedbeef12" and argo["status"] == "success"
    # the row as the file wrote it stays beside the checked values
    assert json.loads(deployments[1][2])["started_at"] == "2026-01-06T11:00:00+02:00"

    reasons = {key: json.loads(payload) for key, _, payload in rejected}
    assert sorted(reasons) == [
        "deployments:2026-01.csv:4", "deployments:2026-01.csv:5",
        "deployments:argo.jsonl:2", "deployments:argo.jsonl:3", "deployments:argo.jsonl:5",
    ]
    assert "column status: 'exploded' is not a known status" in reasons["deployments:2026-01.csv:4"]["reason"]
    assert reasons["deployments:2026-01.csv:4"]["row"]["id"] == "d3"
    assert "column finished_at" in reasons["deployments:2026-01.csv:5"]["reason"]
    assert "not valid JSON" in reasons["deployments:argo.jsonl:2"]["reason"]
    assert reasons["deployments:argo.jsonl:2"]["row"] == {"_line": "not json"}
    assert "column started_at: '2026-01-10' has no time of day" in reasons["deployments:argo.jsonl:3"]["reason"]
    assert "columns sha / version: give at least one" in reasons["deployments:argo.jsonl:5"]["reason"]

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 5
    assert any(
        w.startswith("events source 'argo-export', deployments file 2026-01.csv, line 4: column status:")
        for w in warnings
    )


def test_a_file_that_cannot_be_parsed_is_one_error_and_the_others_load(tmp_path, folder):
    (folder / "broken.csv").write_bytes(b"\x00\x01\x02PK binary")
    (folder / "pretty.jsonl").write_text('[\n  {"service": "x"}\n]\n')
    source = events_source(deployments={"path": str(folder)})
    with RawStore(tmp_path / "w.duckdb") as store:
        with pytest.raises(EventsFileError) as error:
            extract("events", source, store)
        loaded = rows(store, "events__deployments")
        state = store.con.execute("SELECT scope FROM raw._state ORDER BY scope").fetchall()
    message = str(error.value)
    assert "events source 'argo-export': 2 file(s)" in message
    assert "deployments file broken.csv: cannot be read: it is binary" in message
    assert "deployments file pretty.jsonl: cannot be read: it is one JSON document, not JSON Lines" in message
    assert len(loaded) == 3  # d1, d2 and the argo row
    assert state == [("2026-01.csv",), ("argo.jsonl",)]  # the broken files are read again next run


def test_csv_without_a_required_column_is_one_error_naming_it(tmp_path):
    folder = tmp_path / "deploys"
    folder.mkdir()
    (folder / "a.csv").write_text("service,status,started_at,sha\npayments,ok,2026-01-05T09:00:00Z,abc1234\n")
    with RawStore(tmp_path / "w.duckdb") as store, pytest.raises(EventsFileError) as error:
        extract("events", events_source(deployments={"path": str(folder)}), store)
    assert "a.csv: cannot be read: its header lacks the column(s) environment" in str(error.value)


def test_a_missing_folder_names_the_source_and_the_fix(tmp_path):
    with RawStore(tmp_path / "w.duckdb") as store, pytest.raises(EventsFileError) as error:
        extract("events", events_source(incidents={"path": str(tmp_path / "nope")}), store)
    assert f"events source 'argo-export', incidents: folder {tmp_path / 'nope'} does not exist" in str(error.value)


def test_unchanged_files_are_skipped_and_a_changed_file_is_read_again_whole(tmp_path, folder):
    source = events_source(deployments={"path": str(folder)})
    with RawStore(tmp_path / "w.duckdb") as store:
        extract("events", source, store)
        before = store.con.execute("SELECT record_key, extracted_at FROM raw.events__deployments").fetchall()

        # Rerun with nothing changed: no file is read, nothing is rewritten.
        again = extract("events", source, store)
        assert by_table(again) == {"events__deployments": 0, "events__rejected_rows": 0}
        assert store.con.execute("SELECT record_key, extracted_at FROM raw.events__deployments").fetchall() == before

        # Touched, same bytes: still not read (the content hash decides), the new mtime is remembered.
        stat = (folder / "argo.jsonl").stat()
        os.utime(folder / "argo.jsonl", ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
        assert by_table(extract("events", source, store))["events__deployments"] == 0
        cursor = store.get_cursor("argo-export", "deployments", "argo.jsonl")
        assert cursor.split(":")[1] == str(stat.st_mtime_ns + 5_000_000_000)

        # The CSV changes: d1 is gone, d3's status fixed, d4 still bad. Read whole: d1's row goes with its
        # old version, d3 loads, only d4 stays rejected for this file.
        lines = DEPLOY_CSV.splitlines()
        (folder / "2026-01.csv").write_text("\n".join([lines[0], lines[2], lines[3].replace("exploded", "error"), lines[4]]) + "\n")
        changed = extract("events", source, store)
        assert [(r.table, r.scope, r.records) for r in changed if r.records] == [
            ("events__deployments", "2026-01.csv", 2), ("events__rejected_rows", "2026-01.csv", 1),
        ]
        keys = [k for k, _, _ in rows(store, "events__deployments")]
        assert keys[:2] == ["d2", "d3"] and len(keys) == 3
        rejected = [k for k, _, _ in rows(store, "events__rejected_rows")]
        assert rejected == ["deployments:2026-01.csv:4", "deployments:argo.jsonl:2", "deployments:argo.jsonl:3",
                            "deployments:argo.jsonl:5"]  # d4 moved up a line

        # A removed file's rows stay.
        (folder / "argo.jsonl").unlink()
        extract("events", source, store)
        assert len(rows(store, "events__deployments")) == 3


def test_rerun_after_a_reset_state_is_idempotent(tmp_path, folder):
    source = events_source(deployments={"path": str(folder)})
    with RawStore(tmp_path / "w.duckdb") as store:
        extract("events", source, store)
        first = [(k, s, p) for k, s, p in rows(store, "events__deployments")]
        store.con.execute("DELETE FROM raw._state")  # everything is read again
        again = extract("events", source, store)
        assert by_table(again) == {"events__deployments": 3, "events__rejected_rows": 5}
        assert rows(store, "events__deployments") == first
        assert len(rows(store, "events__rejected_rows")) == 5


def test_parquet_and_duckdb_tables(tmp_path):
    """Deployments from Parquet (a TIMESTAMPTZ and a naive TIMESTAMP column), incidents from a DuckDB table.

    p1 started 2026-02-01 10:00+01:00 = 09:00 UTC; its finish 09:30 has no zone, so it is UTC. p2 is bad
    (no environment): row 2 of the table. The incidents table has one good row and one whose resolved_at is
    before its start (row 2).
    """
    parquet = tmp_path / "deploys.parquet"
    database = tmp_path / "pagerduty.duckdb"
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"""COPY (
            SELECT * FROM (VALUES
                ('p1', 'payments', 'prod', 'success', TIMESTAMPTZ '2026-02-01 10:00:00+01:00',
                 TIMESTAMP '2026-02-01 09:30:00', 'abcdef1234567', true),
                ('p2', 'payments', NULL, 'success', TIMESTAMPTZ '2026-02-02 10:00:00+00:00',
                 TIMESTAMP '2026-02-02 10:30:00', 'abcdef1234568', false)
            ) AS t(id, service, environment, status, started_at, finished_at, sha, is_hotfix)
        ) TO '{parquet}' (FORMAT parquet)""")
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA exports")
        con.execute("""CREATE TABLE exports.incidents AS SELECT * FROM (VALUES
            (101, 'payments', 'SEV1', '2026-02-01T09:40:00Z', '2026-02-01T10:40:00Z', 'p1', 'Checkout down'),
            (102, 'payments', 'SEV3', '2026-02-03T09:00:00Z', '2026-02-03T08:00:00Z', NULL, 'Slow')
        ) AS t(id, service, severity, started_at, resolved_at, caused_by_deployment, title)""")
    source = events_source(
        deployments={"table": str(parquet)},
        incidents={"table": f"duckdb:{database}:exports.incidents"},
    )
    with RawStore(tmp_path / "w.duckdb") as store:
        results = extract("events", source, store)
        deployments = rows(store, "events__deployments")
        incidents = rows(store, "events__incidents")
        rejected = rows(store, "events__rejected_rows")
        assert by_table(extract("events", source, store)) == {
            "events__deployments": 0, "events__incidents": 0, "events__rejected_rows": 0,
        }
    assert by_table(results) == {"events__deployments": 1, "events__incidents": 1, "events__rejected_rows": 2}
    (key, scope, payload), = deployments
    p1 = json.loads(payload)["_throughline"]
    assert (key, scope) == ("p1", str(parquet))
    assert p1["started_at"] == "2026-02-01T09:00:00+00:00" and p1["finished_at"] == "2026-02-01T09:30:00+00:00"
    assert p1["is_hotfix"] is True and p1["line"] == 1
    (key, scope, payload), = incidents
    i101 = json.loads(payload)["_throughline"]
    assert key == "101" and i101["caused_by_deployment"] == "p1" and i101["severity"] == "SEV1"
    assert i101["resolved_at"] == "2026-02-01T10:40:00+00:00"
    assert [k for k, _, _ in rejected] == [
        f"deployments:{parquet}:2", f"incidents:duckdb:{database}:exports.incidents:2",
    ]
    assert json.loads(rejected[0][2])["reason"] == "column environment: required but empty or missing; give it a value"
    assert json.loads(rejected[1][2])["reason"].startswith("column resolved_at: 2026-02-03T08:00:00+00:00 is before")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05T09:30:00Z", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05T11:30:00+02:00", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),
        ("2026-01-05 09:30:00", datetime(2026, 1, 5, 9, 30, tzinfo=UTC)),  # naive: UTC
        ("2026-01-05T04:30:00.5-05:00", datetime(2026, 1, 5, 9, 30, 0, 500000, tzinfo=UTC)),
    ],
)
def test_timestamps_are_iso_8601_and_naive_means_utc(text, expected):
    assert parse_utc(text) == expected


@pytest.mark.parametrize("text", ["2026-01-05", "05/01/2026 09:30", "yesterday", "2026-13-01T00:00:00Z"])
def test_what_is_not_a_timestamp_is_refused_with_the_fix(text):
    with pytest.raises(ValueError, match="2026-01-05T09:30:00Z"):
        parse_utc(text)


@pytest.mark.parametrize(
    ("text", "status"),
    [("Succeeded", "success"), ("OK", "success"), ("synced", "success"), ("Failure", "failure"),
     ("error", "failure"), ("rolled back", "rolled_back"), ("Rolled-Back", "rolled_back"),
     ("running", "in_progress"), ("canceled", "cancelled"), ("aborted", "cancelled")],
)
def test_status_synonyms(text, status):
    assert deployment_status(text) == status


def test_validate_reports_every_problem_of_a_row_at_once():
    checked, problems = validate(DEPLOYMENTS, {"service": "", "environment": "prod", "status": "meh",
                                               "started_at": "x", "sha": "v1.2", "is_rollback": "maybe"})
    assert [p.split(":")[0] for p in problems] == [
        "column service", "column started_at", "column status", "column sha", "column is_rollback",
    ]
    assert checked["environment"] == "prod" and checked["status"] is None
    _, problems = validate(DEPLOYMENTS, {"service": "web", "environment": "prod", "status": "ok", "version": "v1"})
    assert problems == ["columns started_at / finished_at: give at least one of them"]


def test_config_names_the_source_and_the_field():
    with pytest.raises(ConfigError) as error:
        parse_config({"sources": [
            {"type": "events", "name": "both", "deployments": {"path": "a", "table": "b.parquet"}},
            {"type": "events", "name": "none"},
            {"type": "events", "name": "badref", "incidents": {"table": "duckdb:x.duckdb"}},
        ]})
    message = str(error.value)
    assert "source 'both', field 'deployments': give either path" in message
    assert "source 'none', field '(the whole entry)': give deployments and/or incidents" in message
    assert "source 'badref', field 'incidents.table': 'duckdb:x.duckdb' is not a DuckDB table reference" in message
    ok = events_source(deployments={"path": "exports/argo"})
    assert ok.deployments.glob == ["*.csv", "*.jsonl"]
    assert ok.options.deployments.production_environments == ["production", "prod", "prd", "live"]


def test_the_raw_asset_reports_rejected_rows_in_its_metadata(tmp_path, folder, monkeypatch):
    """The Dagster multi-asset of the events group: 3 deployments and 5 rejected rows (see the first test)."""
    import dagster as dg

    from pipelines.raw_assets import build_raw_assets
    from pipelines.resources import ThroughlineResource

    config = tmp_path / "throughline.yml"
    config.write_text(f"sources:\n  - type: events\n    name: argo-export\n    deployments: {{path: '{folder}'}}\n")
    monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(tmp_path / "w.duckdb"))
    (asset,) = [a for a in build_raw_assets() if a.op.name == "extract_events__events"]
    result = dg.materialize([asset], resources={"throughline": ThroughlineResource(config_file=str(config))})
    assert result.success
    metadata = {
        m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node(asset.op.name)
    }
    assert metadata["raw/events__deployments"]["records"].value == 3
    assert metadata["raw/events__rejected_rows"]["records"].value == 5
    assert metadata["raw/events__incidents"]["records"].value == 0


def test_many_bad_rows_log_twenty_warnings_and_a_count(tmp_path, caplog):
    """25 rows with an unknown status: 20 warnings (lines 2..21), then one line for the other 5."""
    folder = tmp_path / "deploys"
    folder.mkdir()
    body = "".join(f"svc,prod,meh,2026-01-05T09:{i:02d}:00Z,abc1234\n" for i in range(25))
    (folder / "bad.csv").write_text("service,environment,status,started_at,sha\n" + body)
    with caplog.at_level(logging.WARNING, logger="connectors.events"), RawStore(tmp_path / "w.duckdb") as store:
        results = extract("events", events_source(deployments={"path": str(folder)}), store)
    assert by_table(results) == {"events__deployments": 0, "events__rejected_rows": 25}
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 21
    assert "deployments file bad.csv, line 21: column status" in warnings[19]
    assert warnings[20] == (
        "events source 'argo-export', deployments bad.csv: 5 more bad rows, all in raw.events__rejected_rows"
    )
