"""One `type: jenkins` entry of throughline.yml: the root URL, a user's API token, folders and options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from connectors.core.options import BaseUrl, DeploymentRules, GlobScope, HttpOptions, SourceConfig, StrictModel


class JenkinsAuth(StrictModel):
    user: str = Field(min_length=1, description="The Jenkins user the API token belongs to.")
    api_token: SecretStr = Field(description="That user's API token (JENKINS_URL/me/configure > API Token).")


class JenkinsScope(GlobScope):
    """The jobs below some folders (or the whole instance); the globs match job full names, and an excluded
    folder is not walked."""

    folders: list[str] = Field(
        default_factory=list,
        description="Folders (full names, e.g. acme or acme/payments-api) walked with everything below them; "
        "empty: the whole instance.",
    )

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


class JenkinsSource(SourceConfig):
    type: Literal["jenkins"]
    base_url: BaseUrl = Field(description="The Jenkins root URL, e.g. https://jenkins.acme.internal (or .../jenkins).")
    auth: JenkinsAuth
    scope: JenkinsScope = JenkinsScope()
    options: JenkinsOptions = JenkinsOptions()
