"""`throughline` command: check a config, run the nightly job once, or run the self-contained demo."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from connectors.config import (
    CONFIG_ENV_VAR, DBT_PROJECT_DIR, DEMO_CONFIG_MARK, PROJECT_ROOT, WAREHOUSE_ENV_VAR, load_config, warehouse_path,
)
from connectors.core.errors import ThroughlineError
from operations.dagster_storage import keep_storage_connections
from operations.processes import (
    RUN_HOST_TAG, RUN_PID_TAG, alive, hold_warehouse, kill_marked, start_reaper, stop_reaper,
)

DEMO_TOKEN_VAR = "THROUGHLINE_DEMO_TOKEN"
DEMO_CONFIG = DEMO_CONFIG_MARK + """: the simulator on loopback stands in for every source.
warehouse:
  path: {warehouse}
# The night the simulated history stands at, not the day the demo runs: each night adds its forecasts.
forecasts:
  as_of: {as_of}
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
    options:
      # incidents are paged in PagerDuty and Opsgenie (below): issues labelled `incident` are not read again
      incident_labels: []
      deployments:
        # acme/payments-api-worker deploys the Payments service too: one service over two repositories.
        services:
          "acme/payments-api-worker": acme/payments-api
  - type: linear
    name: demo-linear
    base_url: {url}/linear
    auth:
      api_key: ${{{token_var}}}
    options:
      start_date: "2026-01-01"
  - type: gitlab
    name: demo-gitlab
    base_url: {url}/gitlab
    auth:
      token: ${{{token_var}}}
    scope:
      groups: [acme]
    options:
      start_date: "2026-01-01"
  - type: jenkins
    name: demo-jenkins
    base_url: {url}/jenkins
    auth:
      user: demo
      api_token: ${{{token_var}}}
    options:
      deployments:
        # Jenkins runs the deployments GitHub records too: the same services, so each one counts once.
        services:
          "acme/payments-api/*": acme/payments-api
          "acme/checkout-web/*": acme/checkout-web
          "acme/platform-infra/*": acme/platform-infra
          "acme/payments-api-worker/*": acme/payments-api
  - type: circleci
    name: demo-circleci
    base_url: {url}/circleci
    auth:
      token: ${{{token_var}}}
    scope:
      org: gh/acme
    options:
      deployments:
        # CircleCI runs the deployments GitHub records too: the same services, so each one counts once.
        services:
          "gh/acme/payments-api": acme/payments-api
          "gh/acme/checkout-web": acme/checkout-web
          "gh/acme/platform-infra": acme/platform-infra
          "gh/acme/payments-api-worker": acme/payments-api
  - type: outcomes
    name: demo-outcomes
    # The simulated organisation's KPI series, OKRs and team surveys: CSV files the simulator writes beside
    # the warehouse (demo_outcomes_dir), one folder per kind.
    kpis: {{path: {warehouse}-outcomes/kpis}}
    key_results: {{path: {warehouse}-outcomes/key_results}}
    key_result_values: {{path: {warehouse}-outcomes/key_result_values}}
    surveys: {{path: {warehouse}-outcomes/surveys}}
  - type: pagerduty
    name: demo-pagerduty
    base_url: {url}/pagerduty
    auth:
      token: ${{{token_var}}}
    options:
      start_date: "2026-01-01"
      # Payments (payments-api, payments-api-worker) and Checkout are paged through PagerDuty
      service_ids: [PVRXYM3, PFHP7S6, P77RRKZ]
      deployments:
        services:
          "payments-api*": acme/payments-api
          "checkout-web": acme/checkout-web
  - type: opsgenie
    name: demo-opsgenie
    base_url: {url}/opsgenie
    auth:
      api_key: ${{{token_var}}}
    options:
      start_date: "2026-01-01"
      # Platform is paged through Opsgenie (its service acme/platform-infra)
      services: [19de02c4-7b98-4102-b700-adfcd1e1b5c7]
  - type: bitbucket
    name: demo-bitbucket
    base_url: {url}/bitbucket
    auth:
      username: demo@example.com
      token: ${{{token_var}}}
    scope:
      # the Mobile team's code and Pipelines (simulator/bitbucket_api.py)
      workspace: acme
    options:
      start_date: "2026-01-01"
  - type: azure_devops
    name: demo-azure-devops
    base_url: {url}/azure_devops
    auth:
      token: ${{{token_var}}}
    scope:
      # the Data team's Boards, Repos and Pipelines (simulator/azure_devops_api.py)
      organization: acme
      projects: [Data]
    options:
      start_date: "2026-01-01"
