"""One `type: jira` entry of throughline.yml: Jira Cloud or Data Center, its credentials, projects and options."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.core.options import BaseUrl, HttpOptions, Scope, SourceConfig, StrictModel, check_regex


class JiraAuth(StrictModel):
    email: str | None = None
    api_token: SecretStr | None = Field(None, description="Jira Cloud API token (with email).")
    token: SecretStr | None = Field(None, description="Data Center / Server personal access token.")

    @model_validator(mode="after")
    def _one_method(self) -> JiraAuth:
        if self.token is None and (self.email is None or self.api_token is None):
            raise ValueError("give either email + api_token (Jira Cloud) or token (Data Center PAT)")
        return self


class JiraScope(Scope):
    listed = "projects"

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

    _cause_link_regex = field_validator("incident_cause_link")(check_regex)

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

    @field_validator("story_points_field")
    @classmethod
    def _field_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"customfield_\d+", value):
            raise ValueError(
                f"'{value}' is not a custom field id; write it like customfield_10016 (GET /rest/api/3/field lists them)"
            )
        return value


class JiraSource(SourceConfig):
    type: Literal["jira"]
    base_url: BaseUrl
    flavour: Literal["cloud", "datacenter"] = "cloud"
    auth: JiraAuth
    scope: JiraScope
    options: JiraOptions = JiraOptions()
