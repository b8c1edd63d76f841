"""Every column an analyst or a model author can read is described: the staging, intermediate and marts models.

The YAMLs alone cannot tell which columns a model has (its SQL decides), so the project is built on empty raw
tables and the warehouse's columns are compared with the descriptions dbt parsed from the YAMLs (its
manifest). A column added to a model's SQL without a line in its YAML fails here, naming the model and the
column; so does a YAML entry for a column the model no longer has.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from .warehouse import load_raw, query, run_dbt

DOCUMENTED_SCHEMAS = ("staging", "intermediate", "marts")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    """(warehouse, manifest) of the whole project built on empty raw tables."""
    work = tmp_path_factory.mktemp("column_docs")
    warehouse = work / "throughline.duckdb"
    load_raw(warehouse, [])
    # Before anything is built, as `dbt compile` or `dbt docs generate` of a new warehouse runs: a model that
    # looks into another relation while compiling must not fail on its absence (int_key_result_work_items did).
    run_dbt(["compile"], warehouse, work)
    run_dbt(["seed"], warehouse, work)
    run_dbt(["run"], warehouse, work)
    return warehouse, json.loads((work / "target" / "manifest.json").read_text())


def built_columns(warehouse: Path) -> dict[str, set[str]]:
    """{schema.table: its columns} of the documented schemas, as the warehouse has them."""
    columns: dict[str, set[str]] = defaultdict(set)
    placeholders = ", ".join("?" for _ in DOCUMENTED_SCHEMAS)
    for schema, table, column in query(warehouse, f"""
        SELECT table_schema, table_name, column_name FROM information_schema.columns
        WHERE table_schema IN ({placeholders})
    """, list(DOCUMENTED_SCHEMAS)):
        columns[f"{schema}.{table}"].add(column)
    return columns


def yaml_columns(manifest: dict) -> dict[str, dict[str, str]]:
    """{schema.table: {column: description}} of the documented schemas' models, as their YAMLs give them."""
    found = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["schema"] in DOCUMENTED_SCHEMAS:
            table = node.get("alias") or node["name"]
            found[f"{node['schema']}.{table}"] = {
                name: (column.get("description") or "").strip() for name, column in node["columns"].items()
            }
    return found


def test_every_built_column_has_a_description(built):
    warehouse, manifest = built
    documented = yaml_columns(manifest)
    columns = built_columns(warehouse)
    assert set(columns) == set(documented), "every model of these schemas is built as a table or view"
    undocumented = sorted(
        f"{table}.{column}" for table, names in columns.items() for column in names
        if not documented[table].get(column)
    )
    total = sum(len(names) for names in columns.values())
    assert not undocumented, f"{len(undocumented)} of {total} columns have no description in their model's YAML:\n" + \
        "\n".join(undocumented)


def test_no_yaml_describes_a_column_the_model_does_not_have(built):
    warehouse, manifest = built
    columns = built_columns(warehouse)
    stale = sorted(
        f"{table}.{column}" for table, described in yaml_columns(manifest).items() for column in described
        if column not in columns.get(table, set())
    )
    assert not stale, "described in YAML but not in the model:\n" + "\n".join(stale)


def test_every_model_has_a_description(built):
    _, manifest = built
    missing = sorted(
        node["name"] for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] in DOCUMENTED_SCHEMAS
        and not (node.get("description") or "").strip()
    )
    assert not missing, missing