# <demo sources: add one block per simulated system above this line; {url}/<prefix> is its base URL>
"""


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
        if pid and pid != os.getpid() and not alive(pid):
            # Its dbt (or any child) may outlive it with the warehouse open, if its reaper died with it.
            kill_marked(pid)
            instance.report_run_failed(run, message=f"its process {pid} ended before the run did; marked failed by `throughline`")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            released.append(run.run_id)
    return released


def run_nightly(log_level: str = "INFO") -> None:
    """Execute the nightly job in this process, against the configured sources and warehouse.

    The run owns the warehouse from start to end (a second run stops at once), and its children die with it.
    """
    with hold_warehouse(warehouse_path(), "run"):
        start_reaper()
        try:
            _run_nightly(log_level)
        finally:
            stop_reaper()


def _run_nightly(log_level: str) -> None:
    import dagster as dg

    from pipelines.definitions import defs

    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    keep_storage_connections(instance)  # PostgreSQL and SQLite: not one connection per query
    for run_id in release_stale_runs(instance):
        print(f"run {run_id} was interrupted earlier: marked failed and its warehouse slot freed", file=sys.stderr)
    result = defs.resolve_job_def("nightly").execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        tags={RUN_PID_TAG: str(os.getpid()), RUN_HOST_TAG: socket.gethostname()},
    )
    alert_after_run(result)
    if not result.success:
        failures = [
            _DAGSTER_FAILURE.sub("", event.step_failure_data.error.message.strip())
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data and event.step_failure_data.error
        ]
        raise ThroughlineError("nightly run failed:\n" + "\n".join(failures or ["see the Dagster logs above"]))


# The class name Dagster puts before a step's own failure description: noise in a one-screen error.
_DAGSTER_FAILURE = re.compile(r"^dagster\._core\.definitions\.events\.Failure: ")


def alert_after_run(result) -> None:
    """One message for a failed run (steps and mart tests), one for sources past their freshness limit.

    The daemon's sensors do this for runs launched from Dagster; a CLI run has no daemon watching it.
    """
    from datetime import UTC, datetime

    from operations.alerts import Alert, run_problems, send_alert, stale_streams

    config = load_config()
    problems = run_problems(result.all_events, warehouse_path(), result.run_id)
    if problems or not result.success:
        send_alert(Alert(f"Throughline: nightly run {result.run_id[:8]} failed", problems), config)
    try:
        stale = stale_streams(warehouse_path(), config, datetime.now(UTC).replace(tzinfo=None))
    except ThroughlineError as exc:
        print(f"freshness not checked: {exc}", file=sys.stderr)
        return
    if stale:
        send_alert(Alert("Throughline: stale data", stale), config)


def run_history(args: argparse.Namespace) -> None:
    from datetime import UTC, datetime, timedelta

    from connectors.core.raw import RawStore
    from operations.history import load_history

    config = load_config()
    named = [s for s in config.sources if s.name == args.source]
    if not named:
        raise ThroughlineError(
            f"no source named '{args.source}' in the configuration; its sources are: "
            + ", ".join(s.name for s in config.sources)
        )
    try:
        since = datetime.strptime(args.since, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ThroughlineError(f"--since '{args.since}' is not a date; write it as YYYY-MM-DD") from None
    with RawStore(warehouse_path()) as store:
        done = load_history(
            named[0], store, since=since, window=timedelta(days=args.window_days), max_windows=args.max_windows,
            on_progress=lambda progress: print(progress.line(), flush=True),
        )
    if not done:
        print(f"{args.source}: history since {args.since} is complete; the nightly run continues from it")


# Headline numbers per mart: (label, SQL over the mart). Only marts listed here get headlines;
# every mart gets its row count.
HEADLINES = {
    "work_items": [
        # flow items only: epics and initiatives have their own marts (docs/METRICS.md#flow-items)
        ("completed items", "SELECT count(*) FROM marts.work_items WHERE is_done AND is_flow_item"),
        ("median flow time (days)",
         "SELECT round(median(flow_time_hours) / 24, 1) FROM marts.work_items WHERE is_done AND is_flow_item"),
        ("p85 flow time (days)",
         "SELECT round(quantile_cont(flow_time_hours, 0.85) / 24, 1) FROM marts.work_items WHERE is_done AND is_flow_item"),
    ],
    "dora_metrics_monthly": [
        (
            "change failure rate, all months (change failures / deployment attempts)",
            "SELECT round(sum(change_failures) / nullif(sum(deployment_attempts), 0), 3) FROM marts.dora_metrics_monthly "
            "WHERE grouping_level = 'overall'",
        ),
        (
            "incidents, of them unattributed",
            "SELECT sum(incidents) || ', ' || sum(unattributed_incidents) FROM marts.dora_metrics_monthly "
            "WHERE grouping_level = 'overall'",
        ),
    ],
    "pull_request_cycle_times": [
        (
            "median change lead time (hours, first commit -> production)",
            "SELECT round(median(lead_time_hours), 1) FROM marts.pull_request_cycle_times",
        ),
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


def copy_raw_to_spark(build: bool = False) -> None:
    """`throughline copy-raw --target spark`: the dbt sources as Parquet files where Spark reads them (docs/DEPLOY.md)."""
    from operations.spark_copy import PORTED_SELECTION, copy_raw, spark_dir

    started = time.monotonic()
    target_dir = spark_dir(warehouse_path())
    copied = copy_raw(warehouse_path(), target_dir)
    rows = sum(t.rows for t in copied)
    print(f"copied {len(copied)} tables ({rows} rows) to {target_dir / 'sources'} in {time.monotonic() - started:.1f}s",
          flush=True)
    _build_on("spark", build, PORTED_SELECTION)


def copy_raw_to_postgres(build: bool = False) -> None:
    """`throughline copy-raw`: the dbt sources from the DuckDB warehouse into PostgreSQL (docs/DEPLOY.md)."""
    import psycopg2

    from operations.postgres_copy import connection_settings, copy_raw

    settings = connection_settings()
    try:
        connection = psycopg2.connect(**settings)
    except psycopg2.OperationalError as exc:
        # psycopg2's message names host, port and user, never the password.
        raise ThroughlineError(
            f"copy-raw: cannot connect to PostgreSQL at {settings['host']}:{settings['port']} as {settings['user']} "
            f"(database {settings['dbname']}): {str(exc).strip().splitlines()[0]}; check THROUGHLINE_PG_*"
        ) from None
    try:
        started = time.monotonic()
        copied = copy_raw(warehouse_path(), connection)
    finally:
        connection.close()
    rows = sum(t.rows for t in copied)
    print(f"copied {len(copied)} tables ({rows} rows) to {settings['host']}:{settings['port']}/{settings['dbname']} "
          f"in {time.monotonic() - started:.1f}s", flush=True)
    _build_on("postgres", build)


def _build_on(target: str, build: bool, selection: tuple[str, ...] | list[str] = ()) -> None:
    """After copy-raw: `dbt build --target <target>` (of `selection`) with throughline.yml's vars, or say how."""
    if not build:
        print(f"next: throughline copy-raw --target {target} --build, "
              f"or dbt build --target {target} with the vars of throughline.yml")
        return
    from operations.dbt import dbt_build_args

    dbt = Path(sys.executable).parent / "dbt"
    # Its own target folder: dbt rewrites its target's manifest.json and partial_parse.msgpack as it parses, and
    # target/ holds the DuckDB project's last parse, where the next nightly may start from (pipelines/dbt_assets.py).
    command = [str(dbt), *dbt_build_args(load_config(), unit_tests=True), *selection, "--target", target,
               "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
               "--target-path", str(DBT_PROJECT_DIR / "target" / target)]
    if subprocess.run(command, check=False).returncode != 0:
        raise ThroughlineError(f"dbt build --target {target} failed; its output above names the model")


