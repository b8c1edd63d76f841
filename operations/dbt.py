"""How the nightly invokes dbt, without Dagster: the vars throughline.yml decides, the build command, and
whether the parsed manifest is older than the project (read by the Dagster dbt assets and by
`throughline copy-raw --build`)."""

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from connectors.config import DUCKDB_SETTING_ENV_VARS, ThroughlineConfig
from connectors.registry import source_types

# dbt Core whose parse holds for any warehouse of one name (operations/dbt_main.py), installed beside the interpreter
# by `make install` (pyproject.toml's scripts): what the nightly runs, and the build benchmarks with it.
DBT_EXECUTABLE = "throughline-dbt"


def manifest_is_stale(project_dir: Path, manifest: Path) -> bool:
    """True when the manifest is missing or older than any file of the dbt project.

    A manifest left from before a `git pull` names models that no longer exist (or misses new
    ones), and the run then fails inside dagster-dbt with a bare KeyError.
    """
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    # dbt's output folders are pruned before they are walked: target/ keeps a folder per Dagster run
    # (tens of thousands of files after a test suite), and walking it cost every import of the
    # definitions half a minute.
    skip = {"target", "logs", "dbt_packages"}
    for folder, subfolders, files in os.walk(project_dir):
        if folder == str(project_dir):
            subfolders[:] = [name for name in subfolders if name not in skip]
        for name in files:
            path = Path(folder, name)
            if path.is_file() and path.stat().st_mtime > built:  # is_file: not a dangling link
                return True
    return False


# Build folders dagster-dbt leaves in dbt_project/target/ that a nightly keeps (the newest, for a look at the
# last runs' run_results.json and compiled SQL), and the age under which none is removed (another process may
# still be writing it: test workers, a manual run beside the schedule).
RUN_TARGETS_KEPT = 5
RUN_TARGET_MIN_AGE_SECONDS = 3600


def prune_run_targets(target_dir: Path, op_name: str, *, keep: int = RUN_TARGETS_KEPT,
                      min_age_seconds: float = RUN_TARGET_MIN_AGE_SECONDS) -> list[Path]:
    """Remove the build folders `<op_name>-<run id>-<uuid>/` beyond the newest ``keep`` that are older than
    ``min_age_seconds``, and return them. dagster-dbt writes one per run (manifest, compiled SQL, logs: ~30 MB
    for this project) and never removes it: a year of nightlies would fill ~10 GB."""
    removed = beyond_the_newest([path for path in target_dir.glob(f"{op_name}-*") if path.is_dir()], keep,
                                min_age_seconds)
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def beyond_the_newest(paths: list[Path], keep: int, min_age_seconds: float) -> list[Path]:
    """The ``paths`` beyond the newest ``keep`` (by modification time) that are older than ``min_age_seconds``."""
    newest_first = sorted(paths, key=lambda path: path.stat().st_mtime, reverse=True)
    cutoff = time.time() - min_age_seconds
    return [path for path in newest_first[keep:] if path.stat().st_mtime < cutoff]


PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# Parsed projects kept per parse key (target/parsed/<key>.msgpack), the newest few of them: a parse holds for one
# warehouse name, so a checkout that builds warehouses of two names in turn (the demo's and your own, the tests)
# would otherwise parse the whole project again at every switch.
KEPT_PARSES_DIR = "parsed"
KEPT_PARSES = 8


def parse_key(warehouse: str | os.PathLike[str], dbt_args: list[str]) -> str:
    """What a parse of the project depends on besides its files: the warehouse's name (dbt's `database`, in every
    relation's name) and the command's arguments but its vars. Not the warehouse's folder nor the vars:
    throughline-dbt leaves the file's path, its session settings and the vars out of dbt's check
    (operations/dbt_main.py), so warehouses of one name share a parse whatever rules throughline.yml sets."""
    arguments = [arg for i, arg in enumerate(dbt_args)
                 if arg != "--vars" and (i == 0 or dbt_args[i - 1] != "--vars")]
    text = json.dumps([Path(warehouse).stem, arguments])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def kept_parse(target_dir: Path, key: str) -> Path:
    """Where the parsed project of the last build with parse key ``key`` (parse_key) is kept."""
    return target_dir / KEPT_PARSES_DIR / f"{key}.msgpack"


