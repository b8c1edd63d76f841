"""operations/unchanged_nodes.py: a nightly leaves out the models and seeds none of whose sources changed since
the last build that succeeded, and builds every node when the project, the vars or a shard merge changed.

The project (a manifest written by hand, the shape dbt writes):
    raw.jira__issues  -> stg_jira__issues -> work_items -> flow_metrics
    raw.gitlab__jobs  -> stg_gitlab__jobs -> deployments
    ops.stream_runs   -> pipeline_runs
    stg_jira__issues, stg_gitlab__jobs -> marks (its SQL checks selected_resources: built with all its parents)
    seed team_mapping (no source)
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from operations.unchanged_nodes import (
    REFRESH_ENV_VAR, exclude_args, existing_relations, plan_build, read_build_inputs, record_build_inputs,
    recorded_build_inputs, refresh_env,
)

EDGES = {
    "source.p.raw.jira__issues": ["model.p.stg_jira__issues"],
    "source.p.raw.gitlab__jobs": ["model.p.stg_gitlab__jobs"],
    "source.p.ops.stream_runs": ["model.p.pipeline_runs"],
    "model.p.stg_jira__issues": ["model.p.work_items", "model.p.marks", "test.p.not_null_stg_jira__issues"],
    "model.p.work_items": ["model.p.flow_metrics"],
    "model.p.stg_gitlab__jobs": ["model.p.deployments", "model.p.marks"],
}
SCHEMAS = {"stg_jira__issues": "staging", "stg_gitlab__jobs": "staging", "work_items": "marts", "flow_metrics": "marts",
           "deployments": "marts", "pipeline_runs": "marts", "marks": "intermediate", "team_mapping": "seeds"}


# incremental models: pipeline_runs keeps a history found nowhere else (meta keeps_history)
INCREMENTAL = ("work_items", "flow_metrics", "deployments", "pipeline_runs")


def manifest(code: dict[str, str] | None = None) -> dict:
    """The project's manifest, with the SQL of the models in ``code`` (name -> SQL) changed."""
    parents: dict[str, list[str]] = {}
    for parent, children in EDGES.items():
        for child in children:
            parents.setdefault(child, []).append(parent)
    nodes = {f"model.p.{name}": {
        "name": name, "resource_type": "model", "schema": schema, "alias": name,
        "config": {"enabled": True, "materialized": "incremental" if name in INCREMENTAL else "table",
                   "meta": {"keeps_history": True} if name == "pipeline_runs" else {}},
        "raw_code": (code or {}).get(name, "{% if 'x' in selected_resources %}" if name == "marks" else "select 1"),
        "depends_on": {"nodes": parents.get(f"model.p.{name}", [])},
    } for name, schema in SCHEMAS.items() if name != "team_mapping"}
    nodes["seed.p.team_mapping"] = {"name": "team_mapping", "resource_type": "seed", "schema": "seeds",
                                    "alias": "team_mapping", "config": {"enabled": True, "materialized": "seed"},
                                    "raw_code": "", "depends_on": {"nodes": []}}
    nodes["test.p.not_null_stg_jira__issues"] = {"name": "not_null_stg_jira__issues", "resource_type": "test",
                                                 "schema": "tests", "alias": "t", "config": {}, "raw_code": "",
                                                 "depends_on": {"nodes": ["model.p.stg_jira__issues"]}}
    sources = {uid: {"schema": uid.split(".")[2], "identifier": uid.split(".")[3]}
               for uid in EDGES if uid.startswith("source.")}
    return {"nodes": nodes, "sources": sources, "child_map": EDGES}


@pytest.fixture
def project(tmp_path) -> tuple[Path, Path, Path]:
    """(warehouse, manifest file, project folder): every relation built, the sources read once on 12-01."""
    project_dir = tmp_path / "dbt_project"
    (project_dir / "models").mkdir(parents=True)
    (project_dir / "models" / "work_items.sql").write_text("select 1")
    (project_dir / "dbt_project.yml").write_text("name: p\n")
    manifest_file = tmp_path / "manifest.json"
    manifest_file.write_text(json.dumps(manifest()))
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for schema in ("raw", "ops", "staging", "marts", "intermediate", "seeds"):
            con.execute(f"CREATE SCHEMA {schema}")
        for table in ("jira__issues", "gitlab__jobs"):
            con.execute(f"CREATE TABLE raw.{table} (record_key VARCHAR, extracted_at TIMESTAMP)")
            con.execute(f"INSERT INTO raw.{table} VALUES ('1', TIMESTAMP '2026-12-01 02:00')")
        con.execute("CREATE TABLE ops.stream_runs (run_id VARCHAR, records INTEGER)")
        con.execute("INSERT INTO ops.stream_runs VALUES ('run-1', 10)")
        for name, schema in SCHEMAS.items():
            con.execute(f"CREATE TABLE {schema}.{name} (x INTEGER)")
    return warehouse, manifest_file, project_dir