def demo_outcomes_dir(warehouse: Path) -> Path:
    """Where the demo's simulator writes the outcome files DEMO_CONFIG's `outcomes` source reads."""
    return Path(f"{warehouse}-outcomes")


def write_demo_config(workdir: Path, warehouse: Path, url: str, env, as_of: str) -> Path:
    """The demo's throughline.yml for the simulator at ``url`` serving the night of ``as_of``, and the environment
    (``env``) that selects it."""
    config_file = workdir / "throughline.yml"
    config_file.write_text(DEMO_CONFIG.format(warehouse=warehouse, url=url, token_var=DEMO_TOKEN_VAR, as_of=as_of))
    env[CONFIG_ENV_VAR] = str(config_file)
    env[WAREHOUSE_ENV_VAR] = str(warehouse)
    env.setdefault(DEMO_TOKEN_VAR, "demo-token-not-secret")
    return config_file


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def demo(args: argparse.Namespace) -> None:
    """The simulated organisation through the nightly job. Quiet by default: progress per source and stream,
    one line per build phase, the report and the log file's path on the terminal; everything else (every dbt
    node, the simulator, Dagster) goes to the log. ``--verbose`` puts it all on the terminal."""
    warehouse = Path(args.warehouse).resolve()
    workdir = warehouse.parent / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    log_file = workdir / "demo.log"
    with _terminal_and_log(log_file, verbose=args.verbose) as say:
        say(f"demo: history up to {args.as_of}, seed {args.seed}, scale {args.scale}; full log: {log_file}")
        try:
            _demo(args, warehouse, workdir, say)
        finally:
            say(f"full log: {log_file}")


