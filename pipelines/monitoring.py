"""Freshness checks and alert sensors for deployments that run the Dagster daemon (`make dev`).

The CLI (`throughline run`) runs without a daemon and alerts by itself after its run (operations/cli.py);
its runs carry the RUN_PID_TAG, which the failure sensor skips so nobody is told twice.
"""

import functools
import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from connectors.config import FreshnessConfig, load_config, settings_section, warehouse_path
from connectors.core.errors import ThroughlineError
from operations.alerts import Alert, run_problems, send_alert, stale_streams
from operations.processes import RUN_PID_TAG


@functools.cache
def freshness_limits() -> FreshnessConfig:
    """`freshness:` of throughline.yml, read once per process: the asset specs ask for it per raw stream and
    per mart, and dagster-dbt asks for a mart's spec again at every node a run builds (434 reads of the file in
    a demo night before). A changed limit shows when the definitions load again, in a new code server."""
    return settings_section(FreshnessConfig, "freshness")


def raw_freshness() -> dg.FreshnessPolicy:
    """Shown on every raw asset in the Dagster UI: stale once no run has materialized it for this long.

    Per-source limits (`freshness.sources`) apply to the alert (alert_on_stale_data): an asset holds
    every source of its type, so the UI shows the default limit. Read when the definitions load, like the
    schedule: credentials are not needed for it.
    """
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=freshness_limits().raw_hours))


def mart_freshness() -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=freshness_limits().marts_hours))


@dg.run_failure_sensor(
    name="alert_on_failed_run",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
    description="Sends one message naming the failed sources, assets and errors (alerts: in throughline.yml).",
)
def alert_on_failed_run(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    if RUN_PID_TAG in run.tags:
        return  # the CLI already alerted for its own run
    try:
        config = load_config()
    except ThroughlineError as exc:
        context.log.error(f"cannot alert: {exc}")
        return
    events = [entry.dagster_event for entry in context.instance.all_logs(run.run_id)]
    problems = run_problems(events, warehouse_path(), run.run_id)
    send_alert(Alert(f"Throughline: run {run.run_id[:8]} of job {run.job_name} failed", problems), config)


@dg.sensor(
    name="alert_on_stale_data",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Hourly: sources whose newest successful read is older than their freshness limit; alerts once "
    "per source until it is fresh again.",
)
def alert_on_stale_data(context: dg.SensorEvaluationContext):
    try:
        config = load_config()
        problems = stale_streams(warehouse_path(), config, datetime.now(UTC).replace(tzinfo=None))
    except ThroughlineError as exc:  # e.g. the warehouse is being written: look again next hour
        return dg.SkipReason(str(exc))
    alerted = set(json.loads(context.cursor)) if context.cursor else set()
    stale = {p.source for p in problems}
    new = [p for p in problems if p.source not in alerted]
    if new:
        send_alert(Alert("Throughline: stale data", new), config)
    context.update_cursor(json.dumps(sorted(stale)))
    return dg.SkipReason(f"{len(stale)} stale source(s), {len(new)} newly alerted")
