"""Spark portability check (docs/DEPLOY.md#the-marts-on-apache-spark): the dbt project builds on a local Apache Spark
(dbt-spark's `session` method) from the raw layer `throughline copy-raw --target spark` writes as Parquet, and every
relation it builds holds exactly the rows of the DuckDB build of the same raw data (floats to 9 digits).

What builds is operations/spark_copy.py PORTED_SELECTION: every seed and model but the NOT_PORTED list there (and
the models that read them). One Spark session builds them (`dbt build`; staging is a table on Spark) with one data
test of each shape in each layer and every singular test (tests/support/spark.py data_test_sample: 23 of the 246;
a failing test fails the build), and DuckDB compares the tables' Parquet files. On tables equal row for row each
other data test answers as it does in DuckDB's builds; all of them on Spark are ~100 s more (docs/DEPLOY.md). The
same session then runs another night's forecasts twice and the float_text query of the last test: one JVM start
for the module.

The raw data is the demo organisation built by `throughline demo` (the session's `demo_warehouse`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.support.portability import dbt_target, demo_vars
from tests.support.spark import build_and_compare, data_test_sample

pytestmark = [
    pytest.mark.portability,  # `make test-portability` (CI runs it after `make test`)
    pytest.mark.skipif(shutil.which("java") is None,
                       reason="no Java runtime for Spark (`apt-get install openjdk-17-jre-headless`; .ci/run does)"),
]

# Relations that must not be empty in the demo, so that "equal" is not "both empty", by layer.
FILLED = {
    "staging": ("stg_jira__issues", "stg_jira__changelog_items", "stg_jira__status_changes", "stg_github__pull_requests",
                "stg_github__deployments", "stg_gitlab__merge_requests", "stg_jenkins__builds", "stg_linear__issues",
                "stg_outcomes__kpi_values", "stg_ops__stream_runs", "stg_azure_devops__work_items"),
    "intermediate": ("int_work_items_classified", "int_work_items_status_intervals", "int_deployments_unioned",
                     "int_change_requests", "int_incidents_unioned", "int_jira__status_mapping",
                     "int_flow_load_daily"),
    "marts": ("work_items", "work_item_state_intervals", "deployments", "dora_metrics_weekly", "epics",
              "pipeline_runs", "flow_metrics_weekly", "value_stream_scorecard", "okr_progress", "signals"),
}
# Another night's forecast date (forecast_as_of): not the day the build's forecasts are made on.
OTHER_AS_OF = "2026-10-24"
# Every model of the layer but the ones not ported (operations/spark_copy.py NOT_PORTED, with what reads them).
AT_LEAST = {"seeds": 8, "staging": 82, "intermediate": 62, "marts": 28}


# float_text: DuckDB's text of each double (`::varchar`), written out here; Java's starts exponents at 1e7 and
# below 1e-3, DuckDB's at 1e16 and below 1e-4.
FLOAT_TEXTS = {
    0.0: "0.0", 1.0: "1.0", -3.25: "-3.25", 12.34: "12.34", 0.001: "0.001", 0.0001: "0.0001",
    0.00012345: "0.00012345", 1e-05: "1e-05", -2.5e-07: "-2.5e-07", 1e7: "10000000.0", 12345678.9: "12345678.9",
    123456789012.5: "123456789012.5", 1e15: "1000000000000000.0", 1e16: "1e+16", 1.5e20: "1.5e+20", 1e100: "1e+100",
}
_VALUES = " union all ".join(f"select cast({value!r} as double) as v" for value in FLOAT_TEXTS)
SHOW_FLOAT_TEXTS = ["show", "--inline", f"select v, {{{{ float_text('v') }}}} as t from ({_VALUES}) as x",
                    "--limit", "100", "--output", "json", "--log-format", "text"]


@pytest.fixture(scope="module")
def spark_build(demo_warehouse, tmp_path_factory):
    """The demo's raw data built on Spark and compared with DuckDB's build, then the float_text query shown:
    every dbt command in one Spark session (its JVM starts once, not once per command)."""
    tmp_path = tmp_path_factory.mktemp("spark")
    config_vars = demo_vars(demo_warehouse)  # the demo's deployment rules and services, as a user's nightly run
    variables = json.dumps(config_vars, sort_keys=True)
    # Another night's forecasts (as of another day) join forecast_history, a partitioned table on Spark, beside the
    # build's; run twice, as a rerun of one day, they replace that day's snapshot. DuckDB's copy runs it once.
    later = (["run", "--select", "int_forecast_throughput_weekly+", "--exclude", "resource_type:unit_test"],
             json.dumps({**config_vars, "forecast_as_of": OTHER_AS_OF}, sort_keys=True))
    warehouse = tmp_path / "duckdb" / "throughline.duckdb"
    warehouse.parent.mkdir()
    shutil.copyfile(demo_warehouse, warehouse)
    duck = dbt_target("local", [*later[0], "--vars", later[1]], {"THROUGHLINE_WAREHOUSE": str(warehouse)},
                      tmp_path / "duckdb")
    assert duck.returncode == 0, duck.stdout[-4000:]
    # The show takes the other night's vars (its query reads none) so that dbt reuses the manifest just parsed.
    runs, problems, relations = build_and_compare(warehouse, tmp_path, variables, data_tests="sample",
                                                  then=[later, later, (SHOW_FLOAT_TEXTS, later[1])])
    return runs, problems, relations, tmp_path


@pytest.mark.slow(400)  # CI, one worker (tests/conftest.py starts the slowest first)
def test_the_project_builds_on_spark_with_the_duckdb_results(spark_build):
    runs, problems, relations, tmp_path = spark_build
    builds = runs[:3]  # the build and the other night's two runs; the show after them is the next test's
    for result in builds:
        assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert len(builds) == 3
    # the sample of the data tests ran on Spark and passed, and only it (one shape per layer, the singular tests)
    from pipelines.dbt_assets import dbt_project

    sample = data_test_sample(Path(dbt_project.manifest_path))
    assert len(sample) >= 20
    assert set(re.findall(r"\d+ of \d+ PASS (\S+)", builds[0].stdout)) == set(sample)
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
    # so that equal is not "one snapshot each": the build's and the other night's
    history = tables / "marts.db" / "forecast_history"
    dates = duckdb.sql(f"select count(distinct as_of_date), count(*) filter (where as_of_date = '{OTHER_AS_OF}') "
                       f"from read_parquet('{history}/*/*.parquet', hive_partitioning = true)").fetchall()[0]
    assert dates[0] == 2 and dates[1] > 0, dates


def test_numbers_are_written_into_text_as_duckdb_writes_them(spark_build, tmp_path):
    runs = spark_build[0]
    if len(runs) == 4:
        result = runs[3]
    else:  # the build failed before the show: shown in a Spark of its own, so that this test still says its part
        result = dbt_target("spark", SHOW_FLOAT_TEXTS, {"THROUGHLINE_SPARK_DIR": str(tmp_path / "spark"),
                                                        "THROUGHLINE_WAREHOUSE": str(tmp_path / "unused.duckdb")},
                            tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    shown = json.loads(result.stdout[result.stdout.index('{\n  "show"'):result.stdout.rindex("}") + 1])["show"]
    assert {float(row["v"]): row["t"] for row in shown} == FLOAT_TEXTS
    for value, text in FLOAT_TEXTS.items():
        assert duckdb.sql(f"select cast({value!r} as double)::varchar").fetchall()[0][0] == text
