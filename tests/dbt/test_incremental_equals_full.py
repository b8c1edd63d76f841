"""An incremental `dbt run` after new and changed data equals `dbt run --full-refresh`, in every mart.

The raw layer is the build benchmark's (benchmarks/build.py) at demo scale: 2,000 Jira issues in 20 projects
with 10 status changes each, 600 pull requests, 2,000 workflow runs and the production deployments of the
merged pull requests. After a full build, the benchmark's nightly delta arrives, read a week later: 20 new
issues, 20 issues reopened (one more history each, issue row re-read), 500 more pull requests, 20 more runs
and their deployments. The Jira changes are back-dated (`backdated=True`: the reopenings follow each issue's
last history, years before the read), so the earlier days and weeks are updated by difference, not only the
recent ones recomputed. The incremental run must give the rows a full rebuild gives (EXCEPT ALL both ways, every
mart) while rebuilding only what the delta touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from benchmarks.build import add_one_percent, build_all

from .warehouse import query, run_dbt

ISSUES = 2_000
# every mart reading Jira or GitHub, with everything upstream (the ops marts read the run report only), and the
# marks of what the build took in, where the next build's windows start (without them it takes in every read)
SELECT = ["--select", "+marts.flow", "+marts.dora", "+marts.signals", "+marts.realization",
          "int_incremental_read_marks"]


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    """(incremental, refreshed): the warehouse built, given the delta and built again; and a copy of it
    rebuilt with --full-refresh."""
    work = tmp_path_factory.mktemp("incremental_equals_full")
    warehouse = work / "throughline.duckdb"
    build_all(warehouse, ISSUES)
    run_dbt(["seed"], warehouse, work)
    run_dbt(["run", *SELECT], warehouse, work)
    add_one_percent(warehouse, ISSUES, backdated=True)
    run_dbt(["run", *SELECT], warehouse, work)
    refreshed = work / "refresh" / warehouse.name  # same file name: the compiled SQL names the catalog
    refreshed.parent.mkdir()
    shutil.copy(warehouse, refreshed)
    run_dbt(["run", *SELECT, "--full-refresh"], refreshed, work / "refresh")
    return warehouse, refreshed


def test_every_mart_equals_a_full_rebuild(warehouses):
    incremental, refreshed = warehouses
    with duckdb.connect(str(incremental), read_only=True) as con:
        con.execute(f"ATTACH '{refreshed}' AS refreshed (READ_ONLY)")
        marts = [name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'throughline' "
            "AND table_schema = 'marts' AND table_name <> 'pipeline_runs' ORDER BY 1").fetchall()]
        differences = {mart: con.execute(f"""
            SELECT (SELECT count(*) FROM (SELECT * FROM marts.{mart} EXCEPT ALL SELECT * FROM refreshed.marts.{mart}))
                 + (SELECT count(*) FROM (SELECT * FROM refreshed.marts.{mart} EXCEPT ALL SELECT * FROM marts.{mart}))
        """).fetchall()[0][0] for mart in marts}
    assert "work_items" in marts and "flow_load_daily" in marts and "deployments" in marts
    assert differences == {mart: 0 for mart in marts}


def test_the_incremental_run_rebuilt_only_the_delta(warehouses):
    incremental, _ = warehouses
    # 20 new issues (i = 2000 .. 2019) and 20 reopened (i % 100 = 37): the only items rebuilt (issue id 10000000 + i)
    assert query(incremental, "SELECT count(*), count(*) FILTER (WHERE issue_id::int >= 10002000) "
                              "FROM intermediate.int_work_items_to_rebuild") == [(40, 20)]
    assert query(incremental, "SELECT count(*) FROM marts.work_items") == [(ISSUES + 20,)]
    # the reopened items' old waiting/active rows were read before they were replaced
    assert query(incremental, "SELECT count(DISTINCT work_item_id) FROM intermediate.int_work_items_replaced_intervals") \
        == [(20,)]