@contextmanager
def _terminal_and_log(log_file: Path, verbose: bool) -> Iterator[Callable[[str], None]]:
    """A function that prints to the terminal; unless verbose, file descriptors 1 and 2 (this process's
    prints and logging, and every child's output: dbt, the simulator) go to ``log_file`` meanwhile."""
    if verbose:
        yield lambda line: print(line, flush=True)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    with open(log_file, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)

        def say(line: str) -> None:
            terminal.write(line + "\n")
            print(line, flush=True)  # the log reads as the whole story too

        try:
            yield say
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()


def demo_horizon(warehouse: Path, as_of: str, seed: int, scale: int, say: Callable[[str], None]) -> str:
    """The horizon of the demo world the night of ``as_of`` serves (simulator.generator.horizon_for).

    The demo's warehouse remembers its world (demo/world.json beside it): a later night in that world serves it
    a day further on, so the warehouse holds one history whose nights add up (forecast_history gains a snapshot
    each). A night the world cannot serve (past its horizon, before its last night, another seed or scale)
    starts the next world in a fresh warehouse; the old one is kept as <warehouse>.previous."""
    import json

    world_file = warehouse.parent / "demo" / "world.json"
    if warehouse.exists() and world_file.exists():
        world = json.loads(world_file.read_text())
        horizon, last = world["horizon"], world["last_as_of"]
        if (world["seed"], world["scale"]) == (seed, scale) and last <= as_of <= horizon:
            world["last_as_of"] = as_of
            world_file.write_text(json.dumps(world, indent=2) + "\n")
            say(f"demo: the warehouse's world (seed {seed}, nights up to {horizon}), last night {last}")
            return horizon
        previous = warehouse.with_name(warehouse.name + ".previous")
        say(f"demo: the warehouse holds the world of seed {world['seed']} scale {world['scale']} with nights "
            f"up to {horizon} (last night {last}); {as_of} is not one of them: a new world in a fresh warehouse, "
            f"the old one moved to {previous}")
        for suffix in ("", ".wal"):
            old = Path(f"{warehouse}{suffix}")
            if old.exists():
                os.replace(old, Path(f"{previous}{suffix}"))
    # The simulator is a folder of the checkout, not of the installed package: ask it, as the demo runs it.
    horizon = subprocess.run([sys.executable, "-m", "simulator", "--horizon-for", as_of], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
    world_file.parent.mkdir(parents=True, exist_ok=True)
    world_file.write_text(json.dumps({"seed": seed, "scale": scale, "horizon": horizon, "last_as_of": as_of},
                                     indent=2) + "\n")
    return horizon


def _demo(args: argparse.Namespace, warehouse: Path, workdir: Path, say: Callable[[str], None]) -> None:
    from operations.run_report import progress_to

    horizon = demo_horizon(warehouse, args.as_of, args.seed, args.scale, say)
    url_file = Path(tempfile.mkdtemp()) / "simulator.url"
    simulator = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--seed", str(args.seed),
         "--scale", str(args.scale), "--as-of", args.as_of, "--horizon", horizon, "--url-file", str(url_file),
         "--exit-with-parent", "--outcomes-dir", str(demo_outcomes_dir(warehouse))],
        cwd=PROJECT_ROOT,
    )
    try:
        say("simulator: generating the organisation's history (about a minute)")
        deadline = time.monotonic() + 300
        while not (url_file.exists() and url_file.read_text().strip()):
            if simulator.poll() is not None or time.monotonic() > deadline:
                raise ThroughlineError("the API simulator did not start; its output is in the log")
            time.sleep(0.1)
        url = url_file.read_text().strip()
        config_file = write_demo_config(workdir, warehouse, url, os.environ, args.as_of)
        say(f"simulator at {url}; config {config_file}; warehouse {warehouse}")
        say(f"extract: {len(load_config().sources)} sources, one line per source and stream as it lands")
        started = time.monotonic()
        with progress_to(say):
            run_nightly(log_level="WARNING")
        say(f"nightly run finished in {time.monotonic() - started:.1f}s\n")
        say(summarize(warehouse))
        from operations.publish import PARQUET_DIR, PUBLISHED_FILE, published_dir

        out = published_dir(warehouse)
        say(f"\nfor BI tools (docs/BI.md): {out / PUBLISHED_FILE} and {out / PARQUET_DIR}/<mart>/; "
            "`make dashboards` builds the dashboards from them")
    finally:
        stop(simulator)  # what we started, by its PID, whatever happened above


