"""Benchmark: the flow marts over a large Jira history, through dbt and as the same SQL run directly in DuckDB.

    .venv/bin/python -m benchmarks.flow_marts --issues 1000000 --histories 10     (make bench)

1. Writes a raw layer (the connectors' exact tables) with N issues and N x H changelog histories, each
   history one status change, built in DuckDB from API-shaped JSON templates.
2. Copies it twice. On copy A: `dbt seed` then `dbt run` of the flow marts and everything upstream of
   them, timed, peak memory of the dbt process measured. On copy B: the SQL dbt compiled for the same
   models, in dbt's execution order, run by one DuckDB process (CREATE TABLE/VIEW ... AS <compiled>).
3. Writes the timings, the ratio and the machine into benchmarks/RESULTS.md (section "Flow marts").

Seeds are loaded by dbt on both copies (their CSV loading is not the SQL under test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from connectors.config import ThroughlineConfig
from operations.dbt import DBT_EXECUTABLE, dbt_env

ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT = ROOT / "dbt_project"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
FLOW_MARTS = ["work_items", "work_item_state_intervals", "flow_metrics_weekly", "flow_metrics_monthly",
              "flow_load_daily", "sprint_predictability", "work_item_dependencies"]
SELECT = " ".join(f"+{mart}" for mart in FLOW_MARTS)

STATUSES = {  # id -> (name, category key, category id)
    "1": ("To Do", "new", 2), "3": ("In Progress", "indeterminate", 4), "10001": ("Blocked", "indeterminate", 4),
    "10002": ("In Review", "indeterminate", 4), "10003": ("Done", "done", 3), "10004": ("Won't Do", "done", 3),
}
# The ten status changes of an issue, by its final status: reopened work, reviews and a block.
PATHS = {
    "10003": ["3", "10002", "3", "10001", "3", "10002", "10003", "3", "10002", "10003"],
    "3": ["3", "10002", "3", "10001", "3", "10002", "3", "10001", "10002", "3"],
    "10004": ["3", "10001", "3", "10002", "3", "10001", "1", "3", "1", "10004"],
}


def _status_json(status_id: str) -> str:
    name, key, category = STATUSES[status_id]
    return json.dumps({"self": f"https://bench.atlassian.net/rest/api/3/status/{status_id}", "name": name,
                       "untranslatedName": name, "id": status_id,
                       "statusCategory": {"id": category, "key": key, "name": name}})


def build_raw(path: Path, issues: int, histories: int) -> dict[str, float]:
    """The raw layer of a Jira source `bench` with `issues` issues in 20 projects, `histories` changes each."""
    sys.path.insert(0, str(ROOT))
    from connectors.core.raw import RawStore
    from tests.dbt.warehouse import RAW_TABLES

    started = time.monotonic()
    with RawStore(path) as store:
        for table in RAW_TABLES:
            store.ensure_table(table)
    con = duckdb.connect(str(path))
    con.execute("SET preserve_insertion_order = false")
    con.execute("""INSERT INTO raw.jira__statuses
        SELECT 'bench', id, NULL, '*', NULL, payload::JSON, now()::TIMESTAMP FROM (VALUES {}) AS s(id, payload)
    """.format(", ".join(f"('{i}', '{_status_json(i).replace(chr(39), chr(39) * 2)}')" for i in STATUSES)))
    write_jira(con, 0, issues, histories)
    counts = con.execute(
        "SELECT (SELECT count(*) FROM raw.jira__issues), (SELECT count(*) FROM raw.jira__changelogs)"
    ).fetchall()[0]
    con.close()
    return {"seconds": time.monotonic() - started, "issues": counts[0], "histories": counts[1]}


def write_jira(con: duckdb.DuckDBPyConnection, first: int, last: int, histories: int, *,
               reopen_every: int = 0, extracted_at: str = "now()", recent_to: str | None = None) -> None:
    """Issues `first` .. `last - 1` with `histories` status changes each (see build_raw).

    `reopen_every` > 0: instead, every issue i of the range with i % reopen_every == 37 % reopen_every is
    changed again: one more history (its final status -> In Progress) and its issue row re-read in that
    status (the connector upserts both, with a newer extracted_at).
    `recent_to` (an SQL timestamp): the changes are dated like a nightly's, in the days before it: new
    issues created 8 to 5 days before it (their ten histories end by then), a reopening 1 day before it.
    Without it, issue i is created at 2024-01-01 + i * 40 s and reopened one step after its last history.
    """
    paths = ", ".join(f"('{final}', {steps!r})" for final, steps in PATHS.items())
    # Issue i: project P<i % 20>, created 2024-01-01 + i * 40 s; its final status by i % 20 (16 done,
    # 3 in progress, 1 won't do); history k at created + (k + 1) * (4 + i % 7) hours.
    reopened = f"i % {reopen_every} = {37 % reopen_every}" if reopen_every else "false"
    created = "TIMESTAMP '2024-01-01' + to_seconds(i * 40)"
    reopened_at = "NULL::TIMESTAMP"
    if recent_to and reopen_every:
        reopened_at = f"({recent_to} - INTERVAL 1 DAY)"
    elif recent_to:
        created = f"({recent_to} - INTERVAL 8 DAY + to_seconds((i - {first}) * {3 * 86400 // max(last - first, 1)}))"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE bench_issues AS
        SELECT
            i,
            (10000000 + i)::VARCHAR AS issue_id,
            'P' || (i % 20) AS project,
            {created} AS created,
            {reopened_at} AS reopened_at,
            CASE WHEN i % 20 < 16 THEN '10003' WHEN i % 20 < 19 THEN '3' ELSE '10004' END AS final_status,
            4 + i % 7 AS step_hours
        FROM range({first}, {last}) AS r(i)
        WHERE {reopened} OR {reopen_every} = 0
    """)
    con.execute(f"CREATE OR REPLACE TEMP TABLE bench_paths AS SELECT * FROM (VALUES {paths}) AS p(final_status, steps)")
    status_names = ", ".join(f"'{i}': '{STATUSES[i][0].replace(chr(39), chr(39) * 2)}'" for i in STATUSES)
    status_json = ", ".join(f"'{i}': '{_status_json(i).replace(chr(39), chr(39) * 2)}'" for i in STATUSES)
    ts = "strftime({}, '%Y-%m-%dT%H:%M:%S.000+0000')"
    # a reopened issue's extra history is number `histories`, one step after its last one
    extra = 1 if reopen_every else 0
    current = "'3'" if reopen_every else "final_status"
    con.execute(f"""
        INSERT OR REPLACE INTO raw.jira__issues
        SELECT
            'bench', issue_id, NULL, project, {ts.format('updated')},
            ('{{"id":"' || issue_id || '","key":"' || project || '-' || i || '","fields":{{'
             || '"summary":"Bench item ' || i || '","issuetype":{{"id":"10001","name":"'
             || CASE i % 5 WHEN 0 THEN 'Bug' WHEN 1 THEN 'Task' ELSE 'Story' END || '","subtask":false}},'
             || '"status":' || (MAP {{{status_json}}})[{current}] || ','
             || '"project":{{"id":"' || (20000 + i % 20) || '","key":"' || project || '","name":"Project ' || project || '"}},'
             || '"created":"' || {ts.format('created')} || '","updated":"' || {ts.format('updated')} || '",'
             || '"labels":[],"components":[],"priority":{{"id":"3","name":"Medium"}},"customfield_10016":'
             || (i % 8) || '}},"_throughline":{{"storyPointsFields":["customfield_10016"],"epicLinkField":null}}}}')::JSON,
            {extracted_at}::TIMESTAMP
        FROM (SELECT *, coalesce(reopened_at, created + to_hours(({histories} + {extra}) * step_hours)) AS updated
              FROM bench_issues)
    """)
    steps = (f"SELECT {histories} AS k" if reopen_every else f"SELECT * FROM range({min(histories, 10)}) AS r(k)")
    con.execute(f"""
        INSERT OR REPLACE INTO raw.jira__changelogs
        SELECT
            'bench', (issue_id::BIGINT * 100 + k)::VARCHAR, issue_id, project, NULL,
            ('{{"id":"' || (issue_id::BIGINT * 100 + k) || '","created":"' || {ts.format('changed')}
             || '","items":[{{"field":"status","fieldtype":"jira","fieldId":"status","from":"' || from_status
             || '","fromString":"' || (MAP {{{status_names}}})[from_status] || '","to":"' || to_status
             || '","toString":"' || (MAP {{{status_names}}})[to_status] || '"}}]}}')::JSON,
            {extracted_at}::TIMESTAMP
        FROM (
            SELECT
                bench_issues.*, k,
                CASE WHEN k >= {histories} AND reopened_at IS NOT NULL THEN reopened_at
                    ELSE created + to_hours((k + 1) * step_hours) END AS changed,
                CASE WHEN k = 0 THEN '1' WHEN k >= {histories} THEN final_status ELSE steps[k] END AS from_status,
                CASE WHEN k >= {histories} THEN '3' ELSE steps[k + 1] END AS to_status
            FROM bench_issues
            INNER JOIN bench_paths USING (final_status)
            CROSS JOIN ({steps}) AS r
        )
    """)


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one child process (GNU time's maximum resident set size)."""
    peak_file = Path(env.get("TMPDIR", "/tmp")) / f"bench-peak-{os.getpid()}"
    started = time.monotonic()
    process = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(peak_file), *cmd], env=env, cwd=DBT_PROJECT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    if process.returncode != 0:
        sys.stdout.write(process.stdout.decode(errors="replace")[-4000:])
        raise SystemExit(f"{' '.join(cmd[:3])} failed")
    peak_kib = int(peak_file.read_text().split()[-1])
    peak_file.unlink()
    return seconds, peak_kib // 1024


