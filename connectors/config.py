"""throughline.yml: the application settings (warehouse, schedule, alerts, freshness, retention, extraction), the
list of sources validated in full before any request is made, and the one route each setting takes to where it
acts.

Credentials are written as ``${ENV_VAR}`` references and resolved here; the resolved values are
``SecretStr`` so that a repr, a log line or a validation error can never print them. Each source type's own
entry model lives in its folder (``connectors/<source>/``) and reaches the `sources:` list through the registry.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator

from connectors.core.errors import ConfigError
from connectors.core.options import SourceConfig, StrictModel

CONFIG_ENV_VAR = "THROUGHLINE_CONFIG"
DEFAULT_CONFIG_PATH = "throughline.yml"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# Where the run opens the warehouse; wins over `warehouse.path`. `throughline` and the Dagster dbt assets set it
# for dbt, whose profile (dbt_project/profiles.yml) reads the path from it.
WAREHOUSE_ENV_VAR = "THROUGHLINE_WAREHOUSE"
DEFAULT_WAREHOUSE = "warehouse/throughline.duckdb"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


# DuckDB's own size syntax: a number and a unit (decimal KB/MB/GB/TB or binary KiB/MiB/GiB/TiB), or a share of RAM.
_DUCKDB_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)|\d+(\.\d+)?\s*%", re.IGNORECASE)
# The environment variables that hand the settings to dbt (dbt_project/profiles.yml; operations/dbt.py sets them).
DUCKDB_SETTING_ENV_VARS = {
    "memory_limit": "THROUGHLINE_DUCKDB_MEMORY_LIMIT",
    "temp_directory": "THROUGHLINE_DUCKDB_TEMP_DIRECTORY",
    "threads": "THROUGHLINE_DUCKDB_THREADS",
}


class WarehouseConfig(StrictModel):
    path: str = Field(DEFAULT_WAREHOUSE, min_length=1,
                      description=f"The DuckDB file (relative: to the working directory); {WAREHOUSE_ENV_VAR} wins.")
    # 3GB (DuckDB's GB: 2.8 GiB) rather than DuckDB's default of 80% of RAM: the limit bounds DuckDB's buffer
    # pool, not the dbt or Dagster process around it, and issue 20 holds a full build at 1M and 3M issues to
    # 4 GiB peak RSS; beyond the limit DuckDB spills to temp_directory instead of growing with the organisation.
    memory_limit: str = Field(
        "3GB", description="DuckDB's memory limit for loads and dbt builds, e.g. '3GB', '6GiB' or '50%' (of RAM); "
        "past it DuckDB spills to temp_directory.")
    temp_directory: str | None = Field(
        None, min_length=1,
        description="Where DuckDB spills (relative: to the working directory); default: '<warehouse path>.tmp', "
        "beside the warehouse file, i.e. on its disk.")
    threads: int | None = Field(None, ge=1, le=1024,
                                description="DuckDB's worker threads; default: DuckDB's (one per core).")

    @field_validator("memory_limit")
    @classmethod
    def _duckdb_size(cls, value: str) -> str:
        text = value.strip()
        if not _DUCKDB_SIZE.fullmatch(text) or float(re.match(r"[\d.]+", text).group()) == 0:
            raise ValueError(f"'{value}' is not a DuckDB memory size: write a number and a unit, e.g. '3GB' or "
                             "'6GiB', or a share of RAM such as '50%'")
        if text.endswith("%") and float(text[:-1]) > 100:
            raise ValueError(f"'{value}' is more than all of the RAM: write at most '100%'")
        return text

    def duckdb_settings(self, warehouse: str | os.PathLike[str]) -> dict[str, str]:
        """The DuckDB settings for the warehouse file ``warehouse`` (the resolved path: THROUGHLINE_WAREHOUSE may
        move it), as strings for `SET` and for the environment; threads only when set (else DuckDB's own)."""
        temp = Path(self.temp_directory).expanduser().resolve() if self.temp_directory else Path(f"{warehouse}.tmp")
        settings = {"memory_limit": self.memory_limit, "temp_directory": str(temp)}
        if self.threads is not None:
            settings["threads"] = str(self.threads)
        return settings


_CRON_FIELDS = (  # name, lowest, highest, names (their position is their number, from `lowest`)
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_CRON_SHORTHANDS = {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
_CRON_EXAMPLE = "write five fields 'minute hour day-of-month month day-of-week', e.g. '0 2 * * *' (02:00 every day)"


def _cron_value(text: str, field: tuple[str, int, int, tuple[str, ...]]) -> int:
    name, lowest, highest, names = field
    number = names.index(text.lower()) + lowest if text.lower() in names else int(text) if text.isdigit() else None
    if number is None:
        raise ValueError(f"'{text}' is not a number{' or a name' if names else ''}")
    if not lowest <= number <= highest:
        raise ValueError(f"{number} is outside {lowest}-{highest}")
    return number


def _cron_item(item: str, field: tuple[str, int, int, tuple[str, ...]]) -> list[int] | None:
    """The values one comma item names (None: every value); raises ValueError saying what is wrong."""
    name = field[0]
    if name == "day of month" and item.upper() == "L":
        return None  # the last day of the month
    if name == "day of week" and ("#" in item or item.upper().startswith("L")):
        day, _, nth = item.lstrip("Ll").partition("#")  # 5#3: the third Friday; L5: the last Friday
        _cron_value(day, field)
        if nth and not (nth.isdigit() and 1 <= int(nth) <= 5):
            raise ValueError(f"'#{nth}' names no week of the month (1-5)")
        return None
    span, _, step = item.partition("/")
    if step and not (step.isdigit() and int(step) > 0):
        raise ValueError(f"the step '/{step}' is not a positive number")
    if span == "*" or (span == "?" and name.startswith("day")):  # ?: "no specific day", as in Quartz
        return None
    first, _, last = span.partition("-")
    low = _cron_value(first, field)
    high = _cron_value(last, field) if last else (field[2] if step else low)
    if high < low:  # 22-2: a range over the end (22, 23, 0, 1, 2), as cron reads it
        return None
    return list(range(low, high + 1, int(step) if step else 1))


def check_cron(value: str) -> str:
    """A cron expression Dagster's schedules accept, refused here with what is wrong rather than by a
    traceback when the definitions load."""
    text = " ".join(value.split())
    if text.lower() in _CRON_SHORTHANDS:
        return text
    parts = text.split(" ")
    if len(parts) != 5:
        raise ValueError(f"'{value}' is not a cron expression: {_CRON_EXAMPLE}")
    days: list[list[int] | None] = []
    for part, field in zip(parts, _CRON_FIELDS, strict=True):
        values: list[int] | None = []
        for item in part.split(","):
            try:
                named = _cron_item(item, field)
            except ValueError as exc:
                raise ValueError(f"'{value}': the {field[0]} field '{part}': {exc}; {_CRON_EXAMPLE}") from None
            values = None if named is None or values is None else values + named
        days.append(values)
    day_of_month, month = days[2], days[3]
    # Dagster refuses only a single February 30/31; a list of such days would never run either.
    if month == [2] and day_of_month is not None and set(day_of_month) <= {30, 31}:
        raise ValueError(f"'{value}' names February {day_of_month[0]}, which never comes")
    return text


Cron = Annotated[str, AfterValidator(check_cron)]


class ScheduleConfig(StrictModel):
    cron: Cron = "0 2 * * *"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value


class WebhookAlert(StrictModel):
    # The URL itself is the credential of a Slack or Teams incoming webhook: a secret like a token.
    webhook_url: SecretStr


class EmailAlert(StrictModel):
    smtp_host: str
    smtp_port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS (port 587); false for a local relay.")
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    recipients: list[str] = Field(min_length=1)


class AlertsConfig(StrictModel):
    """Where a failed run, stale data or a failed mart test is reported; nothing configured: logs only."""

    slack: WebhookAlert | None = None
    teams: WebhookAlert | None = None
    email: EmailAlert | None = None


class FreshnessConfig(StrictModel):
    """How old data may be before it counts as stale (hours since the last successful read or build)."""

    raw_hours: float = Field(36.0, gt=0, description="Each raw stream; a nightly load leaves a day's margin.")
    marts_hours: float = Field(36.0, gt=0, description="Each mart, since its last build.")
    sources: dict[str, float] = Field(
        default_factory=dict, description="Per source name, overriding raw_hours (e.g. a weekly export: 192)."
    )

    def limit_for(self, source_name: str) -> float:
        return self.sources.get(source_name, self.raw_hours)


class RetentionConfig(StrictModel):
    """Weekly compaction of the working warehouse (operations/compact.py)."""

    compact_cron: Cron = Field("0 4 * * 0", description="When to compact, in schedule.timezone (Sunday 04:00).")
    run_report_days: int = Field(400, ge=1, description="Run-report rows (ops.stream_runs) kept this many days.")


class ForecastsConfig(StrictModel):
    """Delivery forecasts (docs/METRICS.md#delivery-forecasts)."""

    as_of: date | None = Field(
        None, description="The date forecasts are made on (dbt var forecast_as_of). Unset: the day of the last "
        "Jira read, as a nightly run wants. Set it to rebuild a past night's forecasts; the demo sets it to the "
        "day its simulated history stands at.")


class ExtractionConfig(StrictModel):
    """How extraction is spread over processes (pipelines/sharded_assets.py, docs/DEPLOY.md)."""

    mode: Literal["single", "sharded"] = Field(
        "single",
        description="single: one step per source type and group writes the warehouse. sharded: one Dagster "
        "partition per source and scope (Jira project, repository, ...), each into its own shard file, so "
        "partitions run in parallel; one merge step per group then writes the warehouse.",
    )
    shards_path: str | None = Field(
        None, description="Folder of the shard files (a volume every worker mounts); default: <warehouse dir>/shards."
    )


# Dagster asset owners are a team ("team:<name>") or an email address (docs/OPERATIONS.md#owners).
DEFAULT_OWNER = "throughline"
OWNER_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9_.-]*|[^@\s]+@[^@\s]+\.[^@\s]+)$"


# The first line of the config `throughline demo` and `throughline dev` write: a config that is not the user's.
DEMO_CONFIG_MARK = "# Written by `make demo`"


def has_own_config() -> bool:
    """Whether throughline.yml (or $THROUGHLINE_CONFIG) exists and is not the demo's: schedules and sensors
    that launch runs start stopped until it does."""
    try:
        return not config_path().read_text().startswith(DEMO_CONFIG_MARK)
    except (OSError, UnicodeDecodeError):
        return False


def asset_owner() -> str:
    """`owner:` of throughline.yml as a Dagster owner, read at definitions load (no credentials needed): an
    email as it is, a team name as team:<name>; the default team while the file or the value is missing or
    wrong (check-config reports a wrong one)."""
    try:
        data = _read(config_path())
    except ConfigError:
        data = None
    value = data.get("owner") if isinstance(data, dict) else None
    if not isinstance(value, str) or not re.fullmatch(OWNER_PATTERN, value):
        value = DEFAULT_OWNER
    return value if "@" in value else f"team:{value}"


class ThroughlineConfig(StrictModel):
    warehouse: WarehouseConfig = WarehouseConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    alerts: AlertsConfig = AlertsConfig()
    freshness: FreshnessConfig = FreshnessConfig()
    retention: RetentionConfig = RetentionConfig()
    extraction: ExtractionConfig = ExtractionConfig()
    forecasts: ForecastsConfig = ForecastsConfig()
    owner: str = Field(
        DEFAULT_OWNER, pattern=OWNER_PATTERN,
        description="Who owns the assets in Dagster: a team name (e.g. data-platform) or an email address.",
    )
    # Each entry is validated by its type's model (`config_model()` narrows this to the registered ones).
    sources: list[SourceConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # A section whose keys are all commented out (`alerts:` alone) is YAML null: its defaults apply.
        if isinstance(data, dict):
            # `sources:` with every entry commented out is no list either; check_config says none is configured.
            return {k: (([] if k == "sources" else {}) if v is None else v) for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _unique_names(self) -> ThroughlineConfig:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"two sources are named '{source.name}'; names must be unique")
            seen.add(source.name)
        return self

    @model_validator(mode="after")
    def _sharded_partition_keys(self) -> ThroughlineConfig:
        if self.extraction.mode != "sharded":
            return self
        from connectors.partitions import described, partition_key_problems  # late: it reads the registry

        if problems := partition_key_problems([described(s) for s in self.sources]):
            raise ValueError("extraction.mode sharded: " + "; ".join(problems))
        return self

    def sources_of(self, source_type: str) -> list[Any]:
        return [s for s in self.sources if s.type == source_type]


_CONFIG_MODELS: dict[tuple[type[BaseModel], ...], type[ThroughlineConfig]] = {}


def config_model() -> type[ThroughlineConfig]:
    """ThroughlineConfig whose `sources` take exactly the config models of the registered source types (the
    connectors/ folders and installed plugins): a new source needs no edit here."""
    from pydantic import create_model

    from connectors.registry import source_types  # late: the registry imports every connector

    models = tuple(t.config_model for t in source_types().values())
    if models not in _CONFIG_MODELS:
        entry = Annotated[Union[models], Field(discriminator="type")]  # noqa: UP007 - a union of a tuple
        _CONFIG_MODELS[models] = create_model(
            "ThroughlineConfig", __base__=ThroughlineConfig, sources=(list[entry], Field(default_factory=list))
        )
    return _CONFIG_MODELS[models]


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH))