# `make dev` without a config of the user's own: the simulator on this fixed port stands in for the sources.
DEV_SIMULATOR_PORT = 8765


def dev(args: argparse.Namespace) -> int:
    """`make dev`: the Dagster UI in the foreground. Without a config of the user's own it opens on the demo's
    (the simulator started here, its PID recorded, stopped by that PID when the UI stops); its schedules and
    run-launching sensors are then stopped (pipelines/settings.py), and a nightly run from the UI reruns the demo."""
    from connectors.config import has_own_config

    simulator = None
    env = dict(os.environ)
    if not has_own_config():
        warehouse = Path(args.warehouse).resolve()
        workdir = warehouse.parent / "demo"
        workdir.mkdir(parents=True, exist_ok=True)
        url = f"http://127.0.0.1:{args.simulator_port}"
        horizon = demo_horizon(warehouse, args.as_of, args.seed, 1, lambda line: print(line, flush=True))
        simulator = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--port", str(args.simulator_port), "--seed", str(args.seed),
             "--as-of", args.as_of, "--horizon", horizon, "--exit-with-parent",
             "--outcomes-dir", str(demo_outcomes_dir(warehouse))],
            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
        )
        (workdir / "simulator.pid").write_text(f"{simulator.pid}\n")
        config_file = write_demo_config(workdir, warehouse, url, env, args.as_of)
        print(f"no config of your own: the UI opens on the demo's ({config_file}), the simulator at {url} "
              f"(PID {simulator.pid}); schedules stay stopped until throughline.yml exists", flush=True)
    dagster = subprocess.Popen([str(Path(sys.executable).parent / "dagster"), "dev", "-w",
                                str(PROJECT_ROOT / "workspace.yaml"), "--port", str(args.port)],
                               env=env, cwd=PROJECT_ROOT, preexec_fn=_default_sigint)
    # A SIGTERM to this process stops dagster dev (by its PID) and then the simulator, below.
    signal.signal(signal.SIGTERM, lambda *_: dagster.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return dagster.wait()
            except KeyboardInterrupt:
                # Ctrl-C reached dagster dev too (same process group): let it shut its webserver and daemon down.
                continue
    finally:
        if simulator is not None:
            stop(simulator)


def _default_sigint() -> None:
    """In the child before it starts: a shell that starts `make dev &` ignores SIGINT for it, the child inherits
    that, and dagster dev maps SIGTERM onto its SIGINT handler, so it would ignore both and outlive this
    process. With SIGINT back at its default, Python turns it (and so SIGTERM) into a clean shutdown."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _utc_today() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).date().isoformat()


def _day(text: str) -> str:
    from datetime import date

    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"--as-of wants a date as YYYY-MM-DD, not {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="throughline")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check-config", help="validate throughline.yml (no request is made)")
    check.add_argument("path", nargs="?", help=f"config file (default: ${CONFIG_ENV_VAR} or ./throughline.yml)")
    sub.add_parser("run", help="run the nightly job once, now, in this process")
    history_p = sub.add_parser(
        "history", help="first load of a large source, one time window at a time (resumable, with progress)"
    )
    history_p.add_argument("source", help="the source's name in throughline.yml")
    history_p.add_argument("--since", required=True, help="oldest date to load, YYYY-MM-DD (UTC)")
    history_p.add_argument("--window-days", type=float, default=30.0, help="days per window (default 30)")
    history_p.add_argument("--max-windows", type=int, default=None, help="stop after this many windows")
    sub.add_parser("compact", help="rewrite the warehouse into a fresh file, trimming the run report")
    copy_p = sub.add_parser(
        "copy-raw",
        help="copy the raw tables and run report into PostgreSQL (THROUGHLINE_PG_*), for `dbt build --target postgres`; "
             "--target spark writes them as Parquet under THROUGHLINE_SPARK_DIR, for `dbt build --target spark`",
    )
    copy_p.add_argument("--target", choices=["postgres", "spark"], default="postgres",
                        help="where the marts are built (default postgres)")
    copy_p.add_argument("--build", action="store_true",
                        help="then build the marts there: dbt build --target <target> with throughline.yml's vars")
    doctor_p = sub.add_parser(
        "doctor", help="check the config, reach every source with its credentials, check the warehouse"
    )
    doctor_p.add_argument("path", nargs="?", help=f"config file (default: ${CONFIG_ENV_VAR} or ./throughline.yml)")
    demo_p = sub.add_parser("demo", help="load the simulated organisation and print the marts")
    demo_p.add_argument("--warehouse", default="warehouse/throughline.duckdb")
    demo_p.add_argument("--seed", type=int, default=7)
    demo_p.add_argument("--scale", type=int, default=1)
    demo_p.add_argument("--as-of", type=_day, default=_utc_today(), metavar="YYYY-MM-DD",
                        help="the simulated history ends the day before this date (default: today, UTC)")
    demo_p.add_argument("--verbose", action="store_true",
                        help="print everything (every dbt node, Dagster's log) instead of progress and the report")
    dev_p = sub.add_parser("dev", help="the Dagster UI (make dev); on the demo's config when there is no throughline.yml")
    dev_p.add_argument("--warehouse", default="warehouse/throughline.duckdb")
    dev_p.add_argument("--seed", type=int, default=7)
    dev_p.add_argument("--as-of", type=_day, default=_utc_today(), metavar="YYYY-MM-DD")
    dev_p.add_argument("--simulator-port", type=int, default=DEV_SIMULATOR_PORT)
    dev_p.add_argument("--port", type=int, default=3000, help="the UI's port (default 3000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "check-config":
            from connectors.config import check_config

            # What the run will open: THROUGHLINE_WAREHOUSE wins over warehouse.path (connectors/config.py).
            config = check_config(args.path, warehouse=os.environ.get(WAREHOUSE_ENV_VAR))
            print(f"ok: {len(config.sources)} source(s): " + ", ".join(f"{s.name} ({s.type})" for s in config.sources))
        elif args.command == "run":
            from connectors.config import check_config

            # Every config mistake, one line each, before the first request (as check-config reports them).
            check_config(warehouse=os.environ.get(WAREHOUSE_ENV_VAR))
            run_nightly()
        elif args.command == "history":
            with hold_warehouse(warehouse_path(), "history"):
                run_history(args)
        elif args.command == "compact":
            from operations.compact import compact

            with hold_warehouse(warehouse_path(), "compact"):
                print(compact(warehouse_path(), run_report_days=load_config().retention.run_report_days).line())
        elif args.command == "copy-raw":
            (copy_raw_to_spark if args.target == "spark" else copy_raw_to_postgres)(build=args.build)
        elif args.command == "dev":
            return dev(args)
        elif args.command == "doctor":
            from operations.doctor import diagnose, report

            text, code = report(diagnose(args.path))
            print(text)
            return code
        else:
            demo(args)
    except ThroughlineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
