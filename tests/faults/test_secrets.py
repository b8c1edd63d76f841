"""Secrets given through the environment never appear in logs, exception text, raw tables or Dagster run
metadata: a real Dagster run, in process, on a private instance whose storage is on disk, with a fault that
fails one step (GitHub's token revoked after its first page) and passing faults on the other (Jira); then
every place the run wrote is searched for every form of every secret."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import dagster as dg
import duckdb

from connectors.core.raw import RawStore
from pipelines.raw_assets import build_raw_assets
from pipelines.resources import ThroughlineResource
from tests.faults.targets import (
    BY_NAME,
    GITHUB_SECRET,
    JIRA_EMAIL,
    JIRA_SECRET,
    SECRETS,
    assert_matches_truth,
    assert_partial_load_is_sound,
    config_yaml,
    simulator,
)

STEPS = ("extract_jira__issues", "extract_github__pull_requests")
# Every spelling a secret could leak in: as given, and as the Authorization headers carry them.
NEEDLES = (
    JIRA_SECRET,
    GITHUB_SECRET,
    base64.b64encode(f"{JIRA_EMAIL}:{JIRA_SECRET}".encode()).decode(),
    *(s for s in SECRETS.values() if s not in (JIRA_SECRET, GITHUB_SECRET)),
)


def _warehouse_text(path: Path) -> str:
    """Every row of every table of the warehouse (raw data, cursor state, ETags, run report) as text:
    DuckDB compresses strings on disk, so the file's bytes cannot be searched."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        return "\n".join(str(con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()) for s, t in tables)
    finally:
        con.close()


def _files_text(root: Path) -> str:
    """Every file under ``root`` (the instance's SQLite event log, run storage, compute logs), as bytes."""
    return "\n".join(p.read_bytes().decode("latin-1") for p in sorted(root.rglob("*")) if p.is_file())


def test_secrets_stay_out_of_logs_errors_tables_and_dagster_metadata(tmp_path, monkeypatch, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "dagster_home"
    warehouse = tmp_path / "w.duckdb"
    jira, github = BY_NAME["jira"], BY_NAME["github"]
    with simulator() as sim:
        config = tmp_path / "throughline.yml"
        config.write_text(config_yaml(sim.url, ("jira", "github")))
        monkeypatch.setenv("THROUGHLINE_CONFIG", str(config))
        monkeypatch.setenv("THROUGHLINE_WAREHOUSE", str(warehouse))
        for var, secret in SECRETS.items():
            monkeypatch.setenv(var, secret)
        sim.faults.add(jira.list_path, "server_error", times=1, status=500)
        sim.faults.add(jira.child_path, "truncated", times=1)
        sim.faults.add(github.list_path, "unauthorized", times=None, after=1)
        assets = [a for a in build_raw_assets() if a.node_def.name in STEPS]
        assert len(assets) == 2
        home.mkdir()
        with dg.instance_for_test(temp_dir=str(home)) as instance:
            result = dg.materialize(assets, resources={"throughline": ThroughlineResource()}, instance=instance,
                                    raise_on_error=False)
            records = instance.get_records_for_run(result.run_id).records
            stored_events = "\n".join(dg.serialize_value(r.event_log_entry) for r in records)
        with RawStore(warehouse) as store:
            assert_matches_truth(store, sim, jira)  # the Jira step loaded everything through its faults
            assert_partial_load_is_sound(store, sim, github)

    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["extract_github__pull_requests"]
    error = failures[0].step_failure_data.error
    message = error.message + "".join(error.stack) + str(error.cause or "")
    assert "source 'f-github'" in message and "GET /github/repos/acme/checkout/pulls" in message
    assert "check the credentials" in message
    # the run metadata searched below is real: the Jira step's materializations carry its counts
    materialized = [e for e in result.all_events if e.is_step_materialization]
    assert any("by_scope" in e.event_specific_data.materialization.metadata for e in materialized)

    captured = capfd.readouterr()
    haystacks = {
        "exception text": message,
        "logs": caplog.text + captured.out + captured.err,
        "run events and metadata": stored_events + "\n".join(map(repr, result.all_events)),
        "Dagster instance files": _files_text(home),
        "warehouse tables": _warehouse_text(warehouse),
    }
    assert all(haystacks.values())
    leaks = [(where, needle[:6]) for where, text in haystacks.items() for needle in NEEDLES if needle in text]
    assert leaks == []
