"""The Spark portability check: build dbt models with the `spark` target and compare them with the DuckDB build.

Used by tests/e2e/test_dbt_spark.py and by hand while porting a model:

    python -m tests.support.spark --warehouse W [--select SEL] [--vars JSON] [--data-tests all|sample|none]
                                  [--work-dir D]

copies W's raw layer to Parquet (`throughline copy-raw --target spark`'s copy), runs `dbt build --target spark`
on SEL (default: what is ported, operations/spark_copy.py PORTED_SELECTION) with the data tests asked for (by
default every one; `sample`: data_test_sample()) and compares each table Spark built
(staging too is a table on Spark: dbt_project.yml) with the same relation of W, row for row, reading the tables'
Parquet files with DuckDB, with the PostgreSQL check's rules (tests/support/portability.py: floats to 9
significant digits).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import duckdb

from operations.spark_copy import PORTED_SELECTION, SPARK_DIR_VAR, copy_raw
from tests.support.portability import SCHEMAS, compare, dbt_target_runs


def spark_relations(tables_dir: Path) -> list[tuple[str, str]]:
    """The (schema, name) of every table Spark built under its warehouse directory (`<schema>.db/<name>/`)."""
    return sorted((schema.name.removesuffix(".db"), table.name) for schema in tables_dir.glob("*.db")
                  if schema.name.removesuffix(".db") in SCHEMAS for table in schema.iterdir() if table.is_dir())


def tables_connection(tables_dir: Path, warehouse: Path | None = None
                      ) -> tuple[duckdb.DuckDBPyConnection, list[tuple[str, str]]]:
    """An in-memory DuckDB whose `<schema>.<name>` views read Spark's tables, for compare(); and the tables that
    have no Parquet file to read. A partitioned table (`<column>=<value>/` folders) is read with its partition
    column, which Spark puts last: with `warehouse`, the view lists the columns in the DuckDB relation's order."""
    con = duckdb.connect()
    # Spark writes its timestamps as instants (UTC in the session); read them back as UTC wall times.
    con.execute("set TimeZone = 'UTC'")
    unreadable = []
    for schema, name in spark_relations(tables_dir):
        folder = tables_dir / f"{schema}.db" / name
        con.execute(f'create schema if not exists "{schema}"')
        partitioned = not list(folder.glob("*.parquet"))
        if partitioned and not list(folder.glob("*=*/*.parquet")):
            unreadable.append((schema, name))
            continue
        source = (f"read_parquet('{folder}/*=*/*.parquet', hive_partitioning = true)" if partitioned
                  else f"read_parquet('{folder}/*.parquet')")
        columns = "*"
        if warehouse is not None and partitioned:
            with duckdb.connect(str(warehouse), read_only=True) as duck:
                names = [row[0] for row in duck.execute(
                    "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                    "order by ordinal_position", [schema, name]).fetchall()]
            columns = ", ".join(f'"{column}"' for column in names) or "*"
        con.execute(f'create view "{schema}"."{name}" as select {columns} from {source}')
    return con, unreadable


def data_test_sample(manifest: Path) -> list[str]:
    """The names of one data test of each shape in each layer and of every singular test, from a manifest.

    A shape is a generic test (not_null_columns, accepted_values, unique_combination_of_columns, ...) with the
    arguments and the severity it is given: tests of one shape compile to the same SQL but for the relation and
    columns. On tables equal to DuckDB's row for row, which the comparison checks, a test's result is its DuckDB
    result; what Spark adds is whether each shape's SQL runs there, which one test of it answers (the first by
    name, in each layer its models are built in). All of them took ~100 s of Spark queries on the demo (405 then,
    before the not-null checks became one test per model)."""
    nodes = json.loads(manifest.read_text())["nodes"]
    chosen: dict[tuple, str] = {}
    for node in sorted((node for node in nodes.values() if node["resource_type"] == "test"),
                       key=lambda node: node["name"]):
        metadata = node.get("test_metadata")
        if metadata is None:
            chosen[("singular", node["name"])] = node["name"]
            continue
        parent = nodes.get(node.get("attached_node"), {})
        # a model's fqn: [project, layer (staging, intermediate, marts), ..., name]
        layer = parent["fqn"][1] if parent.get("resource_type") == "model" else parent.get("resource_type")
        arguments = tuple(sorted(set(metadata.get("kwargs", {})) - {"model", "column_name"}))
        shape = (metadata.get("namespace"), metadata["name"], arguments, node["config"].get("severity"),
                 bool(node["config"].get("where")), layer)
        chosen.setdefault(shape, node["name"])
    return sorted(chosen.values())


def build_and_compare(warehouse: Path, work_dir: Path, variables: str | None = None, select: str | None = None,
                      data_tests: str = "all", then: list[tuple[list[str], str | None]] = ()
                      ) -> tuple[list[subprocess.CompletedProcess], list[str], list[tuple[str, str]]]:
    """Copy, build on Spark (seeds and models, with the data tests of `data_tests`: "all", "sample"
    (data_test_sample()) or "none", left to the DuckDB build), run each of `then` (dbt arguments, vars as JSON)
    after it, as later nightly runs, and compare: (the result of each dbt run up to the first that failed, the
    build's first; the differences; the relations compared). The runs share one Spark session
    (portability.py dbt_target_runs), as one long-lived cluster would serve the nights."""
    spark_dir = work_dir / "spark"
    copy_raw(warehouse, spark_dir)
    env = {SPARK_DIR_VAR: str(spark_dir), "THROUGHLINE_WAREHOUSE": str(warehouse)}
    selection = ["--select", select, "--exclude", "resource_type:unit_test"] if select else list(PORTED_SELECTION)
    if data_tests == "sample":
        # Directly selected, only these: eager indirect selection would add every test of the models built.
        from pipelines.dbt_assets import dbt_project  # fresh manifest: loading the definitions rebuilds a stale one

        at = selection.index("--select") + 1
        selection[at] = " ".join([selection[at], *data_test_sample(Path(dbt_project.manifest_path))])
        selection += ["--indirect-selection", "empty"]
    elif data_tests == "none":
        selection.append("resource_type:test")
    elif data_tests != "all":
        raise ValueError(f"data_tests: all, sample or none, not {data_tests!r}")
    args = ["build", *selection] + (["--vars", variables] if variables else [])
    runs = dbt_target_runs("spark", [args, *([*later] + (["--vars", later_vars] if later_vars else [])
                                            for later, later_vars in then)], env, work_dir)
    # What was built before a failure is compared too: a port proceeds model by model.
    tables_dir = spark_dir / "tables"
    relations = spark_relations(tables_dir)
    con, unreadable = tables_connection(tables_dir, warehouse)
    try:
        problems = [f"{schema}.{name}: no Parquet file in Spark's table" for schema, name in unreadable]
        readable = [relation for relation in relations if relation not in unreadable]
        # build_settings is the keyed increments' bookkeeping (macros/keyed_increments.sql): on DuckDB a hash of
        # the seeds' rows too, on Spark (where those models are rebuilt in full and never read it) of the SQL
        # and vars only. Every other column is compared.
        return runs, problems + compare(warehouse, con, readable, ignore=frozenset({"build_settings"})), relations
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.spark")
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--select", default=None, help="default: what is ported (operations/spark_copy.py)")
    parser.add_argument("--vars", default=None, help="dbt vars as JSON (the DuckDB build's)")
    parser.add_argument("--data-tests", choices=("all", "sample", "none"), default="all",
                        help="sample: one of each shape in each layer (data_test_sample); none: the DuckDB build's")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/throughline-portability-spark"))
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    runs, problems, relations = build_and_compare(args.warehouse, args.work_dir, args.vars, args.select,
                                                 args.data_tests)
    result = runs[-1]
    print(result.stdout[-6000:])
    print(result.stderr[-3000:], file=sys.stderr)
    for problem in problems:
        print("DIFF", problem)
    print(f"{len(relations)} relation(s) compared, {len(problems)} differ; dbt exit {result.returncode}")
    return 0 if result.returncode == 0 and relations and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
