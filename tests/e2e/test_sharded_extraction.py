"""Sharded extraction (pipelines/sharded_assets.py) against a single-mode load of the same organisation.

The tiny org grows a second Jira project (OPS) and a second repository (acme/web), so two sources have two
scopes each. Landing runs go two at a time, in two processes (as runs of a backfill go to other processes or
pods); the merges then write the warehouse. The raw tables must hold what a single-mode load holds, and a
second round changes nothing.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
import duckdb
import pytest

from pipelines.sharded_assets import sharded_job
from tests.support.e2e import private_dagster_home, tiny_config

TOKEN = "e2e-secret-token-value"
SCOPES = {"projects: [FLOW]": "projects: [FLOW, OPS]", "repos: [acme/checkout]": "repos: [acme/checkout, acme/web]"}


@pytest.fixture(scope="module")
def sim():
    from simulator.scenarios import tiny_org
    from simulator.server import SimulatorServer

    org = tiny_org()
    org.jira_add_project("OPS", "Operations", 10001)
    org.jira_create_issue("OPS", "Task", "Rotate the API keys", "2026-01-06T09:00Z", key="OPS-1", issue_id=20001)
    org.jira_add_transition("OPS-1", "In Progress", "2026-01-07T09:00Z")
    org.jira_create_issue("OPS", "Bug", "Disk alert is noisy", "2026-01-07T09:00Z", key="OPS-2", issue_id=20002)
    org.github_add_repo("acme/web", description="Marketing site", created_at="2025-07-01T09:00:00Z")
    org.github_add_commit("acme/web", "Landing page", "2026-01-05T10:00Z", author="grace")
    org.github_add_pull("acme/web", "Hero banner", "2026-01-06T10:00Z", user="grace", number=1,
                        commits=[("Banner image", "2026-01-06T09:00Z")])
    with SimulatorServer(org) as server:
        yield server


@pytest.fixture(scope="module")
def env(tmp_path_factory, sim):
    root = tmp_path_factory.mktemp("sharded")
    single = tiny_config(sim.url)
    for old, new in SCOPES.items():
        single = single.replace(old, new)
    (root / "single.yml").write_text(single)
    (root / "sharded.yml").write_text("extraction: {mode: sharded}\n" + single)
    mp = pytest.MonkeyPatch()
    mp.setenv("E2E_TOKEN", TOKEN)
    # Saved before `use` and `instance` set them through os.environ, so that the end restores the values the
    # later tests found (a setenv after `use` saved, and left behind, this module's paths; a delenv of an
    # unset variable saves nothing).
    for name in ("THROUGHLINE_CONFIG", "THROUGHLINE_WAREHOUSE", "DAGSTER_HOME"):
        mp.setenv(name, "")
    use(root, "sharded")
    yield root
    mp.undo()


def use(root, mode: str) -> None:
    os.environ["THROUGHLINE_CONFIG"] = str(root / f"{mode}.yml")
    os.environ["THROUGHLINE_WAREHOUSE"] = str(root / f"{mode}.duckdb")


def raw_rows(path) -> dict[str, set[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' AND NOT starts_with(table_name, '_')"
        ).fetchall()]
        return {t: set(con.execute(f"SELECT source_instance, record_key, scope, payload::VARCHAR FROM raw.{t}")
                       .fetchall()) for t in tables}
    finally:
        con.close()


def query(path, sql):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def single_load(env):
    from pipelines.raw_assets import build_raw_assets
    from pipelines.resources import ThroughlineResource

    use(env, "single")
    result = dg.materialize(build_raw_assets(), resources={"throughline": ThroughlineResource()},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    return raw_rows(env / "single.duckdb")


# Both github partitions first, started together (the barrier) in the pool's two processes, so the two runs
# surely overlap. Each run executes in process, but for the jira source partition: its two groups are two
# steps of the multiprocess executor, each process rebuilding the job (build_reconstructable_job) and writing
# its own shard at once; one such run proves that as well as all of them, at a tenth of the process starts.
RUNS = [("landing_github__scopes", "tiny-github:acme/checkout", False, True),
        ("landing_github__scopes", "tiny-github:acme/web", False, True),
        ("landing_jira__scopes", "tiny-jira:FLOW", False, False),
        ("landing_jira__scopes", "tiny-jira:OPS", False, False),
        ("landing_jira__sources", "tiny-jira", True, False)]
_start_together = None


def _worker(barrier) -> None:
    global _start_together
    _start_together = barrier


def land(run: tuple[dict[str, str], str, str, bool, bool]) -> tuple[str, str]:
    """One landing run, in a process of its own (Dagster's run logging is not safe for two runs in the threads
    of one process). The environment comes with it: the pool's processes outlive a test's variables."""
    env, job, partition, multiprocess, together = run
    os.environ.update(env)
    job_def = dg.build_reconstructable_job("pipelines.sharded_assets", "sharded_job", reconstructable_args=(job,))
    executor = {"multiprocess": {"max_concurrent": 2}} if multiprocess else {"in_process": {}}
    config = {"execution": {"config": executor}}
    if together:
        _start_together.wait(timeout=300)
    with dg.DagsterInstance.get() as instance:
        with dg.execute_job(job_def, instance, run_config=config, tags={"dagster/partition": partition}) as result:
            assert result.success, partition
            return result.run_id, partition


@pytest.fixture(scope="module")
def pool():
    """Two processes for the landing runs of both rounds (each process start imports Dagster)."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn, initializer=_worker,
                             initargs=(spawn.Barrier(2),)) as executor:
        yield executor


