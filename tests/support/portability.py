"""The PostgreSQL portability check: build the dbt project in PostgreSQL and compare it with the DuckDB build.

Used by tests/e2e/test_dbt_postgres.py and by hand while porting a model:

    python -m tests.support.portability --warehouse W --database D [--copy] [--select SEL] [--vars JSON]
                                        [--engine duckdb]

builds `SEL` (default: everything) with `dbt build --target postgres` into database D of the server named by
THROUGHLINE_PG_* (copying W's raw tables first with --copy), then compares every relation it built with
the same relation of the DuckDB warehouse W, row for row (floats to 9 significant digits). With
--engine duckdb it rebuilds SEL with DuckDB in a copy of W instead and compares that with W.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

from connectors.config import DBT_PROJECT_DIR

SCHEMAS = ("staging", "intermediate", "marts", "seeds")


def demo_env(demo_warehouse: Path) -> dict[str, str]:
    """What a user's run against the demo's warehouse has in its environment: the demo's config (its deployment
    rules and services are the build's vars) and the token that config names (no real secret)."""
    from operations.cli import DEMO_TOKEN_VAR

    return {"THROUGHLINE_CONFIG": str(demo_warehouse.parent / "demo" / "throughline.yml"),
            DEMO_TOKEN_VAR: "demo-token-not-secret"}


def demo_vars(demo_warehouse: Path) -> dict[str, Any]:
    """The dbt vars the demo's config gives a build (operations/dbt.py dbt_vars), as `throughline run` and
    `copy-raw --build` pass them."""
    from connectors.config import load_config
    from operations.dbt import dbt_vars

    env = demo_env(demo_warehouse)
    return dbt_vars(load_config(env["THROUGHLINE_CONFIG"], env={**os.environ, **env}))


def dbt_postgres(args: list[str], env: dict[str, str], work_dir: Path) -> subprocess.CompletedProcess:
    """Run dbt against the `postgres` target in a child process (the DuckDB adapter stays out of it)."""
    return dbt_target("postgres", args, env, work_dir)


