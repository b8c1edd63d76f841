"""throughline.yml: the list of sources, validated in full before any request is made.

Credentials are written as ``${ENV_VAR}`` references and resolved here; the resolved values are
``SecretStr`` so that a repr, a log line or a validation error can never print them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.core.errors import ConfigError

CONFIG_ENV_VAR = "THROUGHLINE_CONFIG"
DEFAULT_CONFIG_PATH = "throughline.yml"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    # An unknown key is almost always a typo of a known one: refuse it rather than ignore it.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"'{value}' is not an http(s) URL; write it like https://your-host.example.com")
    return value.rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_check_url)]


class HttpOptions(_Strict):
    """How the engine talks to one source; defaults suit the public clouds."""

    lookback_hours: float = Field(3.0, ge=0, description="Re-read this much before the saved cursor.")
    page_size: int = Field(100, ge=1, le=5000)
    timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(6, ge=0, le=20)
    backoff_seconds: float = Field(1.0, ge=0, description="First retry wait; doubles each retry.")
    max_backoff_seconds: float = Field(120.0, ge=0)
    start_date: str | None = Field(
        None, description="First load reads from this date (YYYY-MM-DD); later loads are incremental."
    )

    @field_validator("start_date")
    @classmethod
    def _date(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(f"'{value}' is not a date; write it as YYYY-MM-DD")
        return value


class DeploymentRules(_Strict):
    """Which CI/CD runs count as deployments, where they deploy and what they deploy.

    One block per source (``options.deployments``); the defaults suit the usual naming (a job or stage
    called deploy-prod, release, rollout...). Applied in dbt (the var ``deployment_rules``, one entry per
    source), so changing a rule and rebuilding re-reads all history without reloading anything.
    """

    job_pattern: str = Field(
        r"deploy|release|rollout|promote",
        description="Regex (case-insensitive, searched anywhere) on the job, stage or workflow name: a match "
        "is a deployment. Sources with a deployments API (GitLab, GitHub) use their deployments instead.",
    )
    branches: list[str] = Field(
        default_factory=list,
        description="Only runs of these branches (globs, e.g. main, release/*) count; empty: any branch.",
    )
    environment_pattern: str = Field(
        r"\b(production|prod|prd|live|staging|stage|stg|qa|uat|test|dev|preview)\b",
        description="Regex (case-insensitive) on the job/stage/workflow name whose first group names the "
        "environment when the source does not say it.",
    )
    default_environment: str = Field(
        "production", description="Environment of a deployment job whose name names none."
    )
    production_environments: list[str] = Field(
        default_factory=lambda: ["production", "prod", "prd", "live"],
        description="Environments (case-insensitive) that count as production; several may.",
    )
    services: dict[str, str] = Field(
        default_factory=dict,
        description="Scope (repository, project or job full name; globs allowed) -> service it deploys. "
        "Unlisted scopes deploy a service named after the scope. Give two sources' scopes the same service "
        "and a deployment both report (same service, environment and sha) is counted once.",
    )
    rollback_pattern: str = Field(
        r"rollback|roll back|revert",
        description="Regex (case-insensitive) on the job/stage/workflow/deployment name or ref: a rollback.",
    )
    hotfix_pattern: str = Field(
        r"hotfix|hot-fix",
        description="Regex (case-insensitive) on the name, ref or branch: a hotfix (unplanned) deployment.",
    )

    @field_validator("job_pattern", "environment_pattern", "rollback_pattern", "hotfix_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"'{value}' is not a valid regular expression ({exc})") from None
        return value

    def for_dbt(self) -> dict[str, Any]:
        """The rules as the dbt var `deployment_rules` carries them (names compared in lower case)."""
        return {
            "job_pattern": self.job_pattern,
            "branches": list(self.branches),
            "environment_pattern": self.environment_pattern,
            "default_environment": self.default_environment.lower(),
            "production_environments": sorted({e.strip().lower() for e in self.production_environments if e.strip()}),
            "services": dict(self.services),
            "rollback_pattern": self.rollback_pattern,
            "hotfix_pattern": self.hotfix_pattern,
        }


class JiraAuth(_Strict):
    email: str | None = None
    api_token: SecretStr | None = Field(None, description="Jira Cloud API token (with email).")
    token: SecretStr | None = Field(None, description="Data Center / Server personal access token.")

    @model_validator(mode="after")
    def _one_method(self) -> JiraAuth:
        if self.token is None and (self.email is None or self.api_token is None):
            raise ValueError("give either email + api_token (Jira Cloud) or token (Data Center PAT)")
        return self


class JiraScope(_Strict):
    projects: list[str] = Field(min_length=1, description="Project keys to load.")


class JiraOptions(HttpOptions):
    story_points_field: str | None = Field(
        None,
        description="Custom field id holding story points; by default found by name ('Story Points', "
        "'Story point estimate') through /field.",
    )
    extra_fields: list[str] = Field(default_factory=list, description="More issue fields to keep in raw.")
    drop_user_names: bool = Field(
        False, description="Store people as account ids only: drop display names, e-mails and avatars."
    )
    reconcile_every_days: float = Field(
        7, ge=0, description="How often a keys-only search looks for deleted or moved issues (0: every run)."
    )

    @field_validator("story_points_field")
    @classmethod
    def _field_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"customfield_\d+", value):
            raise ValueError(
                f"'{value}' is not a custom field id; write it like customfield_10016 (GET /rest/api/3/field lists them)"
            )
        return value


class JiraSource(_Strict):
    type: Literal["jira"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    base_url: BaseUrl
    flavour: Literal["cloud", "datacenter"] = "cloud"
    auth: JiraAuth
    scope: JiraScope
    options: JiraOptions = JiraOptions()



class GitHubAuth(_Strict):
    token: SecretStr | None = Field(None, description="Personal access token (classic or fine-grained).")
    tokens: list[SecretStr] = Field(
        default_factory=list,
        description="More tokens of the same access; requests are spread over all of them, and when one's "
        "hourly quota is used up the others carry on.",
    )

    app_id: str | None = Field(None, description="GitHub App id (with private_key): the connector acts as the app.")
    private_key: SecretStr | None = Field(None, description="The app's PEM private key, e.g. ${GITHUB_APP_KEY}.")
    installation_id: int | None = Field(
        None, description="The app's installation on the org or user; found through the scope when omitted."
    )

    @model_validator(mode="after")
    def _some_token(self) -> GitHubAuth:
        app = self.app_id is not None or self.private_key is not None
        if app and (self.app_id is None or self.private_key is None):
            raise ValueError("a GitHub App needs both app_id and private_key")
        if app and self.private_key is not None and "PRIVATE KEY" not in self.private_key.get_secret_value():
            raise ValueError("private_key is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
        if self.token is None and not self.tokens and not app:
            raise ValueError("give token (or a list under tokens), or a GitHub App's app_id and private_key")
        return self

    def secrets(self) -> list[str]:
        values = ([self.token] if self.token is not None else []) + list(self.tokens)
        return list(dict.fromkeys(v.get_secret_value() for v in values))


class GitHubScope(_Strict):
    repos: list[str] = Field(default_factory=list, description="owner/name of each repository.")
    org: str | None = Field(None, description="Load every repository of this organisation...")
    include: list[str] = Field(default_factory=lambda: ["*"], description="...whose name matches a glob here")
    exclude: list[str] = Field(default_factory=list, description="...and none here.")
    include_archived: bool = False

    @field_validator("repos")
    @classmethod
    def _owner_name(cls, repos: list[str]) -> list[str]:
        for repo in repos:
            if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
                raise ValueError(f"'{repo}' is not owner/name (e.g. acme/payments-api)")
        return repos

    @model_validator(mode="after")
    def _something(self) -> GitHubScope:
        if not self.repos and not self.org:
            raise ValueError("list repos, or give an org (with include/exclude globs)")
        return self


class GitHubOptions(HttpOptions):
    max_rate_limit_wait_seconds: float = Field(
        900, ge=0,
        description="When every token's quota is used up, sleep to the reset if it is at most this far away; "
        "otherwise stop (what was read is saved).",
    )
    conditional_requests: bool = Field(
        True, description="Send the ETag of each list page read last time; an unchanged page (304) costs no quota."
    )
    max_concurrent_repos: int = Field(
        4, ge=1, le=32,
        description="Repositories read at the same time, each in its own thread and HTTP session; every "
        "warehouse write still goes one at a time. 1 reads them one after another.",
    )
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which deployments count as production, which service each repository deploys, and how "
        "rollbacks and hotfixes are recognised. Deployments to a production environment also get a change "
        "set: the commits since the previous deployment of that environment, from the compare API.",
    )
    incident_labels: list[str] = Field(
        default_factory=lambda: ["incident"],
        description="Issues with one of these labels (case-insensitive) are incidents (passed to dbt as the "
        "var github_incident_labels).",
    )


class GitHubSource(_Strict):
    type: Literal["github"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    base_url: BaseUrl = "https://api.github.com"
    auth: GitHubAuth
    scope: GitHubScope
    options: GitHubOptions = GitHubOptions()



# New source models are added to this union (one line each, above the marker): see docs/ARCHITECTURE.md.
Source = Annotated[
    JiraSource
    | GitHubSource,
    # <source models: add `| YourSource` above this line>
    Field(discriminator="type"),
]


class WarehouseConfig(_Strict):
    path: str = "warehouse/throughline.duckdb"


class ScheduleConfig(_Strict):
    cron: str = "0 2 * * *"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value


class ThroughlineConfig(_Strict):
    warehouse: WarehouseConfig = WarehouseConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    sources: list[Source] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> ThroughlineConfig:
        seen: set[str] = set()
        for source in self.sources:
            if source.name in seen:
                raise ValueError(f"two sources are named '{source.name}'; names must be unique")
            seen.add(source.name)
        return self

    def sources_of(self, source_type: str) -> list[Any]:
        return [s for s in self.sources if s.type == source_type]


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH))


def _expand(value: Any, where: list[str], env: Mapping[str, str], problems: list[str], raw: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, [*where, str(k)], env, problems, raw) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, [*where, str(i)], env, problems, raw) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(_describe(where, f"environment variable {name} is not set; export it before running", raw))
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


def parse_config(raw: Mapping[str, Any], *, origin: str = "throughline.yml", env: Mapping[str, str] | None = None):
    """Validate a loaded YAML mapping; every problem is reported at once, each on its own line."""
    env = os.environ if env is None else env
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{origin}: the file must be a mapping with a 'sources' list")
    problems: list[str] = []
    expanded = _expand(dict(raw), [], env, problems, raw)
    if problems:
        raise ConfigError(f"{origin}: " + "\n  ".join(["cannot resolve credentials:", *problems]))
    try:
        return ThroughlineConfig.model_validate(expanded)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False, include_input=False):
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown key; remove it or fix its spelling (see throughline.example.yml)"
            elif err["type"] == "missing":
                message = "required but missing"
            elif message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            lines.append(_describe(err["loc"], message, raw))
        raise ConfigError(f"{origin} is not valid:\n  " + "\n  ".join(lines)) from None


def load_config(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None):
    path = Path(path) if path is not None else config_path()
    if not path.exists():
        raise ConfigError(
            f"no configuration at {path}: copy throughline.example.yml to throughline.yml, "
            f"or point {CONFIG_ENV_VAR} at your file"
        )
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(raw, origin=str(path), env=env)