def sharded_round(env, instance, pool, multiprocess: bool = True) -> list[tuple[str, float, float]]:
    """Every landing partition, two runs at a time, then the merges. Returns (partition, step start, step
    end) of every landing step, from the event log."""
    use(env, "sharded")
    variables = {k: os.environ[k] for k in ("THROUGHLINE_CONFIG", "THROUGHLINE_WAREHOUSE", "DAGSTER_HOME", "E2E_TOKEN")}
    runs = list(pool.map(land, [(variables, job, partition, multiprocess and mp, together)
                                for job, partition, mp, together in RUNS]))
    merged = sharded_job("merge").execute_in_process(instance=instance)
    assert merged.success
    steps = []
    for run_id, partition in runs:
        times: dict[str, dict[str, float]] = {}
        for record in instance.all_logs(run_id):
            if record.dagster_event and record.dagster_event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
                times.setdefault(record.step_key, {})[record.dagster_event.event_type_value] = record.timestamp
        steps += [(partition, t["STEP_START"], t["STEP_SUCCESS"]) for t in times.values()]
    return steps


@pytest.fixture(scope="module")
def instance(env):
    home = private_dagster_home(env)  # the project's instance settings; the pool processes find it too
    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as inst:
        yield inst


@pytest.fixture(scope="module")
def first_round(env, instance, single_load, pool):
    return sharded_round(env, instance, pool)


def test_partitions_are_the_configured_scopes(env, first_round):
    from pipelines.sharded_assets import build_sharded_assets

    landing, _ = build_sharded_assets()
    keys = {a.key.to_user_string(): a.partitions_def.get_partition_keys() for a in landing}
    assert keys["landing/jira__issues"] == ["tiny-jira:FLOW", "tiny-jira:OPS"]
    assert keys["landing/jira__statuses"] == ["tiny-jira"]  # instance-wide: one partition per source
    assert keys["landing/github__pull_requests"] == ["tiny-github:acme/checkout", "tiny-github:acme/web"]
    shards = sorted(p.relative_to(env / "shards").as_posix() for p in (env / "shards").rglob("*.duckdb"))
    assert "tiny-jira/issues/OPS-" in " ".join(shards)
    assert len(shards) == 2 + 1 + 1 + 7 * 2  # jira issues x2, statuses, projects; 7 github groups x2


def test_sharded_raw_tables_equal_a_single_load(env, single_load, first_round):
    sharded = raw_rows(env / "sharded.duckdb")
    assert set(sharded) == set(single_load)
    assert {t: len(r) for t, r in sharded.items()} == {t: len(r) for t, r in single_load.items()}
    assert sharded == single_load
    # the second scopes made it: 5 FLOW + 2 OPS issues; 3 + 1 pull requests
    assert query(env / "sharded.duckdb", "SELECT scope, count(*) FROM raw.jira__issues GROUP BY 1 ORDER BY 1") == [
        ("FLOW", 5), ("OPS", 2)]
    assert query(env / "sharded.duckdb", "SELECT count(*) FROM raw.github__pull_requests") == [(4,)]


def test_two_partitions_ran_at_the_same_time(first_round):
    overlapping = {
        frozenset((a[0], b[0])) for a in first_round for b in first_round
        if a[0] != b[0] and a[1] < b[2] and b[1] < a[2]
    }
    assert overlapping, first_round


def test_run_report_rows_of_the_shards_are_merged(env, first_round):
    rows = query(env / "sharded.duckdb", """
        SELECT scope, records, new_records, status FROM ops.stream_runs
        WHERE source_instance = 'tiny-jira' AND stream = 'jira__issues' ORDER BY scope""")
    assert rows == [("FLOW", 5, 5, "success"), ("OPS", 2, 2, "success")]


def test_second_round_and_remerge_change_nothing(env, instance, single_load, first_round, pool):
    sharded_round(env, instance, pool, multiprocess=False)
    assert raw_rows(env / "sharded.duckdb") == single_load
    before = query(env / "sharded.duckdb", "SELECT * FROM raw.jira__changelogs ORDER BY record_key")
    assert sharded_job("merge").execute_in_process(instance=instance).success
    assert query(env / "sharded.duckdb", "SELECT * FROM raw.jira__changelogs ORDER BY record_key") == before
    assert raw_rows(env / "sharded.duckdb") == single_load
    # both rounds reported, nothing new in the second
    assert query(env / "sharded.duckdb", """
        SELECT count(DISTINCT run_id), sum(new_records) FILTER (WHERE started_at > (
            SELECT max(started_at) FROM ops.stream_runs WHERE source_instance = 'tiny-jira' AND scope = 'FLOW'
              AND stream = 'jira__issues') - INTERVAL 1 SECOND)
        FROM ops.stream_runs WHERE stream = 'jira__issues' AND scope = 'FLOW'""")[0][0] == 2
