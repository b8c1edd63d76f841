"""Every column an analyst or a model author can read is described: the staging, intermediate and marts models.

The YAMLs alone cannot tell which columns a model has (its SQL decides), so the warehouse test_marts.py builds
(every model: its whole-project build, whose columns no data changes) is compared with the descriptions dbt
parsed from the YAMLs (the manifest that build wrote). A build of its own would cost a whole project's build
more; test_marts.py also compiles the project on a warehouse never loaded, where no relation exists yet. A
column added to a model's SQL without a line in its YAML fails here, naming the model and the column; so does a
YAML entry for a column the model no longer has.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

# test_marts.py's warehouse (this module joins its group: tests/conftest.py)
from .test_marts import warehouse  # noqa: F401 (fixture)
from .warehouse import query

DOCUMENTED_SCHEMAS = ("staging", "intermediate", "marts")


@pytest.fixture(scope="module")
def built(warehouse) -> tuple[Path, dict]:
    """(warehouse, manifest) of test_marts.py's build of the whole project."""
    path, _, _ = warehouse
    return path, json.loads((path.parent / "target" / "manifest.json").read_text())


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
