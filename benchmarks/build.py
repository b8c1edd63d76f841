"""Benchmark P3 (build at size) and P4 (incremental build), issue 10.

    .venv/bin/python -m benchmarks.build --issues 1000000          (make bench-build runs this tier ...)
    .venv/bin/python -m benchmarks.build --issues 3000000          (... and this one: time should grow linearly)

1. Writes a raw layer in the connectors' exact tables, built in DuckDB SQL from API-shaped JSON: Jira
   (N issues, 10 status-change histories each: benchmarks/flow_marts.py), GitHub (0.3 N pull requests
   with 3 commits and 2 reviews each, their merge commits on the default branch, N workflow runs with 2
   jobs each, a production deployment per 10 merged pull requests of a repository with its statuses and
   compare commits).
2. Copies it twice. Copy A: `dbt seed` then `dbt run` of every model (P3, timed, peak RSS of the dbt
   process). Copy B: the SQL dbt compiled for the same models, run in dependency order by one DuckDB
   process (the ratio is what dbt itself costs).
3. P4 on copy A: `dbt run` again at once with nothing new read (the night after a backfill: the full build took
   the whole load in, so the incremental models take nothing of it again); then 1% new and changed data (new
   issues with their histories, 1% of the issues reopened by one more history, new pull requests, runs and
   deployments), then
   `dbt run` again: the incremental models rebuild only what the new raw rows touch. Timed against the full
   build. With --verify, a `dbt run --full-refresh` on a copy of that warehouse must give the same rows in
   every flow and DORA mart (EXCEPT ALL both ways).
4. Writes the sections "Build at size (P3)" and "Incremental (P4)" of benchmarks/RESULTS.md (one tier's: the
   last run's) and the tier's figures into benchmarks/summary.json (keys "P3" and "P4", tier "1M" / "3M").

Tests are not run: `dbt build` adds them, and their cost is the data tests' (unique, not_null) scans,
not the models'.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from benchmarks.flow_marts import (
    DBT_PROJECT, ROOT, _slowest_models, build_raw, copy_warehouse, dbt_run, direct_run, fresh_warehouse, machine,
    write_jira, write_results,
)
from benchmarks.summary import update_summary
from operations.unchanged_nodes import exclude_args, plan_build, record_build_inputs

REPOS = 50
PR_SHARE = 0.3  # pull requests per issue
TS = [
    "work_items", "work_item_state_intervals", "flow_metrics_weekly", "flow_metrics_monthly", "flow_load_daily",
    "sprint_predictability", "work_item_dependencies", "deployments", "deployment_changes",
    "pull_request_cycle_times", "deployment_frequency_weekly", "dora_metrics_weekly", "dora_metrics_monthly",
]

TS = "strftime({}, '%Y-%m-%dT%H:%M:%SZ')"
API = "https://api.github.com/repos/"


def write_github(con: duckdb.DuckDBPyConnection, prs: tuple[int, int], runs: tuple[int, int],
                 extracted_at: str = "now()") -> None:
    """Pull requests prs[0] .. prs[1] - 1 (and the deployments of their batches) and runs runs[0] .. runs[1] - 1.

    PR p: repo svc-<p % 50>, number p // 50 + 1, opened 2024-01-01 + p * 130 s, its 3 commits 3, 2 and 1 h
    before, reviewed (comment, approval) 1 and 2 h after; 9 of 10 merged 2 + p % 48 h after opening.
    Deployment d ships the 10 PRs p = (d // 50) * 500 + k * 50 + d % 50 of its repo (k = 0..9), 50 h after
    the last one opened; 1 in 20 fails. Run j: repo svc-<j % 50>, at 2024-01-01 + j * 40 s, jobs build and test.
    """
    repo = "'bench-org/svc-' || ({} % {})".format("{}", REPOS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE bench_prs AS
        SELECT
            p,
            (500000000 + p)::VARCHAR AS pr_id,
            {repo.format('p')} AS repo,
            p // {REPOS} + 1 AS number,
            TIMESTAMP '2024-01-01' + to_seconds(p * 130) AS opened,
            CASE WHEN p % 10 <> 0 THEN TIMESTAMP '2024-01-01' + to_seconds(p * 130) + to_hours(2 + p % 48) END AS merged,
            md5('merge-' || p) AS merge_sha,
            'dev' || (p % 200) AS author
        FROM range({prs[0]}, {prs[1]}) AS r(p)
    """)
    con.execute(f"""
        INSERT OR REPLACE INTO raw.github__pull_requests
        SELECT 'bench', pr_id, NULL, repo, {TS.format('coalesce(merged, opened)')},
            ('{{"id":' || pr_id || ',"number":' || number || ',"state":"' || CASE WHEN merged IS NULL THEN 'open' ELSE 'closed' END
             || '","title":"Bench change ' || p || '","user":{{"login":"' || author || '"}},"created_at":"' || {TS.format('opened')}
             || '","updated_at":"' || {TS.format('coalesce(merged, opened)')} || '","closed_at":'
             || coalesce('"' || {TS.format('merged')} || '"', 'null') || ',"merged_at":'
             || coalesce('"' || {TS.format('merged')} || '"', 'null') || ',"merge_commit_sha":"' || merge_sha
             || '","draft":false,"head":{{"ref":"feature-' || p || '","sha":"' || md5('c-' || p || '-2')
             || '"}},"base":{{"ref":"main","repo":{{"full_name":"' || repo || '"}}}}}}')::JSON,
            {extracted_at}::TIMESTAMP
        FROM bench_prs
    """)
    commit = """('{{"sha":"' || {sha} || '","url":"{api}' || repo || '/commits/' || {sha} || '","author":{{"login":"' || author
             || '"}},"commit":{{"author":{{"name":"' || author || ' Name","date":"' || {TS} || '"}},"committer":{{"name":"'
             || author || ' Name","date":"' || {TS} || '"}},"message":"' || {message} || '\\n\\nbody"}},"parents":[{parents}]}}')::JSON"""
    pr_commit = commit.format(sha="md5('c-' || p || '-' || k)", api=API, TS=TS.format("opened - to_hours(3 - k)"),
                              message="'Change ' || p || ' part ' || k", parents='{"sha":"x"}')
    con.execute(f"""
        INSERT OR REPLACE INTO raw.github__pull_request_commits
        SELECT 'bench', pr_id || ':' || md5('c-' || p || '-' || k), pr_id, repo, NULL, {pr_commit}, {extracted_at}::TIMESTAMP
        FROM bench_prs CROSS JOIN range(3) AS r(k)
    """)
    con.execute(f"""
        INSERT OR REPLACE INTO raw.github__pull_request_reviews
        SELECT 'bench', (800000000 + p * 2 + k)::VARCHAR, pr_id, repo, NULL,
            ('{{"id":' || (800000000 + p * 2 + k) || ',"user":{{"login":"rev' || ((p + k + 1) % 200) || '"}},"state":"'
             || CASE k WHEN 0 THEN 'COMMENTED' ELSE 'APPROVED' END || '","author_association":"MEMBER","commit_id":"'
             || md5('c-' || p || '-2') || '","submitted_at":"' || {TS.format('opened + to_hours(1 + k)')}
             || '","pull_request_url":"{API}' || repo || '/pulls/' || number || '"}}')::JSON,
            {extracted_at}::TIMESTAMP
        FROM bench_prs CROSS JOIN range(2) AS r(k)
    """)
    merge_commit = commit.format(sha="merge_sha", api=API, TS=TS.format("merged"),
                                 message="'Merge pull request #' || number || ' from feature-' || p",
                                 parents='{"sha":"x"},{"sha":"y"}')
    con.execute(f"""
        INSERT OR REPLACE INTO raw.github__commits
        SELECT 'bench', repo || ':' || merge_sha, NULL, repo, {TS.format('merged')}, {merge_commit}, {extracted_at}::TIMESTAMP
        FROM bench_prs WHERE merged IS NOT NULL
    """)
    # deployments of the batches whose last PR is in this range
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE bench_deployments AS
        SELECT
            d,
            (900000000 + d)::VARCHAR AS deployment_id,
            {repo.format('d')} AS repo,
            TIMESTAMP '2024-01-01' + to_seconds(((d // {REPOS}) * 500 + 450 + d % {REPOS}) * 130) + to_hours(50) AS created,
            d % 20 = 7 AS failed
        FROM range({prs[0] // 500 * REPOS}, {prs[1] // 500 * REPOS}) AS r(d)
    """)
    con.execute(f"""
        INSERT OR REPLACE INTO raw.github__deployments
        SELECT 'bench', deployment_id, NULL, repo, {TS.format('created')},
            ('{{"id":' || deployment_id || ',"sha":"' || md5('merge-' || ((d // {REPOS}) * 500 + 450 + d % {REPOS}))
             || '","ref":"main","task":"deploy","environment":"production","description":"Deploy ' || d
             || '","created_at":"' || {TS.format('created')} || '","updated_at":"' || {TS.format('created + to_minutes(10)')}
             || '","creator":{{"login":"deploy-bot"}},"repository_url":"{API}' || repo || '"}}')::JSON,
            {extracted_at}::TIMESTAMP
        FROM bench_deployments
    """)
    con.execute(f"""
        INSERT OR REPLACE INTO raw.github__deployment_statuses
        SELECT 'bench', (950000000 + d * 2 + k)::VARCHAR, deployment_id, repo, NULL,
            ('{{"id":' || (950000000 + d * 2 + k) || ',"state":"'
             || CASE WHEN k = 0 THEN 'in_progress' WHEN failed THEN 'failure' ELSE 'success' END
             || '","environment":"production","created_at":"' || {TS.format('created + to_minutes(1 + 9 * k)')}
             || '","updated_at":"' || {TS.format('created + to_minutes(1 + 9 * k)')}
             || '","creator":{{"login":"deploy-bot"}},"repository_url":"{API}' || repo || '"}}')::JSON,
            {extracted_at}::TIMESTAMP
        FROM bench_deployments CROSS JOIN range(2) AS r(k)
    """)
    shipped = commit.format(sha="md5('merge-' || p)", api=API,
                            TS=TS.format(f"TIMESTAMP '2024-01-01' + to_seconds(p * 130) + to_hours(2 + p % 48)"),
                            message=f"'Merge pull request #' || (p // {REPOS} + 1) || ' from feature-' || p",
                            parents='{"sha":"x"},{"sha":"y"}')
    con.execute(f"""
        INSERT OR REPLACE INTO raw.github__compare_commits
        SELECT 'bench', deployment_id || ':' || md5('merge-' || p), deployment_id, repo, NULL,
            {shipped}, {extracted_at}::TIMESTAMP
        FROM (
            SELECT *, 'dev' || (p % 200) AS author
            FROM (
                SELECT bench_deployments.*, (d // {REPOS}) * 500 + k * {REPOS} + d % {REPOS} AS p
                FROM bench_deployments CROSS JOIN range(10) AS r(k)
            )
        )
        WHERE p % 10 <> 0
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE bench_runs AS
        SELECT j, (700000000 + j)::VARCHAR AS run_id, {repo.format('j')} AS repo,
            TIMESTAMP '2024-01-01' + to_seconds(j * 40) AS created, md5('run-' || j) AS sha,
            CASE WHEN j % 9 = 4 THEN 'failure' ELSE 'success' END AS conclusion
        FROM range({runs[0]}, {runs[1]}) AS r(j)
    """)
    con.execute(f"""
        INSERT OR REPLACE INTO raw.github__workflow_runs
        SELECT 'bench', run_id, NULL, repo, {TS.format('created + to_minutes(12)')},
            ('{{"id":' || run_id || ',"name":"CI","workflow_id":' || (600 + j % {REPOS}) || ',"run_number":' || (j // {REPOS} + 1)
             || ',"run_attempt":1,"head_branch":"main","head_sha":"' || sha || '","event":"push","status":"completed","conclusion":"'
             || conclusion || '","created_at":"' || {TS.format('created')} || '","updated_at":"' || {TS.format('created + to_minutes(12)')}
             || '","run_started_at":"' || {TS.format('created')} || '","actor":{{"login":"dev' || (j % 200)
             || '"}},"repository":{{"full_name":"' || repo || '"}}}}')::JSON,
            {extracted_at}::TIMESTAMP
        FROM bench_runs
    """)
    con.execute(f"""
        INSERT OR REPLACE INTO raw.github__workflow_jobs
        SELECT 'bench', (run_id::BIGINT * 2 + k)::VARCHAR, run_id, repo, NULL,
            ('{{"id":' || (run_id::BIGINT * 2 + k) || ',"run_id":' || run_id || ',"run_url":"{API}' || repo
             || '/actions/runs/' || run_id || '","name":"' || CASE k WHEN 0 THEN 'build' ELSE 'test' END
             || '","workflow_name":"CI","run_attempt":1,"head_sha":"' || sha || '","head_branch":"main","status":"completed",'
             || '"conclusion":"' || CASE WHEN k = 1 THEN conclusion ELSE 'success' END || '","created_at":"' || {TS.format('created')}
             || '","started_at":"' || {TS.format('created + to_minutes(1 + 5 * k)')} || '","completed_at":"'
             || {TS.format('created + to_minutes(6 + 5 * k)')} || '","runner_name":"runner-' || (j % 8) || '"}}')::JSON,
            {extracted_at}::TIMESTAMP
        FROM bench_runs CROSS JOIN range(2) AS r(k)
    """)


def build_all(path: Path, issues: int) -> dict[str, float]:
    """The whole raw layer: Jira as benchmarks/flow_marts.py writes it, plus GitHub."""
    jira = build_raw(path, issues, 10)
    started = time.monotonic()
    con = duckdb.connect(str(path))
    con.execute("SET preserve_insertion_order = false")
    write_github(con, (0, int(issues * PR_SHARE)), (0, issues))
    counts = dict(con.execute("""
        SELECT 'prs', count(*) FROM raw.github__pull_requests UNION ALL
        SELECT 'pr_commits', count(*) FROM raw.github__pull_request_commits UNION ALL
        SELECT 'reviews', count(*) FROM raw.github__pull_request_reviews UNION ALL
        SELECT 'runs', count(*) FROM raw.github__workflow_runs UNION ALL
        SELECT 'jobs', count(*) FROM raw.github__workflow_jobs UNION ALL
        SELECT 'deployments', count(*) FROM raw.github__deployments UNION ALL
        SELECT 'compare_commits', count(*) FROM raw.github__compare_commits
    """).fetchall())
    con.close()
    return {**jira, **counts, "seconds": jira["seconds"] + time.monotonic() - started}


def add_one_percent(path: Path, issues: int, backdated: bool = False) -> dict[str, int]:
    """1% new and 1% changed data, read a week after the full load: a nightly delta after the backfill
    (the build after it takes in only the reads after the full build's, docs/OPERATIONS.md#incremental-builds).

    The Jira changes are dated as a nightly finds them, in the days before the read (new issues worked in
    that week, the reopenings the day before). `backdated`: as the first version of this benchmark did,
    the new issues continue the history's dates (2025) and each reopening follows its issue's last history
    (2024-2025): a change to ~900 past days of every reopened item, so the flow series change on every day
    since, and their incremental cost follows that, not the 1%."""
    con = duckdb.connect(str(path))
    con.execute("SET preserve_insertion_order = false")
    # one instant for the whole delta (a subquery would move on with every insert)
    newest = con.execute("SELECT max(extracted_at) FROM raw.jira__issues").fetchall()[0][0]
    later = f"(TIMESTAMP '{newest:%Y-%m-%d %H:%M:%S}' + INTERVAL 7 DAY)"
    before = con.execute("SELECT count(*) FROM raw.jira__changelogs").fetchall()[0][0]
    new = max(issues // 100, 1)
    recent_to = None if backdated else later
    write_jira(con, issues, issues + new, 10, extracted_at=later, recent_to=recent_to)
    write_jira(con, 0, issues, 10, reopen_every=100, extracted_at=later, recent_to=recent_to)  # 1% reopened
    prs = int(issues * PR_SHARE)
    write_github(con, (prs, prs + max(prs // 100, 500)), (issues, issues + new), extracted_at=later)
    after = con.execute("SELECT count(*) FROM raw.jira__changelogs").fetchall()[0][0]
    con.close()
    return {"new_issues": new, "reopened_issues": issues // 100, "new_histories": after - before}


def nightly_run(warehouse: Path, work: Path, exclude: tuple[str, ...]) -> dict[str, float]:
    """`dbt run` as a nightly runs it after a build that succeeded (operations/unchanged_nodes.py): the models
    none of whose inputs changed since are left out, and its inputs are recorded after it. The planning (reading
    the sources' states, hashing the project) and the record are timed with the run."""
    started = time.monotonic()
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    plan = plan_build(warehouse, manifest, DBT_PROJECT, [])
    planned = time.monotonic() - started
    # the full build before it was recorded with this code: nothing to rebuild in full (the nightly's refresh_env)
    assert not plan.refresh, plan.refresh
    run = dbt_run(warehouse, work, None, seed=False, extra=(*exclude, *exclude_args(plan.left_out)))
    started = time.monotonic()
    record_build_inputs(warehouse, plan.inputs)
    planned += time.monotonic() - started
    return {**run, "seconds": run["seconds"] + planned, "planning_seconds": planned, "left_out": len(plan.left_out)}


def marts_equal(left: Path, right: Path) -> tuple[int, list[str]]:
    """How many marts two warehouses hold, and those that differ between them (EXCEPT ALL both ways): every
    mart, as issue 20's P4 asks."""
    con = duckdb.connect(str(left))
    con.execute(f"ATTACH '{right}' AS other (READ_ONLY)")
    catalog = left.stem
    marts = [name for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = 'marts' "
        "ORDER BY 1", [catalog]).fetchall()]
    differing = []
    for mart in marts:
        diff = con.execute(f"""
            SELECT (SELECT count(*) FROM (SELECT * FROM {catalog}.marts.{mart} EXCEPT ALL SELECT * FROM other.marts.{mart}))
                 + (SELECT count(*) FROM (SELECT * FROM other.marts.{mart} EXCEPT ALL SELECT * FROM {catalog}.marts.{mart}))
        """).fetchall()[0][0]
        if diff:
            differing.append(f"{mart} ({diff} rows)")
    con.close()
    return len(marts), differing


def tier_name(issues: int) -> str:
    """The summary.json tier of a run: 1000000 -> "1M", 3000000 -> "3M", 250000 -> "0.25M"."""
    return f"{issues / 1_000_000:g}M"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "out" / "build"))
    parser.add_argument("--verify", action="store_true",
                        help="also rebuild with --full-refresh after the 1%% and compare every flow and DORA mart")
    parser.add_argument("--no-results", action="store_true", help="print the sections, do not write RESULTS.md")
    parser.add_argument("--exclude", nargs="*", default=[],
                        help="dbt selectors left out of every run (say which in RESULTS.md, e.g. a model mid-edit)")
    parser.add_argument("--backdated-delta", action="store_true",
                        help="date the Jira changes in the history's past (see add_one_percent), not the last days")
    parser.add_argument("--incremental-only", action="store_true",
                        help="skip the direct-SQL run and keep the P3 section: measure and write P4 only")
    args = parser.parse_args()
    work = Path(args.work)
    raw = fresh_warehouse(work, "raw")
    built = build_all(raw, args.issues)
    print(f"raw: {built}", flush=True)
    copies = {name: copy_warehouse(raw, work, name) for name in ("dbt",) + (() if args.incremental_only else ("direct",))}
    raw.unlink()  # disk: three copies of the 1M layer are not needed at once
    if args.incremental_only:
        direct = {"seconds": float("nan"), "peak_mib": 0, "models": 0}
    else:
        direct = direct_run(copies["direct"], work / "direct", None)
        print(f"direct SQL: {direct}", flush=True)
        copies["direct"].unlink()
    exclude = ("--exclude", *args.exclude) if args.exclude else ()
    full = dbt_run(copies["dbt"], work / "dbt", None, extra=exclude)
    # the inputs it read (the raw layer is what it was before the run): the next nightly starts from them
    manifest = json.loads((work / "dbt" / "target" / "manifest.json").read_text())
    record_build_inputs(copies["dbt"], plan_build(copies["dbt"], manifest, DBT_PROJECT, []).inputs)
    slowest_full = _slowest_models(work / "dbt" / "target" / "run_results.json", top=8)
    print(f"dbt run: {full}; slowest {slowest_full}", flush=True)

    # The night after a backfill: nothing new read; the full build's marks took every read in, so the
    # incremental models rebuild no item (docs/OPERATIONS.md#incremental-builds): dbt's floor for a night.
    nothing_new = nightly_run(copies["dbt"], work / "dbt", exclude)
    slowest_nothing_new = (_slowest_models(work / "dbt" / "target" / "run_results.json", top=6)
                           or "none, every model was left out")
    print(f"dbt run with nothing new: {nothing_new}; slowest {slowest_nothing_new}", flush=True)

    delta = add_one_percent(copies["dbt"], args.issues, backdated=args.backdated_delta)
    print(f"+1%: {delta}", flush=True)
    if args.verify:
        copies["refresh"] = copy_warehouse(copies["dbt"], work, "refresh")
    incremental = nightly_run(copies["dbt"], work / "dbt", exclude)
    slowest_incremental = _slowest_models(work / "dbt" / "target" / "run_results.json", top=6)
    print(f"incremental dbt run: {incremental}; slowest {slowest_incremental}", flush=True)
    verified = ""
    if args.verify:
        refresh = dbt_run(copies["refresh"], work / "refresh", None, seed=False, extra=("--full-refresh", *exclude))
        compared, differing = marts_equal(copies["dbt"], copies["refresh"])
        verified = (f"A `dbt run --full-refresh` of the same warehouse took {refresh['seconds']:.1f} s; its "
                    + (f"marts DIFFER from the incremental ones: {', '.join(differing)}." if differing else
                       f"{compared} marts (every one) are identical to the incremental ones (EXCEPT ALL both ways)."))
        print(verified, flush=True)
    check = duckdb.connect(str(copies["dbt"]), read_only=True)
    rows = dict(check.execute("""
        SELECT 'work_items', count(*) FROM marts.work_items UNION ALL
        SELECT 'state_intervals', count(*) FROM marts.work_item_state_intervals UNION ALL
        SELECT 'deployments', count(*) FROM marts.deployments UNION ALL
        SELECT 'deployment_changes', count(*) FROM marts.deployment_changes UNION ALL
        SELECT 'pull_requests', count(*) FROM marts.pull_request_cycle_times
    """).fetchall())
    to_rebuild = check.execute("SELECT count(*) FROM intermediate.int_work_items_to_rebuild").fetchall()[0][0]
    check.close()
    load = Path("/proc/loadavg").read_text().split()[:3]
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; load average at the end {' '.join(load)}"
    tier = tier_name(args.issues)
    suffix = "" if tier == "1M" else f", {tier}"  # each tier its own RESULTS.md sections
    p3 = f"""## Build at size (P3{suffix})

{when}.
Raw layer (written in {built['seconds']:.0f} s by benchmarks/build.py): {built['issues']:,} Jira issues,
{built['histories']:,} changelog histories; {built['prs']:,} pull requests with {built['pr_commits']:,} commits and
{built['reviews']:,} reviews; {built['runs']:,} workflow runs with {built['jobs']:,} jobs; {built['deployments']:,}
production deployments with {built['compare_commits']:,} compare commits. Every model ({direct['models']}), no tests.

| run | seconds | peak RSS (MiB) |
|---|---|---|
| `dbt run` (after `dbt seed`) | {full['seconds']:.1f} | {full['peak_mib']} |
| the same compiled SQL, one DuckDB process | {direct['seconds']:.1f} | {direct['peak_mib']} |
| ratio dbt / direct | {full['seconds'] / direct['seconds']:.2f} | |

Slowest models in the dbt run: {slowest_full}.
"""
    delta_dates = (", the Jira changes dated in the history's past (`--backdated-delta`: every reopened item changes"
                   " ~900 past days of the flow series)" if args.backdated_delta else
                   ", the Jira changes dated as a nightly finds them (new issues worked in the week before the read,"
                   " reopenings the day before)")
    p4 = f"""## Incremental (P4{suffix})

{when}.
After the full build above: {delta['new_issues']:,} new issues, {delta['reopened_issues']:,} issues reopened
({delta['new_histories']:,} new changelog histories), 1% more pull requests, workflow runs and deployments, all
read a week later (after the full build's marks: only the delta is in the windows){delta_dates}. Then `dbt run` again: the parsed
issues and histories take only what was read in the window, the flow models delete and insert the rows of
the {to_rebuild:,} work items in int_work_items_to_rebuild, the day and week series recompute the recent
periods and update the earlier ones by difference (an interval that only changed its end, from its earlier end
on); the classification, hierarchy, parsed changelog and Jira incidents rebuild the changed items (keyed
increments); each run is planned as a nightly plans it (operations/unchanged_nodes.py, its time counted): the
models and seeds none of whose sources changed since the last build are left out of the command
({nothing_new['left_out']} with nothing new read, {incremental['left_out']} after the +1%: the other source
types' models, whose raw tables are empty, and the seeds); inside the run, views and tables whose SQL and inputs
did not change are left as they are; int_deployment_changes lists again the deployments of
int_deployment_changes_to_rebuild (per chain from the first changed one on, and those whose commits a changed pull
request matches), int_github__change_requests the pull requests read since its marks or shipped by changed
deployments, and deployment_changes and pull_request_cycle_times the groups whose rows differ from their inputs
(by digest); int_change_requests and the realization and signal marts are rebuilt in full.

| run | seconds | peak RSS (MiB) |
|---|---|---|
| full `dbt run` | {full['seconds']:.1f} | {full['peak_mib']} |
| `dbt run` again at once, nothing new read | {nothing_new['seconds']:.1f} | {nothing_new['peak_mib']} |
| incremental `dbt run` after +1% | {incremental['seconds']:.1f} | {incremental['peak_mib']} |
| ratio incremental / full | {incremental['seconds'] / full['seconds']:.2f} | |
| ratio nothing new / full | {nothing_new['seconds'] / full['seconds']:.2f} | |

Slowest models in the run with nothing new: {slowest_nothing_new}.
Slowest models in the incremental run: {slowest_incremental}. {verified}
{f"Left out of every run: {' '.join(args.exclude)}." if args.exclude else ""}
Marts after it: {', '.join(f'{k} {v:,}' for k, v in rows.items())}.
"""
    if not args.no_results:
        if not args.incremental_only:
            write_results(p3, f"## Build at size (P3{suffix})")
            update_summary("P3", {tier: {
                "issues": built["issues"], "dbt_seconds": round(full["seconds"], 1),
                "direct_seconds": round(direct["seconds"], 1), "ratio": round(full["seconds"] / direct["seconds"], 2),
                "peak_rss_mib": full["peak_mib"],
            }})
        write_results(p4, f"## Incremental (P4{suffix})")
        update_summary("P4", {tier: {"ratio": round(incremental["seconds"] / full["seconds"], 2),
                                     "nothing_new_ratio": round(nothing_new["seconds"] / full["seconds"], 2)}})
    print(p3 + "\n" + p4)


if __name__ == "__main__":
    main()