def _dbt(warehouse: Path, work: Path) -> tuple[str, list[str], dict[str, str]]:
    """The dbt executable, its common arguments (target/ and logs/ under `work`) and its environment."""
    # DuckDB's settings as a nightly run hands them over (throughline.yml's defaults: memory limit, spill
    # folder beside the warehouse, threads), for dbt and for the direct run alike.
    env = {**os.environ, "THROUGHLINE_WAREHOUSE": str(warehouse), **dbt_env(ThroughlineConfig(), warehouse)}
    common = ["--profiles-dir", str(DBT_PROJECT), "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    return str(Path(sys.executable).parent / DBT_EXECUTABLE), common, env  # the dbt the nightly runs


def dbt_run(warehouse: Path, work: Path, select: str | None = SELECT, *, seed: bool = True,
            extra: tuple[str, ...] = ()) -> dict[str, float]:
    """`dbt run` of `select` (None: every model), timed, with the peak RSS of the dbt process."""
    dbt, common, env = _dbt(warehouse, work)
    if seed:
        _run([dbt, "seed", *common], env)
    selection = ["--select", select] if select else []
    seconds, peak = _run([dbt, "run", *selection, *extra, *common], env)
    return {"seconds": seconds, "peak_mib": peak}


DIRECT = """
import json, os, sys, time, duckdb
warehouse, order_file = sys.argv[1], sys.argv[2]
con = duckdb.connect(warehouse)
for var, value in os.environ.items():  # THROUGHLINE_DUCKDB_MEMORY_LIMIT -> SET memory_limit, as dbt gets them
    if var.startswith("THROUGHLINE_DUCKDB_"):
        con.execute(f"SET {var.removeprefix('THROUGHLINE_DUCKDB_').lower()} = '{value}'")
started = time.monotonic()
for relation, kind, sql in json.load(open(order_file)):
    con.execute(f"CREATE OR REPLACE {kind} {relation} AS {sql}")
print(time.monotonic() - started)
"""


def direct_run(warehouse: Path, work: Path, select: str | None = SELECT) -> dict[str, float]:
    """The models dbt ran, in its order, as plain CREATE ... AS <compiled SQL> in one DuckDB process.

    Incremental models compile to their full-refresh SELECT here (the tables do not exist yet), so this
    is the SQL of a full build.
    """
    dbt, common, env = _dbt(warehouse, work)
    _run([dbt, "seed", *common], env)  # the seeds, and a manifest with compiled SQL for the selection
    selection = ["--select", select or "resource_type:model"]
    _run([dbt, "compile", *selection, *common], env)
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    results = json.loads((work / "target" / "run_results.json").read_text())
    statements = []
    for result in results["results"]:
        node = manifest["nodes"][result["unique_id"]]
        if node["resource_type"] != "model":
            continue
        kind = "VIEW" if node["config"]["materialized"] == "view" else "TABLE"
        statements.append((node["relation_name"], kind, node["compiled_code"]))
    # compile runs the nodes in dependency order too, but on several threads: sort by dependency depth
    depth: dict[str, int] = {}

    def level(uid: str) -> int:
        if uid not in depth:
            parents = [p for p in manifest["nodes"].get(uid, {}).get("depends_on", {}).get("nodes", [])
                       if p in manifest["nodes"] and manifest["nodes"][p]["resource_type"] == "model"]
            depth[uid] = 1 + max((level(p) for p in parents), default=0)
        return depth[uid]

    by_relation = {manifest["nodes"][r["unique_id"]]["relation_name"]: level(r["unique_id"]) for r in results["results"]
                   if manifest["nodes"][r["unique_id"]]["resource_type"] == "model"}
    statements.sort(key=lambda s: by_relation[s[0]])
    for schema in sorted({s[0].rsplit(".", 1)[0] for s in statements}):
        duckdb.connect(str(warehouse)).execute(f"CREATE SCHEMA IF NOT EXISTS {schema}").close()
    order_file = work / "direct_order.json"
    order_file.write_text(json.dumps(statements))
    seconds, peak = _run([sys.executable, "-c", DIRECT, str(warehouse), str(order_file)], env)
    return {"seconds": seconds, "peak_mib": peak, "models": len(statements)}


def _slowest_models(run_results: Path, top: int = 5) -> str:
    results = json.loads(run_results.read_text())["results"]
    ranked = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:top]
    return ", ".join(f"{r['unique_id'].rsplit('.', 1)[-1]} {r['execution_time']:.1f} s" for r in ranked)


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, duckdb {duckdb.__version__}"


