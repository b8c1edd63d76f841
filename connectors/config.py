"""throughline.yml: the list of sources, validated in full before any request is made.

Credentials are written as ``${ENV_VAR}`` references and resolved here; the resolved values are
``SecretStr`` so that a repr, a log line or a validation error can never print them.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union
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
from connectors.core.http import DEADLINE_TIMEOUTS, DEFAULT_MAX_TOTAL_WAIT_SECONDS

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
    incident_issue_types: list[str] = Field(
        default_factory=lambda: ["Incident"],
        description="Issues of these types (case-insensitive) are incidents for the DORA marts.",
    )
    incident_labels: list[str] = Field(
        default_factory=lambda: ["incident"],
        description="Issues with one of these labels (case-insensitive) are incidents too.",
    )
    incident_fields: dict[Literal["service", "severity", "caused_by_deployment", "root_cause_sha"], str] = Field(
        default_factory=dict,
        description="Custom fields incidents are read from, e.g. {root_cause_sha: customfield_10100} (loaded as "
        "extra_fields). Without them: service from a `service:<name>` label or the first component, severity "
        "from the priority.",
    )
    incident_cause_link: str = Field(
        "caused by",
        description="Regex (case-insensitive) on an incident's link relationship naming the issue whose change "
        "caused it; that issue's pull request's first production deployment is then the cause.",
    )

    @model_validator(mode="before")
    @classmethod
    def _load_incident_fields(cls, data: Any) -> Any:
        # The connector asks for issue fields by name; a field the incident rules read must be among them.
        if isinstance(data, dict) and isinstance(data.get("incident_fields"), dict):
            extra = list(data.get("extra_fields") or [])
            wanted = [f for f in data["incident_fields"].values() if isinstance(f, str) and f not in extra]
            data = {**data, "extra_fields": extra + list(dict.fromkeys(wanted))}
        return data

    @field_validator("incident_fields")
    @classmethod
    def _incident_field_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for role, field_id in value.items():
            if not re.fullmatch(r"customfield_\d+|[a-z][A-Za-z]*", field_id):
                raise ValueError(
                    f"{role}: '{field_id}' is not a field id; write it like customfield_10100 "
                    "(GET /rest/api/3/field lists them)"
                )
        return value

    @field_validator("incident_cause_link")
    @classmethod
    def _cause_link_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"'{value}' is not a valid regular expression ({exc})") from None
        return value

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

    @model_validator(mode="after")
    def _waits_fit(self) -> GitHubOptions:
        if self.max_rate_limit_wait_seconds > self.max_total_wait_seconds:
            raise ValueError(
                f"max_rate_limit_wait_seconds ({self.max_rate_limit_wait_seconds:g}) is longer than "
                f"max_total_wait_seconds ({self.max_total_wait_seconds:g}), so a rate-limit wait it allows would "
                "stop the source anyway: raise max_total_wait_seconds or lower max_rate_limit_wait_seconds"
            )
        return self


class GitHubSource(_Strict):
    type: Literal["github"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    base_url: BaseUrl = "https://api.github.com"
    auth: GitHubAuth
    scope: GitHubScope
    options: GitHubOptions = GitHubOptions()



class GitLabAuth(_Strict):
    token: SecretStr = Field(description="Personal, group or project access token with read_api.")
    header: Literal["private-token", "bearer"] = Field(
        "private-token", description="Send it as `PRIVATE-TOKEN: <token>` or as `Authorization: Bearer <token>` (OAuth)."
    )


class GitLabScope(_Strict):
    projects: list[str] = Field(default_factory=list, description="Full paths of projects (group/sub/name).")
    groups: list[str] = Field(default_factory=list, description="Load every project of these groups...")
    include: list[str] = Field(default_factory=lambda: ["*"], description="...whose path or full path matches a glob here")
    exclude: list[str] = Field(default_factory=list, description="...and none here.")
    include_subgroups: bool = True
    include_archived: bool = False

    @field_validator("projects", "groups")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", path):
                raise ValueError(f"'{path}' is not a GitLab path (e.g. acme/payments/api, without the host)")
        return paths

    @model_validator(mode="after")
    def _something(self) -> GitLabScope:
        if not self.projects and not self.groups:
            raise ValueError("list projects (full paths), or groups (with include/exclude globs)")
        return self


class GitLabOptions(HttpOptions):
    issue_type: str | None = Field(
        "incident",
        description="Issues of this type are read (GitLab incidents are issues of type `incident`); null reads "
        "every issue.",
    )
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which environments are production, which service each project deploys, and how rollbacks "
        "and hotfixes are recognised. Deployments come from GitLab's deployments API, so job_pattern, "
        "branches and environment_pattern are not needed.",
    )


class GitLabSource(_Strict):
    type: Literal["gitlab"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    base_url: BaseUrl = Field("https://gitlab.com", description="The instance, without /api/v4.")
    auth: GitLabAuth
    scope: GitLabScope
    options: GitLabOptions = GitLabOptions()

    @field_validator("base_url")
    @classmethod
    def _no_api_suffix(cls, value: str) -> str:
        if value.rstrip("/").endswith("/api/v4"):
            raise ValueError(f"'{value}' ends with /api/v4; give the instance URL only (e.g. https://gitlab.com)")
        return value


class EventsInput(_Strict):
    """Where one kind of event (deployments or incidents) is read from: a folder of files, or one table."""

    path: str | None = Field(
        None, description="Folder of CSV and/or JSONL files (relative paths are relative to the working directory)."
    )
    glob: list[str] = Field(
        default_factory=lambda: ["*.csv", "*.jsonl"],
        description="Which files of the folder are read (globs relative to it; `**/*.csv` descends).",
    )
    table: str | None = Field(
        None,
        description="One table instead of a folder: a Parquet file (`exports/deploys.parquet`) or a DuckDB "
        "table (`duckdb:path/file.duckdb:schema.table`).",
    )

    @field_validator("glob")
    @classmethod
    def _globs(cls, globs: list[str]) -> list[str]:
        if not globs:
            raise ValueError("give at least one glob, e.g. ['*.csv', '*.jsonl']")
        for pattern in globs:
            if pattern.startswith("/") or ".." in Path(pattern).parts:
                raise ValueError(f"'{pattern}' must be relative to the folder (e.g. *.csv or exports/*.jsonl)")
        return globs

    @field_validator("table")
    @classmethod
    def _table(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value.startswith("duckdb:"):
            if not re.fullmatch(r"duckdb:.+:([A-Za-z_]\w*\.)?[A-Za-z_]\w*", value):
                raise ValueError(
                    f"'{value}' is not a DuckDB table reference; write it as duckdb:path/file.duckdb:schema.table"
                )
        elif not value.lower().endswith(".parquet"):
            raise ValueError(
                f"'{value}' is neither a .parquet file nor duckdb:path/file.duckdb:schema.table; for CSV or "
                "JSONL files give their folder as `path`"
            )
        return value

    @model_validator(mode="after")
    def _one_place(self) -> EventsInput:
        if (self.path is None) == (self.table is None):
            raise ValueError("give either path (a folder of CSV/JSONL files) or table (Parquet or DuckDB), not both")
        return self


class EventsOptions(_Strict):
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which environments are production and which service each `service` value is counted as "
        "(services: {name or glob: service}); rollback_pattern/hotfix_pattern apply to the row's name and "
        "version when it has no is_rollback/is_hotfix. job_pattern, branches and environment_pattern are not used: "
        "every row is a deployment and names its environment.",
    )


class EventsSource(_Strict):
    """Deployments and incidents from files or a table, for systems without a connector (docs/sources/events.md)."""

    type: Literal["events"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    deployments: EventsInput | None = Field(None, description="Where the deployment events are.")
    incidents: EventsInput | None = Field(None, description="Where the incident events are.")
    options: EventsOptions = EventsOptions()

    @model_validator(mode="after")
    def _something(self) -> EventsSource:
        if self.deployments is None and self.incidents is None:
            raise ValueError("give deployments and/or incidents, each with a path (folder) or a table")
        return self


class CircleCIAuth(_Strict):
    token: SecretStr = Field(description="Personal API token (sent as the Circle-Token header); read access suffices.")


class CircleCIScope(_Strict):
    projects: list[str] = Field(default_factory=list, description="Project slugs `<vcs>/<org>/<repo>` (gh/acme/checkout).")
    org: str | None = Field(None, description="Every project of this org the token's user follows (gh/acme)...")
    include: list[str] = Field(default_factory=lambda: ["*"], description="...whose repository name matches a glob here")
    exclude: list[str] = Field(default_factory=list, description="...and none here.")

    @field_validator("projects")
    @classmethod
    def _slugs(cls, slugs: list[str]) -> list[str]:
        for slug in slugs:
            if not re.fullmatch(r"(gh|github|bb|bitbucket|circleci)/[\w.-]+/[\w.-]+", slug):
                raise ValueError(f"'{slug}' is not a project slug; write it as gh/<org>/<repo> (or bb/..., circleci/...)")
        return slugs

    @field_validator("org")
    @classmethod
    def _org(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"(gh|github|bb|bitbucket)/[\w.-]+", value):
            raise ValueError(f"'{value}' is not an org slug; write it as gh/<org> (or bb/<workspace>)")
        return value

    @model_validator(mode="after")
    def _something(self) -> CircleCIScope:
        if not self.projects and not self.org:
            raise ValueError("list projects (gh/<org>/<repo>), or give an org (with include/exclude globs)")
        return self


class CircleCIOptions(HttpOptions):
    recheck_unfinished_days: float = Field(
        14, ge=0,
        description="Workflows still running, failing or on hold when last read are read again while their "
        "pipeline is younger than this (an approval may wait for days); 0 turns the re-check off.",
    )
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which jobs (or workflows) deploy, to which environment, which service each project "
        "deploys, and how rollbacks and hotfixes are recognised.",
    )


class CircleCISource(_Strict):
    type: Literal["circleci"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    base_url: BaseUrl = Field("https://circleci.com", description="The host (server installs: yours), without /api/v2.")
    auth: CircleCIAuth
    scope: CircleCIScope
    options: CircleCIOptions = CircleCIOptions()

    @field_validator("base_url")
    @classmethod
    def _no_api_suffix(cls, value: str) -> str:
        if re.search(r"/api/v(1\.1|2)$", value.rstrip("/")):
            raise ValueError(f"'{value}' ends with the API path; give the host only (e.g. https://circleci.com)")
        return value


class JenkinsAuth(_Strict):
    user: str = Field(min_length=1, description="The Jenkins user the API token belongs to.")
    api_token: SecretStr = Field(description="That user's API token (JENKINS_URL/me/configure > API Token).")


class JenkinsScope(_Strict):
    folders: list[str] = Field(
        default_factory=list,
        description="Folders (full names, e.g. acme or acme/payments-api) walked with everything below them; "
        "empty: the whole instance.",
    )
    include: list[str] = Field(default_factory=lambda: ["*"], description="Globs on job full names to read ...")
    exclude: list[str] = Field(default_factory=list, description="... and to skip (a matching folder is not walked).")

    @field_validator("folders")
    @classmethod
    def _full_names(cls, folders: list[str]) -> list[str]:
        for folder in folders:
            if not folder.strip("/") or "/job/" in f"/{folder}":
                raise ValueError(f"'{folder}' is not a folder full name; write it like acme/payments-api, "
                                 "not as a URL path")
        return [folder.strip("/") for folder in folders]


class JenkinsOptions(HttpOptions):
    max_folder_depth: int = Field(
        10, ge=1, le=50, description="How deep folders, organization folders and multibranch projects are walked."
    )
    read_stages: bool = Field(
        True, description="Read the stages of each pipeline build (wfapi/describe, one request per build)."
    )
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which builds or pipeline stages deploy (job_pattern on the stage name, or on the job full "
        "name of a build without stages), to which environment, which service each job deploys "
        "(services: job full name glob -> service), and how rollbacks and hotfixes are recognised.",
    )


class JenkinsSource(_Strict):
    type: Literal["jenkins"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    base_url: BaseUrl = Field(description="The Jenkins root URL, e.g. https://jenkins.acme.internal (or .../jenkins).")
    auth: JenkinsAuth
    scope: JenkinsScope = JenkinsScope()
    options: JenkinsOptions = JenkinsOptions()


class OutcomesOptions(_Strict):
    """The outcomes source has no options yet; the block exists because every source has one (pipelines read it)."""


class OutcomesSource(_Strict):
    """KPI series, key results, their check-ins and team surveys from files or tables (docs/sources/outcomes.md)."""

    type: Literal["outcomes"]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kpis: EventsInput | None = Field(None, description="KPI values: kpi, observed_on, value, value_stream/product.")
    key_results: EventsInput | None = Field(None, description="Objectives' key results with targets and links to work.")
    key_result_values: EventsInput | None = Field(None, description="Key result check-ins: key_result_id, observed_on, value.")
    surveys: EventsInput | None = Field(None, description="Team survey results: team, surveyed_on, dimension, score.")
    options: OutcomesOptions = OutcomesOptions()

    @model_validator(mode="after")
    def _needs_an_input(self) -> OutcomesSource:
        if all(getattr(self, k) is None for k in ("kpis", "key_results", "key_result_values", "surveys")):
            raise ValueError("give at least one of kpis, key_results, key_result_values, surveys, each with a path "
                             "(folder) or a table")
        return self


# New source models are added to this union (one line each, above the marker): see docs/ARCHITECTURE.md.
_SOURCE_MODELS = (
    JiraSource,
    CircleCISource,
    GitLabSource,
    EventsSource,
    JenkinsSource,
    GitHubSource,
    OutcomesSource,
    # <source models: add `YourSource,` above this line>
)
Source = Annotated[Union[_SOURCE_MODELS], Field(discriminator="type")]  # noqa: UP007 - a union of a tuple


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


class WebhookAlert(_Strict):
    # The URL itself is the credential of a Slack or Teams incoming webhook: a secret like a token.
    webhook_url: SecretStr


class EmailAlert(_Strict):
    smtp_host: str
    smtp_port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS (port 587); false for a local relay.")
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    recipients: list[str] = Field(min_length=1)


class AlertsConfig(_Strict):
    """Where a failed run, stale data or a failed mart test is reported; nothing configured: logs only."""

    slack: WebhookAlert | None = None
    teams: WebhookAlert | None = None
    email: EmailAlert | None = None


class FreshnessConfig(_Strict):
    """How old data may be before it counts as stale (hours since the last successful read or build)."""

    raw_hours: float = Field(36.0, gt=0, description="Each raw stream; a nightly load leaves a day's margin.")
    marts_hours: float = Field(36.0, gt=0, description="Each mart, since its last build.")
    sources: dict[str, float] = Field(
        default_factory=dict, description="Per source name, overriding raw_hours (e.g. a weekly export: 192)."
    )

    def limit_for(self, source_name: str) -> float:
        return self.sources.get(source_name, self.raw_hours)


class RetentionConfig(_Strict):
    """Weekly compaction of the working warehouse (operations/compact.py)."""

    compact_cron: str = Field("0 4 * * 0", description="When to compact, in schedule.timezone (Sunday 04:00).")
    run_report_days: int = Field(400, ge=1, description="Run-report rows (ops.stream_runs) kept this many days.")


class ExtractionConfig(_Strict):
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


class ThroughlineConfig(_Strict):
    warehouse: WarehouseConfig = WarehouseConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    alerts: AlertsConfig = AlertsConfig()
    freshness: FreshnessConfig = FreshnessConfig()
    retention: RetentionConfig = RetentionConfig()
    extraction: ExtractionConfig = ExtractionConfig()

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # A section whose keys are all commented out (`alerts:` alone) is YAML null: its defaults apply.
        if isinstance(data, dict):
            # `sources:` with every entry commented out is no list either; check_config says none is configured.
            return {k: (([] if k == "sources" else {}) if v is None else v) for k, v in data.items()}
        return data
    sources: list[Source] = Field(default_factory=list)

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


# <plugin source types (connectors/registry.py): the models of source types that carry their own>
_CONFIG_MODELS: dict[tuple[type[BaseModel], ...], type[ThroughlineConfig]] = {}


def _config_model() -> type[ThroughlineConfig]:
    """ThroughlineConfig whose `sources` also take every source type with its own `config_model` (in-repo
    ones added by the source kit, and installed plugins): no edit to the union above for a new source."""
    from pydantic import create_model

    from connectors.registry import source_types  # late: the registry imports the connectors, which import us

    extra = tuple(t.config_model for t in source_types().values()
                  if t.config_model is not None and t.config_model not in _SOURCE_MODELS)
    if not extra:
        return ThroughlineConfig
    if extra not in _CONFIG_MODELS:
        entry = Annotated[Union[(*_SOURCE_MODELS, *extra)], Field(discriminator="type")]  # noqa: UP007
        _CONFIG_MODELS[extra] = create_model(
            "ThroughlineConfig", __base__=ThroughlineConfig, sources=(list[entry], Field(default_factory=list))
        )
    return _CONFIG_MODELS[extra]
# </plugin source types>


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
        config = _config_model().model_validate(expanded)
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
            elif err["type"] == "union_tag_invalid":  # <plugin source types: unknown `type`>
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


def read_yaml(text: str) -> Any:
    """throughline.yml's text as data; dates stay strings. Raises yaml.YAMLError."""
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
        lines += warehouse_problems(Path(warehouse), named_by="environment variable THROUGHLINE_WAREHOUSE")
    elif "${" not in str(section.get("path") or ""):  # a path from a variable: its resolution is checked above
        lines += warehouse_problems(Path(str(section.get("path") or WarehouseConfig().path)))
    if lines:
        raise ConfigError(f"{path} is not valid:\n  " + "\n  ".join(lines))
    return config
