"""A DuckDB view is rebuilt only when what it would be changes (dbt_project/macros/unchanged_views.sql).

Which views a run made is read from its dbt log: dbt's view materialization creates `<view>__dbt_tmp` and
renames it (DuckDB gives the renamed view the old one's object id, so the catalog cannot tell). Two staging
views over raw tables: stg_github__issues compiles with the var github_incident_labels,
stg_github__deployments reads raw.github__deployments.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from .warehouse import load_raw, query, run_dbt

VIEWS = ("stg_github__issues", "stg_github__deployments")
# which views a run made is read from its debug log (tests/conftest.py leaves the log out by default)
RUN = ["run", "--log-level-file", "debug", "--select", *VIEWS]


def _made(warehouse: Path, work_dir: Path, *args: str) -> set[str]:
    """Run the two views' models and return the views the run made."""
    run_dbt([*RUN, *args], warehouse, work_dir)
    log = (work_dir / "logs" / "dbt.log").read_text()
    return set(re.findall(r'create view "[^"]+"\."staging"\."(\w+)__dbt_tmp"', log))


def test_a_view_is_rebuilt_only_when_its_sql_inputs_or_the_run_ask_for_it(tmp_path):
    warehouse = tmp_path / "throughline.duckdb"
    load_raw(warehouse, [])
    assert _made(warehouse, tmp_path / "first") == set(VIEWS)
    # Nothing changed: both left as they were.
    assert _made(warehouse, tmp_path / "same") == set()

    # Another value of a var the issues view compiles with: that view only, and it holds the new value.
    labels = ["--vars", json.dumps({"github_incident_labels": ["outage"]})]
    assert _made(warehouse, tmp_path / "var", *labels) == {"stg_github__issues"}
    sql = query(warehouse, "select sql from duckdb_views() where view_name = 'stg_github__issues'")[0][0]
    assert "'outage'" in sql
    assert _made(warehouse, tmp_path / "var again", *labels) == set()

    # A column added to the raw table the deployments view reads (DuckDB checks a view's inputs when it is
    # queried): that view only.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("alter table raw.github__deployments add column added_later integer")
    assert _made(warehouse, tmp_path / "column", *labels) == {"stg_github__deployments"}

    # A view dropped by hand is made again; --full-refresh rebuilds every view.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop view staging.stg_github__issues")
    assert _made(warehouse, tmp_path / "dropped", *labels) == {"stg_github__issues"}
    assert _made(warehouse, tmp_path / "refresh", *labels, "--full-refresh") == set(VIEWS)
    assert query(warehouse, "select count(*) from staging.stg_github__deployments") == [(0,)]
