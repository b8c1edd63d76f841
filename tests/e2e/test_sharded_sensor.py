"""The sharded mode's nightly sensor (pipelines/sharded_assets.py, nightly_after_landing) over runs of a
Dagster instance, and the guard against scope values that cannot be partition keys.

Landing runs are made by hand and moved through their states with run events at chosen times, so every
expectation (which round a nightly covers, its tags) is worked out here, without waiting on a clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from connectors.partitions import NOT_IN_PARTITION_KEYS
from pipelines.sharded_assets import LANDING_FAILED_TAG, LANDING_RUNS_TAG, build_sharded_assets, nightly_after_landing

ROOT = Path(__file__).resolve().parents[2]
JOBS = ["landing_github__scopes", "landing_jira__scopes"]
T0 = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)


@dg.op
def noop():
    pass


def landing_job(name: str) -> dg.JobDefinition:
    return dg.GraphDefinition(name=name, node_defs=[noop]).to_job()


class Runs:
    """Landing runs in an instance, each moved to a state by the run event the executor would send."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance

    def create(self, job: str, partition: str, queued: bool = True) -> str:
        """A run as the schedule submits it: queued (the coordinator's queue), or not started."""
        from dagster._core.remote_origin import (
            InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin,
        )
        from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

        # A queued run names the code location the daemon would launch it from; never launched here.
        location = InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__), location_name="test")
        origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job)
        run = self.instance.create_run_for_job(
            landing_job(job), tags={"dagster/partition": partition}, remote_job_origin=origin,
            status=dg.DagsterRunStatus.QUEUED if queued else None)
        return run.run_id

    def event(self, run_id: str, event: dg.DagsterEventType, minutes: int) -> None:
        job = self.instance.get_run_by_id(run_id).job_name
        self.instance.handle_run_event(run_id, dg.DagsterEvent(event_type_value=event.value, job_name=job),
                                       update_timestamp=T0 + timedelta(minutes=minutes))

    def start(self, run_id: str, minutes: int) -> None:
        self.event(run_id, dg.DagsterEventType.PIPELINE_START, minutes)

    def end(self, run_id: str, minutes: int, ok: bool = True) -> None:
        self.event(run_id, dg.DagsterEventType.PIPELINE_SUCCESS if ok else dg.DagsterEventType.PIPELINE_FAILURE,
                   minutes)


class Sensor:
    """Evaluations in a row, each continuing from the cursor the one before left, as the daemon does."""

    def __init__(self, instance: dg.DagsterInstance):
        self.instance = instance
        self.sensor = nightly_after_landing(JOBS)
        self.cursor: str | None = None

    def tick(self) -> list[dg.RunRequest]:
        data = self.sensor.evaluate_tick(dg.build_sensor_context(instance=self.instance, cursor=self.cursor))
        if data.cursor is not None:
            self.cursor = data.cursor
        return list(data.run_requests or [])


def ours(request: dg.RunRequest) -> dict[str, str]:
    """The request's tags without those Dagster adds (the sensor's name)."""
    return {k: v for k, v in request.tags.items() if not k.startswith("dagster/")}


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def test_one_nightly_per_round_once_no_landing_run_is_in_progress(instance):
    runs, sensor = Runs(instance), Sensor(instance)
    assert sensor.tick() == []  # nothing has landed yet

    # A round: three partitions queued at 02:00; two run, one still waits in the queue.
    web = runs.create("landing_github__scopes", "tiny-github:acme/web")
    checkout = runs.create("landing_github__scopes", "tiny-github:acme/checkout")
    flow = runs.create("landing_jira__scopes", "tiny-jira:FLOW")
    runs.start(web, 1)
    runs.start(checkout, 1)
    assert sensor.tick() == []  # none finished
    runs.end(web, 5)
    assert sensor.tick() == []  # one finished, but checkout runs and FLOW is queued
    runs.end(checkout, 6, ok=False)
    assert sensor.tick() == []  # FLOW is still queued
    runs.start(flow, 7)
    assert sensor.tick() == []  # ... and now running
    runs.end(flow, 9)

    requests = sensor.tick()
    assert len(requests) == 1
    # the failed partition does not hold the merge back, and the nightly says it failed
    assert ours(requests[0]) == {LANDING_RUNS_TAG: "3",
                                LANDING_FAILED_TAG: "landing_github__scopes[tiny-github:acme/checkout]"}
    assert json.loads(sensor.cursor) == {"end": (T0 + timedelta(minutes=9)).timestamp(), "ids": [flow]}
    first_key = requests[0].run_key

    # The same round is not merged twice, however often the sensor looks.
    assert sensor.tick() == []
    assert sensor.tick() == []

    # The next round: one partition, re-run by hand; a new nightly with another run key.
    again = runs.create("landing_github__scopes", "tiny-github:acme/checkout")
    assert sensor.tick() == []  # queued
    runs.start(again, 31)
    assert sensor.tick() == []
    runs.end(again, 33)
    requests = sensor.tick()
    assert len(requests) == 1
    assert ours(requests[0]) == {LANDING_RUNS_TAG: "1"}  # it succeeded: no failed tag
    assert requests[0].run_key != first_key
    assert sensor.tick() == []


