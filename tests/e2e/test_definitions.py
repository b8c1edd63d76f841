"""The Dagster code location: loads cleanly, and its graph joins raw assets to dbt sources."""

from __future__ import annotations

import json

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_definitions_validate_cli_is_clean():
    """...with a manifest half written in dbt's default target folder beside it, as a `dbt run` by hand or
    `make docs-generate` leaves it while they parse: the definitions read Dagster's own (target/dagster/)."""
    from pipelines.dbt_assets import dbt_project

    env = {**os.environ, "DAGSTER_HOME": str(ROOT / "dagster_home")}
    dagster = Path(sys.executable).with_name("dagster")
    by_hand = ROOT / "dbt_project" / "target" / "manifest.json"
    assert Path(dbt_project.manifest_path) != by_hand
    kept = by_hand.read_bytes() if by_hand.exists() else None
    by_hand.parent.mkdir(parents=True, exist_ok=True)
    by_hand.write_text('{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json", "n')
    try:
        out = subprocess.run(
            [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
    finally:
        if kept is None:
            by_hand.unlink()
        else:
            by_hand.write_bytes(kept)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Validation successful" in out.stdout + out.stderr


def test_every_dbt_source_is_a_raw_asset_with_its_own_key():
    from connectors.core.raw import raw_table
    from connectors.registry import source_types
    from pipelines.definitions import defs
    from pipelines.settings import WRITER_POOL

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    raw = {k for k in keys if k.startswith("raw/")}
    # One asset per stream of every registered source type, and no dbt source without one (dagster-dbt would
    # add it as a bare external key). A source type added under connectors/ is counted from the registry;
    # the built-in ones are checked by name.
    assert raw == {f"raw/{raw_table(source_type.name, stream)}" for source_type in source_types().values()
                   for streams in source_type.groups.values() for stream in streams}
    built_in = {
        "raw/jira__issues", "raw/jira__changelogs", "raw/jira__statuses", "raw/jira__fields",
        "raw/jira__projects", "raw/jira__boards", "raw/jira__sprints", "raw/jira__deleted_issues",
        "raw/github__pull_requests",
        "raw/github__deployments", "raw/github__deployment_statuses", "raw/github__workflow_runs",
        "raw/github__repositories", "raw/github__pull_request_reviews", "raw/github__pull_request_commits",
        "raw/github__commits", "raw/github__compare_commits", "raw/github__releases", "raw/github__issues",
        "raw/github__workflow_jobs", "raw/github__tags", "raw/github__pull_request_timeline_events",
        "raw/gitlab__projects", "raw/gitlab__merge_requests", "raw/gitlab__merge_request_commits",
        "raw/gitlab__merge_request_notes", "raw/gitlab__pipelines", "raw/gitlab__jobs", "raw/gitlab__environments",
        "raw/gitlab__deployments", "raw/gitlab__deployment_merge_requests", "raw/gitlab__issues",
        "raw/events__deployments", "raw/events__incidents", "raw/events__rejected_rows",
        "raw/jenkins__jobs", "raw/jenkins__builds", "raw/jenkins__stages",
        "raw/circleci__pipelines", "raw/circleci__workflows", "raw/circleci__jobs",
        "raw/pagerduty__incidents", "raw/pagerduty__log_entries", "raw/pagerduty__services",
        "raw/opsgenie__incidents", "raw/opsgenie__incident_logs", "raw/opsgenie__alerts", "raw/opsgenie__services",
        "raw/outcomes__kpis", "raw/outcomes__key_results", "raw/outcomes__key_result_values", "raw/outcomes__surveys",
        "raw/outcomes__rejected_rows",
    }
    def source_type_of(key: str) -> str:
        return key.removeprefix("raw/").split("__")[0]

    assert {k for k in raw if source_type_of(k) in {source_type_of(b) for b in built_in}} == built_in
    # staging models hang off the raw assets (no dangling external source keys)
    stg = graph.get(dg.AssetKey(["staging", "stg_jira__changelog_items"]))
    assert stg.parent_keys == {dg.AssetKey(["raw", "jira__changelogs"])}
    assert {"marts/work_items", "marts/deployment_frequency_weekly"} <= keys
    # every step that writes the warehouse queues in the one-writer pool
    assert {assets.op.pool for assets in defs.assets} == {WRITER_POOL}


def test_nightly_job_and_schedule():
    from pipelines.definitions import defs

    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == "nightly"
    assert len(list(defs.resolve_job_def("nightly").asset_layer.executable_asset_keys)) > 10


def test_a_changed_dbt_file_makes_the_manifest_stale(tmp_path):
    from operations.dbt import manifest_is_stale

    (tmp_path / "models").mkdir()
    (tmp_path / "target").mkdir()
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1")
    manifest = tmp_path / "target" / "manifest.json"
    assert manifest_is_stale(tmp_path, manifest)  # no manifest yet
    manifest.write_text("{}")
    os.utime(model, (1_000_000_000, 1_000_000_000))
    assert not manifest_is_stale(tmp_path, manifest)
    (tmp_path / "target" / "run_results.json").write_text("{}")  # target/ is output, not input
    assert not manifest_is_stale(tmp_path, manifest)
    model.write_text("select 2")  # edited after the manifest was built
    os.utime(model, (manifest.stat().st_mtime + 10,) * 2)
    assert manifest_is_stale(tmp_path, manifest)


def test_dbt_build_args_carry_the_rules_written_in_throughline_yml():
    from connectors.config import parse_config
    from operations.dbt import dbt_build_args

    def github(name, **options):
        return {"type": "github", "name": name, "auth": {"token": "t"}, "scope": {"org": "acme"}, "options": options}

    jira_only = parse_config({"sources": [{
        "type": "jira", "name": "j", "base_url": "https://x.test", "auth": {"token": "t"}, "scope": {"projects": ["A"]},
    }]}, env={})
    # dbt's own defaults stay; the unit tests (fixtures, not data) run in CI and the portability builds only
    assert dbt_build_args(jira_only) == ["build", "--exclude-resource-type", "unit_test"]
    assert dbt_build_args(jira_only, unit_tests=True) == ["build"]
    config = parse_config({"sources": [
        github("a", deployments={"production_environments": ["Production", "prod-eu"], "services": {"acme/*": "shop"}},
               incident_labels=["Incident", "sev1"]),
        github("b"),  # defaults: production, prod, prd, live / incident
    ]}, env={})
    args = dbt_build_args(config)
    assert args[:4] == ["build", "--exclude-resource-type", "unit_test", "--vars"]
    variables = json.loads(args[4])
    assert variables["github_incident_labels"] == ["incident", "sev1"]
    assert "production_environments" not in variables  # each source's rule decides; no global list
    assert variables["deployment_rules"]["a"]["production_environments"] == ["prod-eu", "production"]
    assert variables["deployment_rules"]["a"]["services"] == {"acme/*": "shop"}
    assert variables["deployment_rules"]["b"]["production_environments"] == ["live", "prd", "prod", "production"]


def test_dbt_project_defaults_match_the_config_defaults():
    """dbt run on its own falls back to `deployment_rule_defaults`: the same rules as an empty config block."""
    import yaml

    from connectors.core.options import DeploymentRules
    from connectors.config import DBT_PROJECT_DIR

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["deployment_rule_defaults"] == DeploymentRules().for_dbt()
    assert "production_environments" not in project["vars"]


# Each config's definitions loaded afresh in one process: the project's modules (which read throughline.yml as they
# load) are dropped before each, Dagster's stay (loading them is most of a process's start, seconds a config).
_STATUS_AND_OWNERS = """
import json, os, sys
for config in sys.argv[1:]:
    os.environ["THROUGHLINE_CONFIG"] = config
    for name in [m for m in sys.modules if m.split(".")[0] in ("pipelines", "connectors", "operations")]:
        del sys.modules[name]
    from pipelines.definitions import defs
    print(json.dumps({
        "owners": sorted({o for spec in defs.resolve_all_asset_specs() for o in spec.owners}),
        "schedules": {s.name: s.default_status.value for s in defs.schedules},
        "sensors": {s.name: s.default_status.value for s in defs.sensors},
    }))
"""


@pytest.fixture(scope="module")
def definitions(tmp_path_factory) -> dict[str, dict]:
    """The code location as `dagster dev` loads it with each of these throughline.yml (None: no file at all)."""
    from connectors.config import DEMO_CONFIG_MARK

    configs = {"own": "owner: data-platform\nsources: []\n", "email": "owner: lead@acme.com\n",
               "demo": f"{DEMO_CONFIG_MARK}: the simulator stands in for the sources.\nsources: []\n", "none": None}
    folder = tmp_path_factory.mktemp("definitions")
    paths = []
    for name, text in configs.items():
        path = folder / name / "throughline.yml"
        path.parent.mkdir()
        if text is not None:
            path.write_text(text)
        paths.append(str(path))
    env = {k: v for k, v in os.environ.items() if k != "THROUGHLINE_WAREHOUSE"}
    out = subprocess.run([sys.executable, "-c", _STATUS_AND_OWNERS, *paths], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(zip(configs, map(json.loads, out.stdout.strip().splitlines()[-len(configs):]), strict=True))


def test_assets_are_owned_by_the_configured_team_and_schedules_run_on_a_config_of_ones_own(definitions):
    own = definitions["own"]
    assert own["owners"] == ["team:data-platform"]  # every asset: raw, dbt, run report, publish
    assert own["schedules"] == {"nightly_schedule": "RUNNING", "compact_schedule": "RUNNING"}
    # the alert sensors launch no runs: on whatever the config
    assert own["sensors"] == {"alert_on_failed_run": "RUNNING", "alert_on_stale_data": "RUNNING"}
    assert definitions["email"]["owners"] == ["lead@acme.com"]


def test_on_the_demo_config_or_none_schedules_start_stopped_and_the_default_team_owns_the_assets(definitions):
    demo, none = definitions["demo"], definitions["none"]
    assert demo["schedules"] == {"nightly_schedule": "STOPPED", "compact_schedule": "STOPPED"}
    assert demo["owners"] == ["team:throughline"]
    assert none["schedules"] == {"nightly_schedule": "STOPPED", "compact_schedule": "STOPPED"}