def nightly(warehouse: Path, manifest_file: Path, project_dir: Path, args: list[str] | None = None) -> list[str]:
    """Plan a build, then record it as succeeded: the names it left out."""
    plan = plan_build(warehouse, json.loads(manifest_file.read_text()), project_dir, args or ["build"])
    record_build_inputs(warehouse, plan.inputs)
    return sorted(uid.rsplit(".", 1)[-1] for uid in plan.left_out)


def refreshed(warehouse: Path, project_dir: Path, code: dict[str, str] | None = None,
              args: list[str] | None = None) -> list[str]:
    """Plan a build of the project with ``code`` changed, then record it as succeeded: the names of the incremental
    models it rebuilds in full (asserting it leaves nothing out when there are any)."""
    plan = plan_build(warehouse, manifest(code), project_dir, args or ["build"])
    record_build_inputs(warehouse, plan.inputs)
    if plan.refresh:
        assert plan.left_out == []
    return [uid.rsplit(".", 1)[-1] for uid in plan.refresh]


def write(warehouse: Path, sql: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(sql)


def test_nothing_is_left_out_before_a_build_succeeded(project):
    warehouse, manifest_file, project_dir = project
    assert plan_build(warehouse, manifest(), project_dir, ["build"]).left_out == []


def test_a_night_with_nothing_new_leaves_every_model_and_seed_out(project):
    nightly(*project)
    assert nightly(*project) == ["deployments", "flow_metrics", "marks", "pipeline_runs", "stg_gitlab__jobs",
                                 "stg_jira__issues", "team_mapping", "work_items"]


def test_a_changed_source_builds_its_descendants(project):
    warehouse = project[0]
    nightly(*project)
    write(warehouse, "INSERT INTO ops.stream_runs VALUES ('run-2', 3)")  # a new run report
    assert nightly(*project) == ["deployments", "flow_metrics", "marks", "stg_gitlab__jobs", "stg_jira__issues",
                                 "team_mapping", "work_items"]


def test_the_marks_are_built_with_all_their_parents_and_what_descends_from_them(project):
    warehouse = project[0]
    nightly(*project)
    # an issue read again (a later read time): stg_jira__issues, work_items, flow_metrics and the marks, whose
    # other parent stg_gitlab__jobs is built with them, and so deployments
    write(warehouse, "INSERT INTO raw.jira__issues VALUES ('1', TIMESTAMP '2026-12-02 02:00')")
    assert nightly(*project) == ["pipeline_runs", "team_mapping"]


def test_a_row_changed_in_place_in_a_table_without_read_times_counts(project):
    warehouse = project[0]
    nightly(*project)
    write(warehouse, "UPDATE ops.stream_runs SET records = 11")  # same count: the rows' hash moves
    assert "pipeline_runs" not in nightly(*project)


def test_a_relation_missing_from_the_warehouse_is_built_with_its_descendants(project):
    warehouse = project[0]
    nightly(*project)
    write(warehouse, "DROP TABLE marts.work_items")
    assert nightly(*project) == ["deployments", "marks", "pipeline_runs", "stg_gitlab__jobs", "stg_jira__issues",
                                 "team_mapping"]


def test_what_is_left_out_comes_parents_first(project):
    warehouse, manifest_file, project_dir = project
    nightly(*project)
    left_out = plan_build(warehouse, manifest(), project_dir, ["build"]).left_out
    # depth 0: the staging models, pipeline_runs and the seed; 1: work_items, deployments, marks; 2: flow_metrics
    assert [uid.rsplit(".", 1)[-1] for uid in left_out] == [
        "pipeline_runs", "stg_gitlab__jobs", "stg_jira__issues", "team_mapping", "deployments", "marks",
        "work_items", "flow_metrics"]


@pytest.mark.parametrize("change", ["project file", "vars", "shard merge"])
def test_a_changed_project_vars_or_shard_merge_builds_every_node(project, change):
    warehouse, manifest_file, project_dir = project
    nightly(*project, args=["build", "--vars", '{"a": 1}'])
    args = ["build", "--vars", '{"a": 1}']
    if change == "project file":
        (project_dir / "models" / "work_items.sql").write_text("select 2")
    elif change == "vars":
        args = ["build", "--vars", '{"a": 2}']
    else:
        write(warehouse, "CREATE TABLE raw._merged_reads (raw_table VARCHAR, earliest_read TIMESTAMP)")
    assert nightly(warehouse, manifest_file, project_dir, args) == []
    # and the build after it, with nothing new, leaves them out again
    assert len(nightly(warehouse, manifest_file, project_dir, args)) == 8


def test_a_failed_build_records_nothing_so_the_next_takes_in_its_changes(project):
    warehouse, manifest_file, project_dir = project
    nightly(*project)
    write(warehouse, "INSERT INTO raw.gitlab__jobs VALUES ('2', TIMESTAMP '2026-12-02 02:00')")
    planned = plan_build(warehouse, manifest(), project_dir, ["build"]).left_out  # the build fails: no record
    assert "model.p.deployments" not in planned
    assert "deployments" not in nightly(*project)


def test_a_source_table_not_created_yet_reads_as_an_empty_one(project):
    warehouse, manifest_file, project_dir = project
    write(warehouse, "DROP TABLE raw.gitlab__jobs")
    nightly(*project)
    # the build's on-run-start hook creates it empty: nothing changed
    write(warehouse, "CREATE TABLE raw.gitlab__jobs (record_key VARCHAR, extracted_at TIMESTAMP)")
    assert "stg_gitlab__jobs" in nightly(*project)


def test_the_record_holds_each_sources_state(project):
    warehouse, manifest_file, project_dir = project
    nightly(*project)
    with duckdb.connect(str(warehouse)) as con:
        existing = existing_relations(con)
        recorded = recorded_build_inputs(con, existing)
        current = read_build_inputs(con, existing, json.loads(manifest_file.read_text()), project_dir, ["build"])
    assert recorded == current
    assert recorded.sources["source.p.raw.jira__issues"] == "1:2026-12-01 02:00:00:2026-12-01 02:00:00"


def test_exclude_args_are_one_selection():
    assert exclude_args([]) == []
    assert exclude_args(["model.p.a", "seed.p.b"]) == ["--exclude", "a b"]


def test_an_upgraded_model_is_rebuilt_in_full_with_the_incremental_models_reading_it(project):
    warehouse, _, project_dir = project
    refreshed(warehouse, project_dir)
    assert refreshed(warehouse, project_dir) == []  # the same code: incremental as usual
    # a staging model's SQL changed (a cast fixed): the incremental models reading it, directly or not, hold rows of
    # the old SQL; deployments reads another branch, pipeline_runs keeps its history
    assert refreshed(warehouse, project_dir, {"stg_jira__issues": "select 2"}) == ["flow_metrics", "work_items"]
    assert refreshed(warehouse, project_dir, {"stg_jira__issues": "select 2"}) == []  # recorded: done
    assert refreshed(warehouse, project_dir, {"stg_jira__issues": "select 2", "flow_metrics": "select 3"}) == [
        "flow_metrics"]


@pytest.mark.parametrize("change", ["macro", "dbt_project.yml", "vars"])
def test_a_changed_macro_project_file_or_vars_rebuilds_every_incremental_model_in_full(project, change):
    warehouse, _, project_dir = project
    (project_dir / "macros").mkdir()
    (project_dir / "macros" / "hours.sql").write_text("{% macro hours() %}1{% endmacro %}")
    args = ["build", "--vars", '{"a": 1}']
    refreshed(warehouse, project_dir, args=args)
    if change == "macro":
        (project_dir / "macros" / "hours.sql").write_text("{% macro hours() %}2{% endmacro %}")
    elif change == "dbt_project.yml":
        (project_dir / "dbt_project.yml").write_text("name: p\nvars: {b: 1}\n")
    else:
        args = ["build", "--vars", '{"a": 2}']
    assert refreshed(warehouse, project_dir, args=args) == ["deployments", "flow_metrics", "work_items"]


def test_a_seed_edit_or_a_changed_model_file_alone_rebuilds_no_model_in_full(project):
    # the models find a seed's changed rows themselves; a model's file counts through its SQL in the manifest
    warehouse, _, project_dir = project
    (project_dir / "seeds").mkdir()
    (project_dir / "seeds" / "team_mapping.csv").write_text("team\nA\n")
    refreshed(warehouse, project_dir)
    (project_dir / "seeds" / "team_mapping.csv").write_text("team\nB\n")
    (project_dir / "models" / "work_items.sql").write_text("select 2")
    assert refreshed(warehouse, project_dir) == []


def test_a_warehouse_without_recorded_code_rebuilds_its_incremental_models_in_full_once(project):
    # tables built by another command (no record), or recorded before the code was: their code is unknown
    warehouse, _, project_dir = project
    write(warehouse, "DROP TABLE marts.deployments")  # not in the warehouse: built in full anyway
    assert refreshed(warehouse, project_dir) == ["flow_metrics", "work_items"]
    write(warehouse, "DELETE FROM ops.build_inputs WHERE unique_id LIKE 'code:%'")
    assert refreshed(warehouse, project_dir) == ["flow_metrics", "work_items"]
    assert refreshed(warehouse, project_dir) == []


def test_an_upgrade_whose_build_failed_is_rebuilt_in_full_again(project):
    warehouse, _, project_dir = project
    refreshed(warehouse, project_dir)
    upgraded = manifest({"work_items": "select 2"})
    assert plan_build(warehouse, upgraded, project_dir, ["build"]).refresh == ["model.p.flow_metrics",
                                                                               "model.p.work_items"]  # fails
    assert refreshed(warehouse, project_dir, {"work_items": "select 2"}) == ["flow_metrics", "work_items"]


def test_refresh_env_lists_the_unique_ids_and_is_empty_for_none(project):
    warehouse, _, project_dir = project
    refreshed(warehouse, project_dir)
    assert refresh_env(plan_build(warehouse, manifest(), project_dir, ["build"])) == {REFRESH_ENV_VAR: ""}
    plan = plan_build(warehouse, manifest({"work_items": "select 2"}), project_dir, ["build"])
    assert refresh_env(plan) == {REFRESH_ENV_VAR: "model.p.flow_metrics,model.p.work_items"}