def write_results(section: str, heading: str = "## Flow marts") -> None:
    """Replace the section that starts with `heading` (or append it) in benchmarks/RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nWritten by the scripts in benchmarks/ (`make bench`); each section is replaced when its benchmark runs again.\n"
    start = text.find("\n" + heading)
    if start != -1:
        end = text.find("\n## ", start + 1)
        text = text[:start] + (text[end:] if end != -1 else "")
    RESULTS.write_text(text.rstrip("\n") + "\n\n" + section)


def fresh_warehouse(work: Path, name: str) -> Path:
    """An empty `work`/`name`/throughline.duckdb path; `work` is emptied when `name` is the raw layer."""
    if name == "raw":
        shutil.rmtree(work, ignore_errors=True)
    (work / name).mkdir(parents=True)
    return work / name / "throughline.duckdb"  # always this file name: the compiled SQL names the catalog


def copy_warehouse(warehouse: Path, work: Path, name: str) -> Path:
    copy = fresh_warehouse(work, name)
    shutil.copy(warehouse, copy)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--histories", type=int, default=10, help="status changes per issue (at most 10)")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "out" / "flow"))
    args = parser.parse_args()
    work = Path(args.work)
    raw = fresh_warehouse(work, "raw")
    built = build_raw(raw, args.issues, args.histories)
    print(f"raw: {built['issues']} issues, {built['histories']} histories in {built['seconds']:.1f} s", flush=True)
    copies = {name: copy_warehouse(raw, work, name) for name in ("dbt", "direct")}
    direct = direct_run(copies["direct"], work / "direct")
    print(f"direct SQL: {direct['seconds']:.1f} s, peak {direct['peak_mib']} MiB", flush=True)
    through_dbt = dbt_run(copies["dbt"], work / "dbt")
    print(f"dbt run: {through_dbt['seconds']:.1f} s, peak {through_dbt['peak_mib']} MiB", flush=True)
    slowest = _slowest_models(work / "dbt" / "target" / "run_results.json")
    check = duckdb.connect(str(copies["dbt"]), read_only=True)
    done = check.execute("SELECT count(*) FILTER (WHERE is_done), count(*) FROM marts.work_items").fetchall()[0]
    check.close()
    section = f"""## Flow marts (issue 6)

{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.
Raw layer: {built['issues']:,} Jira issues, {built['histories']:,} changelog histories (one status change
each), written in {built['seconds']:.0f} s. Models: the {len(FLOW_MARTS)} flow marts and everything upstream
({direct['models']} models: staging views, intermediate and mart tables).

| run | seconds | peak RSS (MiB) |
|---|---|---|
| `dbt run --select {SELECT}` | {through_dbt['seconds']:.1f} | {through_dbt['peak_mib']} |
| the same compiled SQL, one DuckDB process | {direct['seconds']:.1f} | {direct['peak_mib']} |
| ratio dbt / direct | {through_dbt['seconds'] / direct['seconds']:.2f} | |

Slowest models in the dbt run: {slowest}.

`marts.work_items` after the dbt run: {done[1]:,} items, {done[0]:,} done. Peak RSS of each process as GNU
`time` reports it (dbt: the `dbt run` process with its DuckDB; direct: the Python process running the SQL).
"""
    write_results(section)
    print(section)


if __name__ == "__main__":
    main()
