"""A DuckDB table is rebuilt only when its SQL or its inputs changed (dbt_project/macros/unchanged_tables.sql).

Which tables a run made is read from its dbt log (`create table`: in place, or dbt-duckdb's `<table>__dbt_tmp`).
The models of marts.incidents' union: int_pagerduty__incidents reads PagerDuty's raw tables through staging
views (and the table int_deployment_services); int_incidents_unioned reads int_jira__incidents, an incremental
model, so it is made every run.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from connectors.config import DBT_PROJECT_DIR
from connectors.core.raw import RawRecord

from .warehouse import invoke_dbt, load_raw, query, run_dbt

# which tables a run made is read from its debug log (tests/conftest.py leaves the log out by default)
RUN = ["run", "--log-level-file", "debug", "--select", "+int_incidents_unioned"]


def _made(warehouse: Path, work_dir: Path, *args: str) -> set[str]:
    """Run the union's models and return the tables the run made."""
    run_dbt([*RUN, *args], warehouse, work_dir)
    log = (work_dir / "logs" / "dbt.log").read_text()
    return set(re.findall(r'create\s+table\s+"[^"]+"\."\w+"\."(\w+?)(?:__dbt_tmp)?"', log))


def _pagerduty(ident: str, number: int, created: str) -> list[tuple[str, str, list[RawRecord]]]:
    """A resolved PagerDuty incident on service PSVC1, created at `created` (trigger then resolve 30 min later)."""
    resolved = created.replace(":00:00Z", ":30:00Z")
    return [
        ("pagerduty__incidents", "pd", [RawRecord(ident, {
            "id": ident, "type": "incident", "incident_number": number, "title": f"incident {number}",
            "created_at": created, "status": "resolved", "urgency": "high",
            "service": {"id": "PSVC1", "type": "service_reference", "summary": "Checkout"},
        }, scope="all", cursor_value=created)]),
        ("pagerduty__log_entries", "pd", [
            RawRecord(f"{ident}-t", {"id": f"{ident}-t", "type": "trigger_log_entry", "created_at": created,
                                     "incident": {"id": ident, "type": "incident_reference"}}, ident, "all"),
            RawRecord(f"{ident}-r", {"id": f"{ident}-r", "type": "resolve_log_entry", "created_at": resolved,
                                     "incident": {"id": ident, "type": "incident_reference"}}, ident, "all"),
        ]),
        ("pagerduty__services", "pd", [
            RawRecord("PSVC1", {"id": "PSVC1", "type": "service", "name": "Checkout", "status": "active"}, scope="all"),
        ]),
    ]


def test_a_table_is_rebuilt_only_when_its_sql_or_inputs_changed(tmp_path):
    warehouse = tmp_path / "throughline.duckdb"
    load_raw(warehouse, _pagerduty("PI1", 101, "2026-01-05T12:00:00Z"))
    first = _made(warehouse, tmp_path / "first")
    assert {"int_pagerduty__incidents", "int_deployment_services", "int_incidents_unioned"} <= first

    # Nothing read since: only what reads an incremental model is made again.
    same = _made(warehouse, tmp_path / "same")
    assert "int_incidents_unioned" in same
    assert not same & {"int_pagerduty__incidents", "int_deployment_services", "int_opsgenie__incidents"}

    # A second incident read (a later write): PagerDuty's table is made again and holds both; Opsgenie's,
    # whose raw tables did not change, is not.
    load_raw(warehouse, _pagerduty("PI2", 102, "2026-01-06T10:00:00Z"))
    read = _made(warehouse, tmp_path / "read")
    assert "int_pagerduty__incidents" in read
    assert not read & {"int_deployment_services", "int_opsgenie__incidents"}
    rows = query(warehouse, "select incident_id, resolved_at::varchar from intermediate.int_pagerduty__incidents"
                            " order by incident_id")
    assert rows == [("PI1", "2026-01-05 12:30:00"), ("PI2", "2026-01-06 10:30:00")]
    assert query(warehouse, "select count(*) from intermediate.int_incidents_unioned where source_instance = 'pd'") \
        == [(2,)]

    # --full-refresh makes every table.
    assert _made(warehouse, tmp_path / "refresh", "--full-refresh") >= first


def test_a_table_whose_rebuild_fails_keeps_its_rows_and_fingerprint(tmp_path):
    """A table is replaced in place, in its model's transaction: a build that fails halfway (here a runtime error
    in the new SQL, after the old table was dropped in the same statement) leaves the table as the last build
    made it, fingerprint included, so the next run still knows what it holds."""
    warehouse = tmp_path / "throughline.duckdb"
    load_raw(warehouse, _pagerduty("PI1", 101, "2026-01-05T12:00:00Z"))
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    run_dbt(RUN, warehouse, tmp_path / "first", project)
    comment = "select comment from duckdb_tables() where table_name = 'int_pagerduty__incidents'"
    [(fingerprint,)] = query(warehouse, comment)
    assert fingerprint.startswith("throughline table ")

    # another folder: the tests parse each project folder once per process (tests/dbt/warehouse.py)
    project = Path(shutil.copytree(project, tmp_path / "broken_project"))
    model = next(project.glob("models/**/int_pagerduty__incidents.sql"))
    model.write_text(f"select * from ({model.read_text()}) as built where error('broken on purpose') is null\n")
    load_raw(warehouse, _pagerduty("PI2", 102, "2026-01-06T10:00:00Z"))
    result = invoke_dbt(RUN, warehouse, tmp_path / "broken", project)

    assert not result.success
    assert "broken on purpose" in (tmp_path / "broken" / "logs" / "dbt.log").read_text()
    assert query(warehouse, "select incident_id from intermediate.int_pagerduty__incidents") == [("PI1",)]
    assert query(warehouse, comment) == [(fingerprint,)]