def test_runs_ending_at_the_same_instant_as_the_covered_one_are_not_lost(instance):
    runs, sensor = Runs(instance), Sensor(instance)
    first = runs.create("landing_jira__scopes", "tiny-jira:FLOW")
    runs.start(first, 1)
    runs.end(first, 5)
    assert [r.tags[LANDING_RUNS_TAG] for r in sensor.tick()] == ["1"]
    # a run of another job ends at the very same time, after the sensor looked
    second = runs.create("landing_github__scopes", "tiny-github:acme/web")
    runs.start(second, 2)
    runs.end(second, 5)
    assert [r.tags[LANDING_RUNS_TAG] for r in sensor.tick()] == ["1"]
    assert sensor.tick() == []


def test_other_jobs_runs_are_not_landing_runs(instance):
    runs, sensor = Runs(instance), Sensor(instance)
    nightly = runs.create("nightly", "", queued=False)
    runs.start(nightly, 1)
    assert sensor.tick() == []  # a running nightly is no landing run in progress ...
    runs.end(nightly, 2)
    assert sensor.tick() == []  # ... nor a finished one


def sharded_config(tmp_path: Path, scopes: str) -> Path:
    path = tmp_path / "throughline.yml"
    path.write_text(f"""extraction: {{mode: sharded}}
sources:
  - type: jira
    name: acme-jira
    base_url: https://acme.atlassian.net
    auth: {{email: a@acme.example, api_token: secret}}
    scope: {{projects: {scopes}}}
""")
    return path


def test_dagsters_partition_key_rule_is_the_one_checked():
    from dagster._core.definitions.partitions.utils.base import INVALID_PARTITION_SUBSTRINGS

    assert tuple(INVALID_PARTITION_SUBSTRINGS) == NOT_IN_PARTITION_KEYS


def test_a_scope_that_cannot_be_a_partition_key_is_a_config_error(tmp_path, monkeypatch):
    from connectors.config import load_config
    from connectors.core.errors import ConfigError

    expected = ("source 'acme-jira': scope value 'OPS...OLD' cannot be a Dagster partition key (it contains '...'); "
                "rename it in throughline.yml, or use `extraction: {mode: single}`")
    path = sharded_config(tmp_path, '[FLOW, "OPS...OLD"]')
    with pytest.raises(ConfigError) as raised:  # check-config and every run
        load_config(path)
    assert str(raised.value) == f"{path} is not valid:\n  field '(top level)': extraction.mode sharded: {expected}"
    monkeypatch.setenv("THROUGHLINE_CONFIG", str(path))
    with pytest.raises(ConfigError) as raised:  # definitions load, before Dagster's own check
        build_sharded_assets()
    assert str(raised.value) == f"extraction.mode sharded: {expected}"
    # the single mode has no partitions: the same scope is fine there
    single = path.read_text().replace("sharded", "single")
    path.write_text(single)
    assert [s.scope.projects for s in load_config(path).sources] == [["FLOW", "OPS...OLD"]]


def test_check_config_names_the_source_and_the_fix(tmp_path):
    path = sharded_config(tmp_path, '["A...B"]')
    out = subprocess.run([sys.executable, "-m", "operations.cli", "check-config", str(path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "source 'acme-jira': scope value 'A...B' cannot be a Dagster partition key" in out.stderr
    assert "extraction: {mode: single}" in out.stderr


def test_definitions_of_the_sharded_mode_have_the_sensor_not_the_nightly_schedule(tmp_path):
    path = sharded_config(tmp_path, "[FLOW, OPS]")
    code = ("from pipelines.definitions import defs\n"
            "print(sorted(s.name for s in defs.sensors), sorted(s.name for s in defs.schedules),"
            " defs.resolve_sensor_def('nightly_after_landing').job_name)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "THROUGHLINE_CONFIG": str(path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "['alert_on_failed_run', 'alert_on_stale_data', 'nightly_after_landing'] "
        "['compact_schedule', 'landing_jira__scopes_schedule', 'landing_jira__sources_schedule'] nightly")
