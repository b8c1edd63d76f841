"""The Dagster instance of a `throughline run` keeps its SQLite storage's connections (operations/dagster_storage.py):
every event stored and read back as with Dagster's own connection handling, on one connection per database file
instead of one per query."""

from __future__ import annotations

import time
from pathlib import Path
from sqlite3 import dbapi2

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry

from operations.dagster_storage import keep_storage_connections


def _materializations(run_id: str, count: int):
    for number in range(count):
        yield EventLogEntry(
            error_info=None, level="debug", user_message="", run_id=run_id, timestamp=time.time(),
            step_key="dbt_models", job_name="nightly",
            dagster_event=DagsterEvent(DagsterEventType.ASSET_MATERIALIZATION.value, "nightly",
                                       event_specific_data=StepMaterializationData(
                                           dg.AssetMaterialization(asset_key=["marts", f"mart_{number % 7}"]))))


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        yield instance


def _store(instance, run_id: str, count: int, monkeypatch) -> list[str]:
    """Store ``count`` materializations of run ``run_id``: the files of the SQLite connections that opened."""
    opened = []
    connect = dbapi2.connect  # what SQLAlchemy's SQLite dialect calls
    monkeypatch.setattr(dbapi2, "connect", lambda *args, **kwargs: opened.append(args) or connect(*args, **kwargs))
    for entry in _materializations(run_id, count):
        instance.event_log_storage.store_event(entry)
    monkeypatch.setattr(dbapi2, "connect", connect)
    return sorted(Path(args[0]).name for args in opened)


def test_events_are_stored_and_read_back_as_before_on_kept_connections(instance, monkeypatch):
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    storage = instance.event_log_storage
    assert type(storage) is SqliteEventLogStorage  # Dagster's default storage, which the change applies to
    # Dagster's own: a new engine and connection for each query, several per event (the run's file, the index)
    assert len(_store(instance, "run-before", 300, monkeypatch)) >= 600
    keep_storage_connections(instance)
    keep_storage_connections(instance)  # twice is once more of the same
    # kept: one connection for the new run's file (and one more that setting the new file up opens) and one for
    # the index
    assert _store(instance, "run-after", 300, monkeypatch) == ["index.db", "run-after.db", "run-after.db"]

    for run_id in ("run-before", "run-after"):
        records = storage.get_records_for_run(run_id).records
        assert len(records) == 300
        assert {r.event_log_entry.dagster_event.asset_key.path[-1] for r in records} == {f"mart_{n}" for n in range(7)}
    # the index (another database file) holds both runs' materializations, the latest of each asset
    latest = instance.get_latest_materialization_event(dg.AssetKey(["marts", "mart_6"]))
    assert latest.run_id == "run-after"