def _expand(
    value: Any, where: list[str], env: Mapping[str, str], problems: list[tuple[tuple[str, ...], str]]
) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, [*where, str(k)], env, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, [*where, str(i)], env, problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if env.get(name):
            return env[name]
        if default is not None:  # as in the shell, ${VAR:-x} also stands in for a variable set but empty
            return default
        problems.append((tuple(where), f"environment variable {name} is not set; export it before running"
                         if name not in env else
                         f"environment variable {name} is set but empty; export its value before running"))
        return ""

    return _ENV_REF.sub(substitute, value)


def _source_type_of(raw: Mapping[str, Any] | None, index: int) -> str | None:
    sources = (raw or {}).get("sources") or []
    if index < len(sources) and isinstance(sources[index], dict):
        return sources[index].get("type")
    return None


def _describe(loc: list[str] | tuple[Any, ...], message: str, raw: Mapping[str, Any] | None = None) -> str:
    """Name the source by its `name` (not a list index) and the field by its dotted path."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "sources" and parts[1].isdigit():
        index = int(parts[1])
        rest = parts[2:]
        if rest and rest[0] == _source_type_of(raw, index):  # pydantic puts the union tag in the path
            rest = rest[1:]
        name = None
        if raw is not None:
            sources = raw.get("sources") or []
            if index < len(sources) and isinstance(sources[index], dict):
                name = sources[index].get("name")
        who = f"source '{name}'" if name else f"source #{index + 1}"
        field = ".".join(rest) or "(the whole entry)"
        return f"{who}, field '{field}': {message}"
    return f"field '{'.'.join(parts) or '(top level)'}': {message}"


def _where(loc: tuple[Any, ...] | list[Any], raw: Mapping[str, Any] | None) -> tuple[str, ...]:
    """A location without the union tag pydantic puts after a source's index: comparable with _expand's."""
    parts = [str(p) for p in loc]
    if len(parts) >= 3 and parts[0] == "sources" and parts[1].isdigit():
        if parts[2] == _source_type_of(raw, int(parts[1])):
            del parts[2]
    return tuple(parts)


def _cross_checks(raw: Mapping[str, Any]) -> list[str]:
    """Mistakes between sections, found on the raw file so they are reported with every other problem."""
    names = [s.get("name") for s in raw.get("sources") or [] if isinstance(s, dict)]
    freshness = raw.get("freshness") if isinstance(raw.get("freshness"), dict) else {}
    limits = freshness.get("sources") if isinstance(freshness.get("sources"), dict) else {}
    return [
        f"field 'freshness.sources.{name}': no source is named '{name}', so this limit applies to nothing; "
        f"use one of the names under sources ({', '.join(map(str, names)) or 'none configured'})"
        for name in limits if name not in names
    ]


def _problems(raw: Mapping[str, Any], env: Mapping[str, str]):
    """(the validated config, or None; one line per problem, every problem of the file at once)."""
    unresolved: list[tuple[tuple[str, ...], str]] = []
    expanded = _expand(dict(raw), [], env, unresolved)
    lines = [_describe(list(loc), message, raw) for loc, message in unresolved]
    lines += _cross_checks(raw)
    try:
        config = config_model().model_validate(expanded)
    except ValidationError as exc:
        config = None
        errors = exc.errors(include_url=False, include_input=False)
        # A misspelt key is one mistake, not "unknown key" plus "required but missing": say what was meant.
        missing = {_where(e["loc"], raw) for e in errors if e["type"] == "missing"}
        meant: dict[tuple[str, ...], str] = {}
        for err in errors:
            where = _where(err["loc"], raw)
            if err["type"] == "extra_forbidden":
                siblings = [m[-1] for m in missing if m[:-1] == where[:-1]]
                if close := difflib.get_close_matches(where[-1], siblings, n=1):
                    meant[where] = close[0]
                    missing.discard((*where[:-1], close[0]))
        for err in errors:
            where = _where(err["loc"], raw)
            if err["type"] == "missing" and where not in missing:
                continue  # reported as the misspelling above
            # A field whose variable is missing holds "" for now: what pydantic then says of it (or of the
            # block around it, e.g. "give a token") is that same mistake again.
            if any(loc[:len(where)] == where and len(where) > 2 or where[:len(loc)] == loc for loc, _ in unresolved):
                continue
            message = err["msg"]
            if err["type"] == "extra_forbidden" and where in meant:
                message = f"unknown key; did you mean '{meant[where]}'? (see throughline.example.yml)"
            elif err["type"] == "extra_forbidden":
                message = "unknown key; remove it or fix its spelling (see throughline.example.yml)"
            elif err["type"] == "missing":
                message = "required but missing"
            elif err["type"] == "union_tag_invalid":  # an unknown `type`
                message = (f"'{err['ctx']['tag']}' is not a source type; known types: {err['ctx']['expected_tags']} "
                           "(a type from another package needs that package installed: it declares an entry point "
                           "in group 'throughline.sources')")
            elif message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            lines.append(_describe(err["loc"], message, raw))
    return (None if lines else config), lines


def parse_config(raw: Mapping[str, Any], *, origin: str = "throughline.yml", env: Mapping[str, str] | None = None):
    """Validate a loaded YAML mapping; every problem is reported at once, each on its own line."""
    env = os.environ if env is None else env
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: the file must be a mapping with a 'sources' list")
    config, lines = _problems(raw, env)
    if lines:
        raise ConfigError(f"{origin} is not valid:\n  " + "\n  ".join(lines))
    return config


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: `start_date: 2024-02-30` stays text for the date check to explain,
    where PyYAML's own date parsing would crash with a bare ValueError."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _FastLoader(getattr(yaml, "CSafeLoader", _Loader)):
    """_Loader's rules, parsed by libyaml where PyYAML has it (its wheels do): the file is read at every step of
    a run, and libyaml reads it ~6x faster than the pure-Python parser."""


_FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def read_yaml(text: str) -> Any:
    """throughline.yml's text as data; dates stay strings. Raises yaml.YAMLError."""
    try:
        return yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a SafeLoader's rules
    except yaml.YAMLError:
        # A mistake is described by the pure-Python parser: its messages name what it expected where
        # ("expected <block end>, but found ..."), libyaml's often only a missing "-".
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def _read(path: Path) -> Any:
    if not path.exists():
        raise ConfigError(
            f"no configuration at {path}: copy throughline.example.yml to throughline.yml, "
            f"or point {CONFIG_ENV_VAR} at your file"
        )
    if path.is_dir():
        raise ConfigError(f"{path} is a directory: point {CONFIG_ENV_VAR} at the throughline.yml inside it")
    try:
        return read_yaml(path.read_text())
    except yaml.YAMLError as exc:
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        text = " ".join(str(problem or exc).split())  # PyYAML's own text spans lines and quotes the source
        raise ConfigError(f"{path}: not valid YAML{where}: {text}; check the indentation and quoting there") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc.__class__.__name__}: {exc}); check its permissions") from None


