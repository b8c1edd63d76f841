"""dbt models, seeds and tests as Dagster assets and checks, through one cached DbtProject."""


import fcntl
import json
import os
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster import AssetCheckResult, AssetExecutionContext, AssetMaterialization, Output
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from packaging.version import Version

from connectors.config import DBT_PROJECT_DIR, WAREHOUSE_ENV_VAR, warehouse_path
from operations.dbt import (DBT_EXECUTABLE, dbt_build_args, dbt_env, keep_partial_parse, manifest_is_stale, parse_key,
                            prune_run_targets, start_from_kept_parse)
from operations.run_report import report_progress
from operations.unchanged_nodes import REFRESH_ENV_VAR, exclude_args, plan_build, record_build_inputs, refresh_env
from pipelines.resources import ThroughlineResource
from pipelines.settings import WRITER_POOL

# dbt runs as a subprocess found on PATH. A venv used without activation (`.venv/bin/python -m ...`,
# the Makefile, CI) has dbt beside the interpreter but not on PATH.
_VENV_BIN = str(Path(sys.executable).parent)
if _VENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_VENV_BIN, os.environ.get("PATH", "")])

# Dagster's parse of the project (manifest.json, which the definitions load) in a folder of its own: dbt's default
# target folder is rewritten by every dbt run by hand and `make docs-generate`, which take no lock, and a
# definitions load beside one of them read its manifest half written (or another engine's, from a build on PostgreSQL).
DAGSTER_TARGET_PATH = Path("target") / "dagster"
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=DAGSTER_TARGET_PATH)
# the same folder, absolute: where the definitions' parse is made, and where a first build takes it from
DAGSTER_TARGET_DIR = Path(dbt_project.manifest_path).parent


class ThroughlineDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without the dbt adapter it opens inside Dagster's process at every `cli()`: it
    loads the profile, the project and every macro there (1.6-4.2 s of each run, measured on the demo) only to
    fetch row counts and column metadata for the events, which these assets never ask for. No adapter is what
    dagster-dbt does for dbt Fusion, which has none."""

    def _initialize_dbt_core_adapter(self, args):  # dagster-dbt 0.29 (pinned in pyproject.toml)
        return None

    @cached_property
    def _cli_version(self) -> Version:
        # dagster-dbt runs `dbt --version` in a process of its own at every command (~1.5 s of a run) to tell dbt
        # Core from dbt Fusion; the dbt it runs is this environment's dbt Core (PATH, above), whose version is here.
        from dbt.version import __version__

        return Version(__version__)


def dbt_executable() -> str:
    """DBT_EXECUTABLE, or plain dbt in an environment installed before it existed (a checkout updated without
    `make install`): the same builds, with a whole parse wherever the warehouse's folder changed."""
    if shutil.which(DBT_EXECUTABLE):
        return DBT_EXECUTABLE
    warnings.warn(f"{DBT_EXECUTABLE} is not installed in this environment: running plain dbt, which parses the "
                  "whole project again for a warehouse in another folder; run `make install` to add it", stacklevel=2)
    return "dbt"


def dbt_resource() -> DbtCliResource:
    return ThroughlineDbtCli(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR),
                             dbt_executable=dbt_executable())


@contextmanager
def _warehouse_in_environment():
    """dbt parse renders profiles.yml, which takes the warehouse path only from THROUGHLINE_WAREHOUSE; set
    it for the parse alone, so importing the definitions leaves the process environment as it was."""
    previous = os.environ.get(WAREHOUSE_ENV_VAR)
    os.environ[WAREHOUSE_ENV_VAR] = previous or str(warehouse_path())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(WAREHOUSE_ENV_VAR, None)


@contextmanager
def _manifest_lock():
    """One process at a time checks, rewrites and reads the manifest: two loading the definitions at once (two runs
    started together, a run beside `dagster dev`) both parsed a stale project, and one read the file while the
    other was writing it."""
    lock_file = Path(dbt_project.project_dir) / "target" / ".manifest.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _parse_project() -> None:
    """dagster-dbt's preparation of the project (`dbt parse` into DAGSTER_TARGET_PATH), by throughline-dbt: its
    parse is one that the first build of a warehouse never built from this checkout starts from (plain dbt's
    records the warehouse's folder and session settings, which throughline-dbt's check leaves out: it would parse
    the whole project again, ~7-13 s)."""
    dbt_resource().cli(["parse", "--quiet"], target_path=DAGSTER_TARGET_DIR).wait()


# `dagster dev` re-parses at every load, as dagster-dbt's preparer does; everywhere else (demo, tests, CI,
# validate) a missing or stale manifest is rebuilt here, so loading the definitions never depends on a manual step.
with _warehouse_in_environment(), _manifest_lock():
    if (dbt_project.preparer.using_dagster_dev()
            or manifest_is_stale(Path(dbt_project.project_dir), Path(dbt_project.manifest_path))):
        _parse_project()
    # read once, here: the steps and the publish assets use this copy, never the file another process may rewrite
    MANIFEST: dict[str, Any] = json.loads(Path(dbt_project.manifest_path).read_text())


