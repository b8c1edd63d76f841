"""`throughline` command: check a config, run the nightly job once, or run the self-contained demo."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from connectors.config import CONFIG_ENV_VAR, load_config
from connectors.core.errors import ThroughlineError
from pipelines.settings import PROJECT_ROOT, WAREHOUSE_ENV_VAR

DEMO_TOKEN_VAR = "THROUGHLINE_DEMO_TOKEN"
DEMO_CONFIG = """\
# Written by `make demo`: the simulator on loopback stands in for Jira Cloud and GitHub.
warehouse:
  path: {warehouse}
sources:
  - type: jira
    name: demo-jira
    base_url: {url}/jira
    auth:
      email: demo@example.com
      api_token: ${{{token_var}}}
    scope:
      projects: [PAY, CHK, PLAT]
    options:
      start_date: "2026-01-01"
  - type: github
    name: demo-github
    base_url: {url}/github
    auth:
      token: ${{{token_var}}}
    scope:
      org: acme
# <demo sources: add one block per simulated system above this line; {url}/<prefix> is its base URL>
"""


RUN_PID_TAG = "throughline/pid"
RUN_HOST_TAG = "throughline/host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_stale_runs(instance) -> list[str]:
    """Mark runs of this CLI whose process is gone as failed, and free their writer-pool slots.

    A run killed mid-way (SIGKILL, a closed laptop) stays STARTED and keeps its slot in the
    one-writer pool, so the next run would queue behind it for ever. Without a daemon nothing else
    notices; `make dev` has the daemon's run monitoring for the runs it launches.
    """
    import dagster as dg

    records = instance.get_run_records(
        dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED],
            tags={RUN_HOST_TAG: socket.gethostname()},
        )
    )
    released = []
    for record in records:
        run = record.dagster_run
        pid = int(run.tags.get(RUN_PID_TAG, "0") or 0)
        if pid and pid != os.getpid() and not _alive(pid):
            instance.report_run_failed(run, message=f"its process {pid} ended before the run did; marked failed by `throughline`")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            released.append(run.run_id)
    return released


def run_nightly(log_level: str = "INFO") -> None:
    """Execute the nightly job in this process, against the configured sources and warehouse."""
    import dagster as dg

    from pipelines.definitions import defs

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    for run_id in release_stale_runs(instance):
        print(f"run {run_id} was interrupted earlier: marked failed and its warehouse slot freed", file=sys.stderr)
    result = defs.resolve_job_def("nightly").execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        tags={RUN_PID_TAG: str(os.getpid()), RUN_HOST_TAG: socket.gethostname()},
    )
    if not result.success:
        failures = [
            event.step_failure_data.error.message.strip()
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data and event.step_failure_data.error
        ]
        raise ThroughlineError("nightly run failed:\n" + "\n".join(failures or ["see the Dagster logs above"]))


# Headline numbers per mart: (label, SQL over the mart). Only marts listed here get headlines;
# every mart gets its row count.
HEADLINES = {
    "work_items": [
        ("completed items", "SELECT count(*) FROM marts.work_items WHERE is_done"),
        ("median flow time (days)", "SELECT round(median(flow_time_hours) / 24, 1) FROM marts.work_items WHERE is_done"),
        ("p85 flow time (days)", "SELECT round(quantile_cont(flow_time_hours, 0.85) / 24, 1) FROM marts.work_items WHERE is_done"),
    ],
    "deployment_frequency_weekly": [
        ("production deployments", "SELECT sum(deployments) FROM marts.deployment_frequency_weekly"),
        (
            "production deployments per week, all services",
            "SELECT round(sum(deployments) / count(DISTINCT week_start), 2) FROM marts.deployment_frequency_weekly",
        ),
        ("failed deployments", "SELECT sum(failed_deployments) FROM marts.deployment_frequency_weekly"),
    ],
}


def summarize(warehouse: Path) -> str:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        marts = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1"
        ).fetchall()]
        lines = []
        for mart in marts:
            count = con.execute(f'SELECT count(*) FROM marts."{mart}"').fetchall()[0][0]
            lines.append(f"marts.{mart}: {count} rows")
            for label, sql in HEADLINES.get(mart, []):
                lines.append(f"    {label}: {con.execute(sql).fetchall()[0][0]}")
        return "\n".join(lines)
    finally:
        con.close()


def demo(args: argparse.Namespace) -> None:
    warehouse = Path(args.warehouse).resolve()
    workdir = warehouse.parent / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    url_file = Path(tempfile.mkdtemp()) / "simulator.url"
    simulator = subprocess.Popen(
        [sys.executable, "-m", "connectors.simulator", "--port", "0", "--seed", str(args.seed),
         "--scale", str(args.scale), "--url-file", str(url_file), "--exit-with-parent"],
        cwd=PROJECT_ROOT,
    )
    try:
        deadline = time.monotonic() + 120
        while not (url_file.exists() and url_file.read_text().strip()):
            if simulator.poll() is not None or time.monotonic() > deadline:
                raise ThroughlineError("the API simulator did not start; see its output above")
            time.sleep(0.1)
        url = url_file.read_text().strip()
        config_file = workdir / "throughline.yml"
        config_file.write_text(DEMO_CONFIG.format(warehouse=warehouse, url=url, token_var=DEMO_TOKEN_VAR))
        os.environ[CONFIG_ENV_VAR] = str(config_file)
        os.environ[WAREHOUSE_ENV_VAR] = str(warehouse)
        os.environ.setdefault(DEMO_TOKEN_VAR, "demo-token-not-secret")
        print(f"simulator at {url}; config {config_file}; warehouse {warehouse}", flush=True)
        started = time.monotonic()
        run_nightly(log_level="WARNING")
        print(f"\nnightly run finished in {time.monotonic() - started:.1f}s\n")
        print(summarize(warehouse))
    finally:
        # Stop what we started, by its PID, whatever happened above.
        simulator.terminate()
        try:
            simulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            simulator.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="throughline")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-config", help="validate throughline.yml (no request is made)")
    check.add_argument("path", nargs="?", help=f"config file (default: ${CONFIG_ENV_VAR} or ./throughline.yml)")
    sub.add_parser("run", help="run the nightly job once, now, in this process")
    demo_p = sub.add_parser("demo", help="load the simulated organisation and print the marts")
    demo_p.add_argument("--warehouse", default="warehouse/throughline.duckdb")
    demo_p.add_argument("--seed", type=int, default=7)
    demo_p.add_argument("--scale", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "check-config":
            config = load_config(args.path)
            print(f"ok: {len(config.sources)} source(s): " + ", ".join(f"{s.name} ({s.type})" for s in config.sources))
        elif args.command == "run":
            run_nightly()
        else:
            demo(args)
    except ThroughlineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