def _target_options(target: str, work_dir: Path) -> list[str]:
    return ["--target", target, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")]


def dbt_target(target: str, args: list[str], env: dict[str, str], work_dir: Path) -> subprocess.CompletedProcess:
    """Run dbt against `target` of profiles.yml in a child process, its target and logs in `work_dir`."""
    dbt = Path(sys.executable).parent / "dbt"
    return subprocess.run([str(dbt), *args, *_target_options(target, work_dir)],
                          env={**os.environ, **env}, capture_output=True, text=True, check=False)


def dbt_target_runs(target: str, runs: list[list[str]], env: dict[str, str], work_dir: Path
                    ) -> list[subprocess.CompletedProcess]:
    """dbt_target for each of `runs` (dbt arguments) in turn, all in one child process, until one fails: one
    result each for those that ran, its stdout that command's output (stderr is the process's). On the `spark`
    target the runs share one local Spark (tests/support/dbt_runs.py) instead of starting a JVM each."""
    from tests.support.dbt_runs import MARK

    process = subprocess.run(
        [sys.executable, "-m", "tests.support.dbt_runs", json.dumps([[*args, *_target_options(target, work_dir)]
                                                                      for args in runs])],
        cwd=DBT_PROJECT_DIR.parent, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    results, output = [], []
    for line in process.stdout.splitlines(keepends=True):
        if line.startswith(MARK):
            code = int(line.split()[1])
            results.append(subprocess.CompletedProcess(runs[len(results)], code, "".join(output), process.stderr))
            output = []
        else:
            output.append(line)
    if len(results) < len(runs) and all(result.returncode == 0 for result in results):
        # the process ended inside a command (a crash, say): that command's result is the process's exit
        results.append(subprocess.CompletedProcess(runs[len(results)], process.returncode or 1, "".join(output),
                                                   process.stderr))
    return results


def _normal(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (float, decimal.Decimal)):
        number = float(value)
        if math.isnan(number) or number == 0:
            return number
        return float(f"{number:.9g}")
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (list, tuple)):
        return tuple(_normal(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def _sort_key(row: tuple) -> tuple:
    # Floats to 6 digits for ordering only, so that two builds' rows line up even when a sum's last bits
    # differ (values were already rounded to 9 digits by _normal, hence rel_tol 1e-8 in _same).
    return tuple((0, "") if v is None else (1, f"{v:.6g}") if isinstance(v, float) else (2, str(v)) for v in row)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-8, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _close(left: Counter, right: Counter) -> bool:
    """Equal up to float rounding: summing in another order may change a result's last bits (and so its 9th
    digit, when the true value is a decimal half), which is not a portability difference."""
    a = sorted(left.elements(), key=_sort_key)
    b = sorted(right.elements(), key=_sort_key)
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))


def _rows(cursor, sql: str, ignore: frozenset[str] = frozenset()) -> tuple[list[str], Counter]:
    cursor.execute(sql)
    names = [d[0].lower() for d in cursor.description]
    kept = [i for i, name in enumerate(names) if name not in ignore]
    return [names[i] for i in kept], Counter(tuple(_normal(row[i]) for i in kept) for row in cursor.fetchall())


def compare(warehouse: Path, other_connection, relations: list[tuple[str, str]],
            ignore: frozenset[str] = frozenset()) -> list[str]:
    """Differences between the DuckDB warehouse and another build (PostgreSQL, or a DuckDB copy) for each
    (schema, name), leaving out the columns named in ``ignore``; empty when equal."""
    problems: list[str] = []
    duck = duckdb.connect(str(warehouse), read_only=True)
    try:
        with other_connection.cursor() as pg:
            for schema, name in relations:
                duck_cursor = duck.cursor()
                try:
                    d_names, d_rows = _rows(duck_cursor, f'select * from "{schema}"."{name}"', ignore)
                except duckdb.Error as exc:
                    problems.append(f"{schema}.{name}: not in the DuckDB warehouse ({exc})")
                    continue
                finally:
                    duck_cursor.close()
                p_names, p_rows = _rows(pg, f'select * from "{schema}"."{name}"', ignore)
                if d_names != p_names:
                    problems.append(f"{schema}.{name}: columns differ: duckdb {d_names} postgres {p_names}")
                    continue
                if d_rows != p_rows and not _close(d_rows, p_rows):
                    only_d = list((d_rows - p_rows).elements())[:3]
                    only_p = list((p_rows - d_rows).elements())[:3]
                    problems.append(
                        f"{schema}.{name}: {sum(d_rows.values())} rows in duckdb, {sum(p_rows.values())} in postgres; "
                        f"{sum((d_rows - p_rows).values())} only in duckdb, e.g. {only_d}; "
                        f"{sum((p_rows - d_rows).values())} only in postgres, e.g. {only_p}; columns {d_names}"
                    )
    finally:
        duck.close()
    return problems


def built_relations(connection) -> list[tuple[str, str]]:
    schemas = ", ".join(f"'{s}'" for s in SCHEMAS)
    cur = connection.cursor()
    try:
        cur.execute(
            f"select table_schema, table_name from information_schema.tables where table_schema in ({schemas}) "
            "order by 1, 2"
        )
        return [(s, t) for s, t in cur.fetchall()]
    finally:
        cur.close()


def duckdb_check(reference: Path, select: str | None, variables: str | None, work_dir: Path) -> int:
    """Rebuild `select` with the current SQL in a copy of the reference warehouse; compare with the reference."""
    import shutil

    copy = work_dir / "rebuilt.duckdb"
    shutil.copy(reference, copy)
    dbt = Path(sys.executable).parent / "dbt"
    args = ["build"] + (["--vars", variables] if variables else []) + (["--select", select] if select else [])
    result = subprocess.run(
        [str(dbt), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")],
        env={**os.environ, "THROUGHLINE_WAREHOUSE": str(copy)}, capture_output=True, text=True, check=False,
    )
    print(result.stdout[-6000:])
    print(result.stderr[-3000:], file=sys.stderr)
    rebuilt = duckdb.connect(str(copy), read_only=True)
    try:
        problems = compare(reference, rebuilt, built_relations(rebuilt))
    finally:
        rebuilt.close()
    for problem in problems:
        print("DIFF", problem)
    print(f"{len(problems)} relation(s) differ from the reference; dbt exit {result.returncode}")
    return 0 if result.returncode == 0 and not problems else 1


def main(argv: list[str] | None = None) -> int:
    import psycopg2

    from operations.postgres_copy import connection_settings, copy_raw

    parser = argparse.ArgumentParser(prog="python -m tests.support.portability")
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--database", required=True)
    parser.add_argument("--copy", action="store_true", help="copy the warehouse's raw tables first")
    parser.add_argument("--upstream", action="store_true",
                        help="copy every staging/intermediate/marts/seeds relation of --warehouse into PostgreSQL "
                             "as a table first, so --select can build one model on the DuckDB results upstream")
    parser.add_argument("--select", default=None)
    parser.add_argument("--vars", default=None, help="dbt vars as JSON (the DuckDB build's)")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--engine", choices=["postgres", "duckdb"], default="postgres",
                        help="duckdb: rebuild in a copy of --warehouse and compare with it (a regression check)")
    args = parser.parse_args(argv)
    if args.engine == "duckdb":
        work_dir = args.work_dir or Path(f"/tmp/throughline-portability-duckdb-{args.database}")
        work_dir.mkdir(parents=True, exist_ok=True)
        return duckdb_check(args.warehouse, args.select, args.vars, work_dir)
    env = {"THROUGHLINE_PG_DATABASE": args.database}
    settings = connection_settings({**os.environ, **env})
    connection = psycopg2.connect(**settings)
    try:
        if args.copy:
            copied = copy_raw(args.warehouse, connection)
            print(f"copied {len(copied)} tables, {sum(t.rows for t in copied)} rows")
        if args.upstream:
            copied = copy_raw(args.warehouse, connection, SCHEMAS, include_views=True)
            print(f"copied {len(copied)} upstream relations as tables")
        work_dir = args.work_dir or Path(f"/tmp/throughline-portability-{args.database}")
        work_dir.mkdir(parents=True, exist_ok=True)
        dbt_args = ["build"] + (["--vars", args.vars] if args.vars else []) + (
            ["--select", args.select] if args.select else [])
        result = dbt_postgres(dbt_args, env, work_dir)
        print(result.stdout[-6000:])
        print(result.stderr[-3000:], file=sys.stderr)
        problems = compare(args.warehouse, connection, built_relations(connection))
        for problem in problems:
            print("DIFF", problem)
        print(f"{len(problems)} relation(s) differ; dbt exit {result.returncode}")
        return 0 if result.returncode == 0 and not problems else 1
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
