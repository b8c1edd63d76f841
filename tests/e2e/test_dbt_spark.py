"""Spark portability check (docs/DEPLOY.md#the-marts-on-apache-spark): the dbt project builds on a local Apache Spark
(dbt-spark's `session` method) from the raw layer `throughline copy-raw --target spark` writes as Parquet, and every
relation it builds holds exactly the rows of the DuckDB build of the same raw data (floats to 9 digits).

What builds is operations/spark_copy.py PORTED_SELECTION: every seed and model but the NOT_PORTED list there (and
the models that read them). One Spark session builds them (the data tests run in the DuckDB build; staging is a
table on Spark), and DuckDB compares the tables' Parquet files.

The raw data is the demo organisation built by `throughline demo` (the session's `demo_warehouse`).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter

import duckdb
import pytest

from tests.support.spark import build_and_compare

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None, reason="no Java runtime for Spark (`apt-get install openjdk-17-jre-headless`; .ci/run does)"
)

# Relations that must not be empty in the demo, so that "equal" is not "both empty", by layer.
FILLED = {
    "staging": ("stg_jira__issues", "stg_jira__changelog_items", "stg_jira__status_changes", "stg_github__pull_requests",
                "stg_github__deployments", "stg_gitlab__merge_requests", "stg_jenkins__builds", "stg_linear__issues",
                "stg_outcomes__kpi_values", "stg_ops__stream_runs", "stg_azure_devops__work_items"),
    "intermediate": ("int_work_items_classified", "int_work_items_status_intervals", "int_deployments_unioned",
                     "int_change_requests", "int_incidents_unioned", "int_jira__status_mapping",
                     "int_flow_load_daily"),
    "marts": ("work_items", "work_item_state_intervals", "deployments", "dora_metrics_weekly", "epics",
              "pipeline_runs", "flow_metrics_weekly", "value_stream_scorecard", "okr_progress"),
}
# Every model of the layer but the ones not ported (operations/spark_copy.py NOT_PORTED, with what reads them).
AT_LEAST = {"seeds": 8, "staging": 82, "intermediate": 62, "marts": 27}


def test_the_project_builds_on_spark_with_the_duckdb_results(demo_warehouse, tmp_path, monkeypatch):
    from connectors.config import load_config
    from operations.cli import DEMO_TOKEN_VAR
    from operations.dbt import dbt_vars

    # The demo's config gives the build its vars (deployment rules, services), as a user's nightly run.
    monkeypatch.setenv(DEMO_TOKEN_VAR, "demo-token-not-secret")
    monkeypatch.setenv("THROUGHLINE_CONFIG", str(demo_warehouse.parent / "demo" / "throughline.yml"))
    variables = json.dumps(dbt_vars(load_config()), sort_keys=True)

    result, problems, relations = build_and_compare(demo_warehouse, tmp_path, variables, data_tests=False)

    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    layers = Counter(schema for schema, _ in relations)
    for layer, count in AT_LEAST.items():
        assert layers[layer] >= count, (layer, layers)
    tables = tmp_path / "spark" / "tables"
    for layer, names in FILLED.items():
        built = {name for schema, name in relations if schema == layer}
        assert set(names) <= built
        for name in names:
            rows = duckdb.sql(f"select count(*) from read_parquet('{tables / (layer + '.db') / name}/*.parquet')"
                              ).fetchall()[0][0]
            assert rows > 0, f"{layer}.{name} is empty on Spark"
    assert problems == []