def load_config(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None):
    path = Path(path) if path is not None else config_path()
    return parse_config(_read(path) or {}, origin=str(path), env=env)


def raw_config_section(name: str) -> dict:
    """One top-level section of throughline.yml with its ``${ENV}`` references resolved, the rest unread.

    Definitions load before any run (in the UI, in `definitions validate`), where the sources' credentials
    need not be set: the settings they need this early are read section by section. A missing or broken file,
    or a variable not set, gives {} here; the run and `throughline check-config` report it with its place.
    """
    try:
        data = _read(config_path())
    except ConfigError:
        return {}
    section = data.get(name) if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return {}
    unresolved: list[tuple[tuple[str, ...], str]] = []
    section = _expand(section, [name], os.environ, unresolved)
    return {} if unresolved else section


_Settings = TypeVar("_Settings", bound=BaseModel)


def settings_section(model: type[_Settings], name: str) -> _Settings:
    """One settings section (``model`` validating ``name``); its defaults while the section is wrong, which the
    run and `throughline check-config` report."""
    try:
        return model.model_validate(raw_config_section(name))
    except ValidationError:
        return model()


def warehouse_path() -> Path:
    """THROUGHLINE_WAREHOUSE, else `warehouse.path` in throughline.yml, else DEFAULT_WAREHOUSE; absolute."""
    value = os.environ.get(WAREHOUSE_ENV_VAR) or settings_section(WarehouseConfig, "warehouse").path
    return Path(value).expanduser().resolve()