def start_from_kept_parse(run_target: Path, target_dir: Path, key: str, *, fallback: Path | None = None) -> bool:
    """Put the parsed project of the last build with parse key ``key`` into a new build's folder ``run_target``,
    where dbt reads it (dagster-dbt then leaves it: it copies ``target_dir``'s own file only into a folder without
    one); True when there was one. With none kept for ``key`` and no file in ``target_dir`` either (no build
    yet), the parse in the folder ``fallback`` (Dagster's, made as the definitions loaded), if any. ``target_dir``'s
    own file comes first: it is this checkout's last build's, often of this warehouse with other arguments (a build
    with other flags), while the definitions' parse is whichever process loaded them last (a `dagster dev` on
    another config, say), whose profile may differ."""
    run_target.mkdir(parents=True, exist_ok=True)
    sources = [kept_parse(target_dir, key)]
    if fallback is not None and not (target_dir / PARTIAL_PARSE_FILE).is_file():
        sources.append(fallback / PARTIAL_PARSE_FILE)
    for source in sources:
        try:
            shutil.copyfile(source, run_target / PARTIAL_PARSE_FILE)
        except FileNotFoundError:
            continue
        return True
    return False


def keep_partial_parse(run_target: Path, target_dir: Path, key: str | None = None,
                       *, min_age_seconds: float = RUN_TARGET_MIN_AGE_SECONDS) -> bool:
    """Copy a build's parsed project (``partial_parse.msgpack``) from its run folder to ``target_dir``, where
    dagster-dbt and dbt by hand look for it, and, with parse key ``key``, to the kept parse of that key
    (kept_parse); True when there was one to copy. Kept parses beyond the newest KEPT_PARSES are removed once
    older than ``min_age_seconds`` (another run may be copying one).

    The one `dbt parse` writes there when the definitions load has neither the nightly's vars nor its DuckDB
    settings (environment variables profiles.yml reads), and dbt parses the whole project again when either
    differs (~8-13 s of every nightly, measured on the demo): a build's own file matches the next night's
    run. Written beside and swapped in, so a run starting meanwhile reads a whole file."""
    built = run_target / PARTIAL_PARSE_FILE
    if not built.is_file():
        return False
    destinations = [target_dir / PARTIAL_PARSE_FILE]
    if key is not None:
        destinations.append(kept_parse(target_dir, key))
    for destination in destinations:
        destination.parent.mkdir(parents=True, exist_ok=True)
        staged = destination.with_name(f".{destination.name}.{os.getpid()}")
        shutil.copyfile(built, staged)
        os.replace(staged, destination)
    for path in beyond_the_newest(list((target_dir / KEPT_PARSES_DIR).glob("*.msgpack")), KEPT_PARSES,
                                  min_age_seconds):
        path.unlink(missing_ok=True)
    return True


def dbt_vars(config: ThroughlineConfig) -> dict[str, Any]:
    """dbt vars that throughline.yml decides, so users configure each rule in one place.

    `deployment_rules` carries each source's `options.deployments` keyed by source name (the models
    fall back to the var `deployment_rule_defaults` for a source not listed). Vars are global to a dbt
    run, so each source type adds the vars its own settings decide, merged over its instances
    (`SourceType.dbt_vars`, e.g. GitHub's incident labels).
    Without such sources dbt keeps its defaults.
    """
    variables: dict[str, Any] = {}
    rules = {
        source.name: source.options.deployments.for_dbt()
        for source in config.sources
        if getattr(source.options, "deployments", None) is not None
    }
    if rules:
        variables["deployment_rules"] = rules
    for source_type in source_types().values():
        instances = config.sources_of(source_type.name)
        if source_type.dbt_vars is not None and instances:
            variables.update(source_type.dbt_vars(instances))
    if config.forecasts.as_of is not None:
        variables["forecast_as_of"] = config.forecasts.as_of.isoformat()
    return variables


def dbt_build_args(config: ThroughlineConfig, *, unit_tests: bool = False) -> list[str]:
    """The dbt command of the nightly run (a pure function: unit-tested).

    Without the dbt unit tests unless ``unit_tests``: their inputs are fixtures in the project, not the
    warehouse's data, so a nightly would run the same 27 checks of the models' SQL every night (dbt's own
    advice: run them in development and CI). `make test` runs them in every `dbt build` of tests/dbt, and the
    portability builds on PostgreSQL and Spark (`throughline copy-raw --build`) run them on those engines."""
    variables = dbt_vars(config)
    command = ["build"] if unit_tests else ["build", "--exclude-resource-type", "unit_test"]
    return [*command, "--vars", json.dumps(variables, sort_keys=True)] if variables else command


def dbt_env(config: ThroughlineConfig, warehouse: str | os.PathLike[str]) -> dict[str, str]:
    """The environment variables dbt_project/profiles.yml reads DuckDB's settings from: `warehouse:`'s
    memory_limit, temp_directory and threads for the warehouse file ``warehouse`` (the resolved path).
    Threads always: unset in the config, DuckDB's own default (one per core), which a by-hand profile
    fallback cannot compute."""
    settings = config.warehouse.duckdb_settings(warehouse)
    settings.setdefault("threads", str(os.cpu_count() or 1))
    return {DUCKDB_SETTING_ENV_VARS[name]: value for name, value in settings.items()}
