"""The parts every source's config model is built from: a strict model, the named source entry, an http(s)
URL, the HTTP options the engine reads, the deployment rules dbt applies and an include/exclude glob scope.

A source type's own model (``connectors/<source>/config.py``) derives from these; connectors/config.py
only assembles the models the registry names into the `sources:` list, so it never imports a source.
"""

from __future__ import annotations

import re
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.core.http import DEADLINE_TIMEOUTS, DEFAULT_MAX_TOTAL_WAIT_SECONDS

# The name of a source instance: it prefixes partition keys (up to the first ':') and shard file names.
SOURCE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class StrictModel(BaseModel):
    """The base of every model of throughline.yml."""

    # An unknown key is almost always a typo of a known one: refuse it rather than ignore it.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(StrictModel):
    """Base of a source type's own config model (``SourceType.config_model``): strict like every model of
    throughline.yml and named. A subclass adds ``type: Literal["<its type>"]`` and its fields (``base_url``,
    ``auth``, ``scope``, ``options``: a subclass of ``HttpOptions`` for HTTP sources). docs/ADDING_A_SOURCE.md
    shows one.
    """

    name: str = Field(pattern=SOURCE_NAME_PATTERN, description="Unique name of this source instance.")


def check_regex(value: str) -> str:
    """A field validator's body for a regular expression written in throughline.yml."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"'{value}' is not a valid regular expression ({exc})") from None
    return value


def _check_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"'{value}' is not an http(s) URL; write it like https://your-host.example.com")
    return value.rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_check_url)]


def host_url(*api_paths: str, instead: str) -> Any:
    """A BaseUrl given without the API's own path, which the connector adds (GitLab's /api/v4): a URL that
    ends with one is refused, saying what to give ``instead``."""

    def no_api_path(value: str) -> str:
        for api_path in api_paths:
            if value.rstrip("/").endswith(api_path):
                raise ValueError(f"'{value}' ends with {api_path}; give {instead}")
        return value

    return Annotated[str, AfterValidator(_check_url), AfterValidator(no_api_path)]


class Scope(StrictModel):
    """What a source reads (projects, repositories, jobs ...): items listed by name in the field ``listed``,
    and/or found at run time, with credentials, through the fields ``found_by`` (an org's repositories).
    ``give_one`` is the advice when none of them is given; empty when an empty scope means "everything".
    The sharded extraction makes one partition per listed item (connectors/partitions.py)."""

    listed: ClassVar[str | None] = None
    found_by: ClassVar[tuple[str, ...]] = ()
    give_one: ClassVar[str] = ""

    @model_validator(mode="after")
    def _something(self) -> Scope:
        fields = (*([self.listed] if self.listed else []), *self.found_by)
        if self.give_one and not any(getattr(self, name) for name in fields):
            raise ValueError(self.give_one)
        return self


def each_matching(values: list[str], pattern: str, problem: str) -> list[str]:
    """A field validator's body for a list whose every item must match ``pattern``; ``problem`` follows the
    quoted item that does not (e.g. "is not owner/name (e.g. acme/payments-api)")."""
    for value in values:
        if not re.fullmatch(pattern, value):
            raise ValueError(f"'{value}' {problem}")
    return values


class GlobScope(Scope):
    """A scope whose items found at run time are kept when one of their names matches an `include` glob and
    none an `exclude` glob. Each subclass's docstring says which name the globs match."""

    include: list[str] = Field(default_factory=lambda: ["*"], description="Globs: only matching items are read.")
    exclude: list[str] = Field(default_factory=list, description="Globs: matching items are skipped.")

    def included(self, *names: str) -> bool:
        return any(fnmatchcase(name, glob) for name in names for glob in self.include)

    def excluded(self, *names: str) -> bool:
        return any(fnmatchcase(name, glob) for name in names for glob in self.exclude)

    def wanted(self, *names: str) -> bool:
        """One of the item's names (e.g. path and full path) is included and none is excluded."""
        return self.included(*names) and not self.excluded(*names)


class HttpOptions(StrictModel):
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
    max_total_wait_seconds: float = Field(
        DEFAULT_MAX_TOTAL_WAIT_SECONDS, gt=0,
        description="Most time one extraction step of the source may spend waiting (retry backoff, rate-limit "
        "sleeps, answers that were slow or never came); past it the source stops, keeping what it read.",
    )
    request_deadline_seconds: float | None = Field(
        None, gt=0,
        description="Most time one request may take in all, however the server paces its bytes (the timeout "
        f"only bounds one silence); default: {DEADLINE_TIMEOUTS:g} x timeout_seconds. Past it the request is retried.",
    )
    ca_bundle: str | None = Field(
        None,
        description="PEM file of the CA that signed the server's certificate (a private or corporate CA); "
        "default: the system's CAs, or REQUESTS_CA_BUNDLE.",
    )

    @field_validator("start_date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()  # YAML read by another loader turns 2024-01-01 into a date
        if isinstance(value, str):
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    raise ValueError("not in the form YYYY-MM-DD")
                date.fromisoformat(value)
            except ValueError as exc:
                raise ValueError(f"'{value}' is not a date ({exc}); write it as YYYY-MM-DD, e.g. 2024-02-29") from None
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _bundle_path(cls, value: str | None) -> str | None:
        return str(Path(value).expanduser()) if value else None  # requests does not expand ~

    @model_validator(mode="after")
    def _deadline_after_timeout(self) -> HttpOptions:
        if self.request_deadline_seconds is not None and self.request_deadline_seconds < self.timeout_seconds:
            raise ValueError(
                f"request_deadline_seconds ({self.request_deadline_seconds:g}) is shorter than timeout_seconds "
                f"({self.timeout_seconds:g}): every slow answer would be cut; raise it, or leave it out (default "
                f"{DEADLINE_TIMEOUTS:g} x timeout_seconds)"
            )
        return self


class DeploymentRules(StrictModel):
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

    _regex = field_validator("job_pattern", "environment_pattern", "rollback_pattern", "hotfix_pattern")(check_regex)

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