def schedule_config() -> ScheduleConfig:
    return settings_section(ScheduleConfig, "schedule")


def retention_config() -> RetentionConfig:
    return settings_section(RetentionConfig, "retention")


def extraction_config() -> ExtractionConfig:
    """Read at definitions load: the mode decides which raw assets exist."""
    return settings_section(ExtractionConfig, "extraction")


def warehouse_problems(path: Path, *, named_by: str = "field 'warehouse.path'") -> list[str]:
    """Why the run could not create or write the DuckDB file at ``path`` (nothing is created here)."""
    path = Path(path).expanduser()
    where = f"{named_by}: {path}"
    if path.is_dir():
        return [f"{where} is a directory; give a file inside it, e.g. {path / 'throughline.duckdb'}"]
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return [f"{where} cannot be created: {existing} is a file, not a directory; choose another path"]
    # DuckDB writes its write-ahead log beside the file: the directory must take new files, and the file (if
    # there) must open for writing. A probe says so where permission bits would not (root, a read-only mount).
    probe = existing
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".throughline-probe-"):
            pass
        if path.exists():
            probe = path
            with path.open("ab"):
                pass
    except OSError as exc:
        return [f"{where} is not writable by this user ({exc.strerror or exc.__class__.__name__}: {probe}); "
                "fix the permissions or choose another path"]
    return []