class ThroughlineTranslator(DagsterDbtTranslator):
    """Asset policy in one place: layer = group; sources keep dagster-dbt's `raw/<table>` keys."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "mappings"
        fqn = dbt_resource_props.get("fqn", [])
        # fqn = [project, "staging"|"intermediate"|"marts", ...]
        return fqn[1] if len(fqn) > 2 else "dbt"

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.key.path[0] == "marts":  # what BI reads: stale in the UI when no build refreshed it
            from pipelines.monitoring import mart_freshness

            spec = spec.replace_attributes(freshness_policy=mart_freshness())
        return spec


TRANSLATOR = ThroughlineTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=MANIFEST,
    project=dbt_project,
    dagster_dbt_translator=TRANSLATOR,
    pool=WRITER_POOL,
    name="dbt_models",
)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, throughline: ThroughlineResource):
    config, warehouse = throughline.config(), throughline.warehouse()
    # profiles.yml reads the warehouse path from the environment; the dbt subprocess inherits it.
    os.environ[WAREHOUSE_ENV_VAR] = str(warehouse)
    os.environ.update(dbt_env(config, warehouse))  # memory limit, spill folder, threads
    started = time.monotonic()
    built, passed, failed = 0, 0, 0
    # The run's build folder as dagster-dbt names it, given the parse of the last build of this warehouse's name.
    target_dir = DBT_PROJECT_DIR / "target"
    op_name = context.op_execution_context.op.name
    run_target = target_dir / f"{op_name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    args = dbt_build_args(config)
    key = parse_key(warehouse, args)
    # a checkout's first build starts from the parse made as the definitions loaded (throughline-dbt takes it: the
    # warehouse's folder, session settings and the vars are left out of its check)
    start_from_kept_parse(run_target, target_dir, key, fallback=DAGSTER_TARGET_DIR)
    # the models and seeds none of whose inputs changed since the last build that succeeded are left out; the
    # incremental models whose code changed since (an upgrade) are rebuilt in full
    plan = plan_build(warehouse, MANIFEST, DBT_PROJECT_DIR, args)
    left_out = plan.left_out
    if plan.refresh:
        context.log.info(f"incremental models rebuilt in full ({len(plan.refresh)}), as their code or that of a "
                         "model they read changed since the last complete build: "
                         + ", ".join(uid.rsplit(".", 1)[-1] for uid in plan.refresh))
    # reported first: a multi-asset reports its assets parents first, and none of these has a rebuilt ancestor
    yield from left_as_they_are(context, MANIFEST, left_out)
    os.environ.update(refresh_env(plan))
    try:
        invocation = dbt.cli([*args, *exclude_args(left_out)], context=context, target_path=run_target)
    finally:
        # dbt's process started with its copy: a later dbt of this process (a test's, the next run's) must not see it
        os.environ.pop(REFRESH_ENV_VAR, None)
    try:
        for event in invocation.stream():
            if isinstance(event, AssetCheckResult):
                passed, failed = passed + event.passed, failed + (not event.passed)
            elif isinstance(event, Output | AssetMaterialization):
                built += 1
            yield event
    finally:
        keep_partial_parse(run_target, target_dir, key)
        prune_run_targets(target_dir, op_name)
    # reached only when dbt succeeded (dagster-dbt raises on a failed build); a build of some of the assets (picked
    # in the UI) rebuilt only those, so only a build of all of them is where the next build may start from
    if context.selected_asset_keys >= set(dbt_models.keys):  # (context.assets_def is the subset)
        record_build_inputs(warehouse, plan.inputs)
    # The build's two phase lines for `throughline demo`; Dagster's log has every node.
    report_progress(f"dbt build: {built} models and seeds built in {time.monotonic() - started:.0f}s"
                    + (f" ({len(left_out)} unchanged left as they are)" if left_out else "")
                    + (f" ({len(plan.refresh)} incremental rebuilt in full after a code change)"
                       if plan.refresh else ""))
    report_progress(f"tests: {passed} passed, {failed} failed" + (" (see the log)" if failed else ""))


def left_as_they_are(context: AssetExecutionContext, manifest: Mapping[str, Any], unique_ids: list[str]):
    """An output for each selected model or seed the build left out because none of its inputs changed: its
    relation is current, and the steps downstream of it (publish, the dashboards) run as after a rebuild."""
    for unique_id in unique_ids:
        key = TRANSLATOR.get_asset_spec(manifest, unique_id, dbt_project).key
        if key in context.selected_asset_keys:
            yield Output(None, output_name=context.assets_def.get_output_name_for_asset_key(key),
                         metadata={"left as it is": "none of its inputs changed since the last build"})
