"""Every relation the dbt project creates fits PostgreSQL's 63-character identifiers (NAMEDATALEN - 1): the
portability test builds on PostgreSQL (tests/e2e/test_dbt_postgres.py), but a name too long fails only there,
late in the slowest test; here it fails in a second, naming the file."""

from __future__ import annotations

import yaml

from connectors.config import DBT_PROJECT_DIR

POSTGRES_MAX_IDENTIFIER = 63


def test_models_seeds_and_unit_tests_have_names_postgres_accepts():
    too_long = []
    for path in sorted(DBT_PROJECT_DIR.glob("models/**/*.sql")) + sorted(DBT_PROJECT_DIR.glob("seeds/*.csv")):
        if len(path.stem) > POSTGRES_MAX_IDENTIFIER:
            too_long.append(f"{path.relative_to(DBT_PROJECT_DIR)}: {path.stem}")
    for path in sorted(DBT_PROJECT_DIR.glob("models/**/*.yml")):
        # dbt builds each unit test as a relation named after the test
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests") or []:
            if len(test["name"]) > POSTGRES_MAX_IDENTIFIER:
                too_long.append(f"{path.relative_to(DBT_PROJECT_DIR)}: unit test {test['name']}")
    assert too_long == [], f"names over {POSTGRES_MAX_IDENTIFIER} characters (PostgreSQL refuses them): {too_long}"