def check_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    warehouse: str | os.PathLike[str] | None = None,
):
    """What `throughline check-config` and `throughline run` check before any request: the file as
    load_config does, plus what only shows on this machine (at least one source, a warehouse path the run
    can write, CA bundles that exist). Every problem at once, one line each; returns the config."""
    env = os.environ if env is None else env
    path = Path(path) if path is not None else config_path()
    raw = _read(path)
    if raw is None:
        raise ConfigError(f"{path} is empty: add a `sources:` list (copy the blocks you need from "
                          "throughline.example.yml)")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: the file must be a mapping with a 'sources' list")
    config, lines = _problems(raw, env)
    if not raw.get("sources"):
        lines.append("field 'sources': no source is configured, so a run would read nothing; add at least one "
                     "(see throughline.example.yml)")
    for index, source in enumerate(raw.get("sources") if isinstance(raw.get("sources"), list) else []):
        options = source.get("options") if isinstance(source, dict) else None
        bundle = options.get("ca_bundle") if isinstance(options, dict) else None
        if isinstance(bundle, str) and "${" not in bundle and not Path(bundle).expanduser().is_file():
            lines.append(_describe(["sources", str(index), "options", "ca_bundle"],
                                   f"{bundle} is not a file; give the path of the CA's PEM file", raw))
    section = raw.get("warehouse") if isinstance(raw.get("warehouse"), dict) else {}
    if warehouse:
        lines += warehouse_problems(Path(warehouse), named_by=f"environment variable {WAREHOUSE_ENV_VAR}")
    elif "${" not in str(section.get("path") or ""):  # a path from a variable: its resolution is checked above
        lines += warehouse_problems(Path(str(section.get("path") or DEFAULT_WAREHOUSE)))
    if lines:
        raise ConfigError(f"{path} is not valid:\n  " + "\n  ".join(lines))
    return config
