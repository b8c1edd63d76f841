"""The demo's nights: one simulated world served a week further on each night, loaded into one warehouse.

Night one is 2026-10-24, night two 2026-10-31, both in the world whose horizon is 2026-10-31 (the shared demo's
day): the warehouse after both must hold what one load of 10-31 holds (the session's `demo_warehouse`), with
the forecasts of both nights in forecast_history. A connector that missed a change made between the nights, a
simulator that renumbered what it served the night before, or a mart that counted a record twice would each
make a mart differ.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.support.e2e import private_dagster_home, run_demo
from tests.support.portability import built_relations, compare

# The module in CI, one worker: two demos and the tests (tests/conftest.py starts the slowest first).
pytestmark = pytest.mark.slow(160)

# Measured against the time of the last read (flow_as_of): two loads minutes apart differ here, by design.
CLOCK_COLUMNS = {"data_complete_to", "oldest_item_age_hours", "blocked_wait_hours"}
# One row per run (the run report), or per night (checked below).
PER_RUN = {"pipeline_runs", "forecast_history"}


@pytest.fixture(scope="module")
def two_nights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nights")
    warehouse = folder / "warehouse" / "throughline.duckdb"
    home = private_dagster_home(folder)
    outputs = []
    for night in ("2026-10-24", "2026-10-31"):
        run = run_demo(warehouse, night, home)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        outputs.append(run.stdout)
    return warehouse, outputs


def test_the_second_night_serves_the_first_nights_world(two_nights):
    _, (first, second) = two_nights
    assert "the warehouse's world" not in first
    assert "demo: the warehouse's world (seed 7, nights up to 2026-10-31), last night 2026-10-24" in second


def test_two_nights_hold_what_one_load_of_the_second_holds(two_nights, demo_warehouse):
    warehouse, _ = two_nights
    nights = duckdb.connect(str(warehouse), read_only=True)
    try:
        marts = [r for r in built_relations(nights) if r[0] == "marts" and r[1] not in PER_RUN]
        assert len(marts) > 20
        assert compare(demo_warehouse, nights, marts, ignore=CLOCK_COLUMNS) == []
    finally:
        nights.close()


def test_each_night_added_its_forecasts(two_nights, demo_warehouse):
    warehouse, _ = two_nights
    con = duckdb.connect()
    con.execute(f"ATTACH '{warehouse}' AS nights (READ_ONLY)")
    con.execute(f"ATTACH '{demo_warehouse}' AS once (READ_ONLY)")
    nights = con.execute("SELECT as_of_date::varchar, count(*) FROM nights.marts.forecast_history "
                         "GROUP BY 1 ORDER BY 1").fetchall()
    assert [night for night, _ in nights] == ["2026-10-24", "2026-10-31"] and all(n > 20 for _, n in nights)
    # the second night's snapshot is the one a single load of that night makes
    assert con.execute("SELECT count(*) FROM (SELECT * FROM nights.marts.forecast_history "
                       "WHERE as_of_date = '2026-10-31' EXCEPT ALL SELECT * FROM once.marts.forecast_history)"
                       ).fetchall() == [(0,)]
    assert con.execute("SELECT count(*), min(as_of_date)::varchar FROM once.marts.forecast_history").fetchall() == [
        (nights[1][1], "2026-10-31")]
