"""Where things live. Paths resolve against the working directory at the moment they are asked for."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from connectors.config import ExtractionConfig, RetentionConfig, ScheduleConfig, config_path, read_yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
WAREHOUSE_ENV_VAR = "THROUGHLINE_WAREHOUSE"
DEFAULT_WAREHOUSE = "warehouse/throughline.duckdb"

# DuckDB allows one writer: every asset that writes the warehouse joins this pool, whose limit is 1
# in dagster_home/dagster.yaml, so runs and steps queue instead of failing on the file lock.
WRITER_POOL = "duckdb_warehouse"


def raw_config_section(name: str) -> dict:
    """One top-level section of throughline.yml read without resolving credentials.

    Definitions load before any run (in the UI, in `definitions validate`), where credentials
    need not be set; only the schedule and warehouse path are read this early.
    """
    path = config_path()
    if not path.exists():
        return {}
    try:
        data = read_yaml(path.read_text()) or {}  # dates stay text: `2024-02-30` is the run's to report
    except yaml.YAMLError:
        return {}  # the run itself reports the YAML error with the file name and line
    section = data.get(name) if isinstance(data, dict) else None
    return section if isinstance(section, dict) else {}


def warehouse_path() -> Path:
    """THROUGHLINE_WAREHOUSE, else `warehouse.path` in throughline.yml, else ./warehouse/throughline.duckdb."""
    value = os.environ.get(WAREHOUSE_ENV_VAR) or raw_config_section("warehouse").get("path") or DEFAULT_WAREHOUSE
    return Path(value).expanduser().resolve()


def schedule_config() -> ScheduleConfig:
    try:
        return ScheduleConfig.model_validate(raw_config_section("schedule"))
    except ValueError:
        return ScheduleConfig()  # a bad schedule section is reported when the config is validated


def retention_config() -> RetentionConfig:
    try:
        return RetentionConfig.model_validate(raw_config_section("retention"))
    except ValueError:
        return RetentionConfig()  # reported by `throughline check-config`


def extraction_config() -> ExtractionConfig:
    """Read at definitions load: the mode decides which raw assets exist."""
    try:
        return ExtractionConfig.model_validate(raw_config_section("extraction"))
    except ValueError:
        return ExtractionConfig()  # reported by `throughline check-config`
