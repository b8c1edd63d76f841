"""A DuckDB table is rebuilt only when its SQL or its inputs changed (dbt_project/macros/unchanged_tables.sql).

Which tables a run made is read from its dbt log (dbt's table materialization creates `<table>__dbt_tmp`).
The models of marts.incidents' union: int_pagerduty__incidents reads PagerDuty's raw tables through staging
views (and the table int_deployment_services); int_incidents_unioned reads int_jira__incidents, an incremental
model, so it is made every run.
"""

from __future__ import annotations

import re
from pathlib import Path

from connectors.core.raw import RawRecord

from .warehouse import load_raw, query, run_dbt

RUN = ["run", "--select", "+int_incidents_unioned"]


def _made(warehouse: Path, work_dir: Path, *args: str) -> set[str]:
    """Run the union's models and return the tables the run made."""
    run_dbt([*RUN, *args], warehouse, work_dir)
    log = (work_dir / "logs" / "dbt.log").read_text()
    return set(re.findall(r'create\s+table\s+"[^"]+"\."\w+"\."(\w+)__dbt_tmp"', log))


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
